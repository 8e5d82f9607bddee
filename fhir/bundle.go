package fhir

import (
	"encoding/json"
	"fmt"

	"github.com/dischargegateway/gateway/discharge"
)

// Link is a Bundle link.
type Link struct {
	Relation string `json:"relation"`
	URL      string `json:"url"`
}

// EntryResponse is a transaction-response or batch-response entry's
// response.
type EntryResponse struct {
	Status       string          `json:"status"`
	Location     string          `json:"location,omitempty"`
	Etag         string          `json:"etag,omitempty"`
	LastModified string          `json:"lastModified,omitempty"`
	Outcome      json.RawMessage `json:"outcome,omitempty"`
}

// BundleEntryOut is one entry of a Bundle the gateway writes. Resource is
// raw JSON, so stored resources are not decoded and encoded again.
type BundleEntryOut struct {
	FullURL     string
	Resource    json.RawMessage
	SearchMode  string
	SearchScore *float64
	Response    *EntryResponse
	Extension   []json.RawMessage // on the entry's search element
}

type entryJSON struct {
	FullURL  string          `json:"fullUrl,omitempty"`
	Resource json.RawMessage `json:"resource,omitempty"`
	Search   *struct {
		Extension []json.RawMessage `json:"extension,omitempty"`
		Mode      string            `json:"mode,omitempty"`
		Score     *float64          `json:"score,omitempty"`
	} `json:"search,omitempty"`
	Response *EntryResponse `json:"response,omitempty"`
}

// MarshalBundle renders a Bundle of type typ. total is left out when nil.
func MarshalBundle(typ string, total *int, links []Link, entries []BundleEntryOut) []byte {
	b := struct {
		ResourceType string      `json:"resourceType"`
		Type         string      `json:"type"`
		Total        *int        `json:"total,omitempty"`
		Link         []Link      `json:"link,omitempty"`
		Entry        []entryJSON `json:"entry,omitempty"`
	}{ResourceType: "Bundle", Type: typ, Total: total, Link: links}
	for _, e := range entries {
		ej := entryJSON{FullURL: e.FullURL, Resource: e.Resource, Response: e.Response}
		if e.SearchMode != "" || e.SearchScore != nil {
			ej.Search = &struct {
				Extension []json.RawMessage `json:"extension,omitempty"`
				Mode      string            `json:"mode,omitempty"`
				Score     *float64          `json:"score,omitempty"`
			}{Extension: e.Extension, Mode: e.SearchMode, Score: e.SearchScore}
		}
		b.Entry = append(b.Entry, ej)
	}
	out, _ := json.Marshal(b)
	return out
}

// InEntry is one entry of a transaction or batch Bundle.
type InEntry struct {
	FullURL     string
	Resource    json.RawMessage
	Method      string
	URL         string
	IfNoneExist string
	IfMatch     string
}

// ParseBundleEntries reads the entries of a validated transaction or batch
// Bundle (decoded with UseNumber). Each needs a request with a method and a
// url; fullUrls must be unique.
func ParseBundleEntries(doc map[string]any) ([]InEntry, error) {
	es, _ := doc["entry"].([]any)
	out := make([]InEntry, 0, len(es))
	var issues discharge.Issues
	seen := map[string]int{}
	for i, e := range es {
		at := fmt.Sprintf("Bundle.entry[%d]", i)
		em, _ := e.(map[string]any)
		var in InEntry
		in.FullURL, _ = em["fullUrl"].(string)
		if in.FullURL != "" {
			if j, dup := seen[in.FullURL]; dup {
				issues.Add(discharge.KindStructure, at+".fullUrl", fmt.Sprintf("The fullUrl repeats entry %d's.", j))
			}
			seen[in.FullURL] = i
		}
		if r, ok := em["resource"]; ok {
			raw, err := json.Marshal(r)
			if err != nil {
				return nil, discharge.Wrap(discharge.KindInternal, "bundle entry", err)
			}
			in.Resource = raw
		}
		req, ok := em["request"].(map[string]any)
		if !ok {
			issues.Add(discharge.KindRequired, at+".request", "A transaction or batch entry needs a request.")
			out = append(out, in)
			continue
		}
		in.Method, _ = req["method"].(string)
		in.URL, _ = req["url"].(string)
		in.IfNoneExist, _ = req["ifNoneExist"].(string)
		in.IfMatch, _ = req["ifMatch"].(string)
		out = append(out, in)
	}
	if err := issues.Err(discharge.KindInvalid, "bundle"); err != nil {
		return nil, err
	}
	return out, nil
}
