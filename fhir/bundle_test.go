package fhir

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"testing"
)

// referenceBundle is MarshalBundle written with encoding/json alone.
func referenceBundle(typ string, total *int, links []Link, entries []BundleEntryOut) []byte {
	b := struct {
		ResourceType string      `json:"resourceType"`
		Type         string      `json:"type"`
		Total        *int        `json:"total,omitempty"`
		Link         []Link      `json:"link,omitempty"`
		Entry        []entryJSON `json:"entry,omitempty"`
	}{ResourceType: "Bundle", Type: typ, Total: total, Link: links}
	for _, e := range entries {
		ej := entryJSON{FullURL: e.FullURL, Resource: e.Resource, Request: e.Request, Response: e.Response}
		if e.SearchMode != "" || e.SearchScore != nil {
			ej.Search = &struct {
				Extension []json.RawMessage `json:"extension,omitempty"`
				Mode      string            `json:"mode,omitempty"`
				Score     *float64          `json:"score,omitempty"`
			}{Extension: e.Extension, Mode: e.SearchMode, Score: e.SearchScore}
		}
		b.Entry = append(b.Entry, ej)
	}
	// encoding/json without HTML escaping, as MarshalBundle writes links
	// and URLs.
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(b)
	return bytes.TrimRight(buf.Bytes(), "\n")
}

func TestMarshalBundleMatchesEncodingJSON(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	pick := func(xs ...string) string { return xs[r.IntN(len(xs))] }
	for i := 0; i < 2000; i++ {
		var entries []BundleEntryOut
		for j := r.IntN(5); j > 0; j-- {
			e := BundleEntryOut{FullURL: pick("", "https://x/fhir/Patient/1", `odd "quoted" & <url>`)}
			if r.IntN(4) > 0 {
				e.Resource = json.RawMessage(fmt.Sprintf(`{"resourceType":"Patient","id":"%d","active":true}`, r.IntN(100)))
			}
			e.SearchMode = pick("", "match", "include", "outcome")
			if r.IntN(2) == 0 {
				s := r.Float64() * []float64{1, 1e-9, 1e22}[r.IntN(3)]
				e.SearchScore = &s
			}
			for k := r.IntN(3); k > 0; k-- {
				e.Extension = append(e.Extension, json.RawMessage(`{"url":"u","valueDecimal":1.5}`))
			}
			if r.IntN(3) == 0 {
				e.Request = &EntryRequest{Method: pick("POST", "PUT"), URL: pick("Patient", `Patient/"1"`)}
			}
			if r.IntN(3) == 0 {
				e.Response = &EntryResponse{Status: "201 Created", Location: "Patient/1/_history/1", Outcome: json.RawMessage(`{"resourceType":"OperationOutcome"}`)}
			}
			entries = append(entries, e)
		}
		var total *int
		if r.IntN(2) == 0 {
			n := r.IntN(1000)
			total = &n
		}
		var links []Link
		if r.IntN(2) == 0 {
			links = []Link{{Relation: "self", URL: "https://x/fhir/Patient?name=a&b=<c>"}}
		}
		typ := pick("searchset", "transaction-response", "batch-response", "history")
		got, want := MarshalBundle(typ, total, links, entries), referenceBundle(typ, total, links, entries)
		if !bytes.Equal(got, want) || !json.Valid(got) {
			t.Fatalf("case %d:\n got %s\nwant %s", i, got, want)
		}
	}
}

func TestBundleLinksKeepAmpersands(t *testing.T) {
	total := 3
	b := MarshalBundle("searchset", &total, []Link{{Relation: "self", URL: "http://x/fhir/Patient?_count=1&_offset=2"}}, nil)
	if !bytes.Contains(b, []byte(`?_count=1&_offset=2"`)) {
		t.Fatalf("link escaped: %s", b)
	}
	var v map[string]any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
}
