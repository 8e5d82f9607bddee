package gateway_test

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
)

const nhsSystem = "https://fhir.nhs.uk/Id/nhs-number"

func TestCreateReadVreadUpdate(t *testing.T) {
	e := newEnv(t)
	pat := fixture(t, "patient.json")
	r := e.do("POST", "/fhir/Patient", pat).mustStatus(t, http.StatusCreated)
	id := str(r.json, "id")
	if id == "" || r.header.Get("ETag") != `W/"1"` || str(r.json, "meta", "versionId") != "1" || str(r.json, "meta", "lastUpdated") == "" {
		t.Fatalf("create: id %q etag %q meta %v", id, r.header.Get("ETag"), r.json["meta"])
	}
	if loc := r.header.Get("Location"); !strings.HasSuffix(loc, "/fhir/Patient/"+id+"/_history/1") {
		t.Fatalf("Location %q", loc)
	}
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/fhir+json") {
		t.Fatalf("Content-Type %q", ct)
	}

	got := e.do("GET", "/fhir/Patient/"+id, nil).mustStatus(t, http.StatusOK)
	if str(got.json, "identifier", 0, "value") != "9476719931" || got.header.Get("ETag") != `W/"1"` {
		t.Fatalf("read: %s", got.body)
	}

	pat["id"] = id
	pat["gender"] = "other"
	up := e.do("PUT", "/fhir/Patient/"+id, pat, "If-Match", `W/"1"`).mustStatus(t, http.StatusOK)
	if str(up.json, "meta", "versionId") != "2" || up.header.Get("ETag") != `W/"2"` {
		t.Fatalf("update: %s", up.body)
	}
	stale := e.do("PUT", "/fhir/Patient/"+id, pat, "If-Match", `W/"1"`).mustStatus(t, http.StatusPreconditionFailed)
	if code, _ := stale.issue(t); code != "conflict" {
		t.Fatalf("stale If-Match code %q", code)
	}
	// A malformed entity-tag is a bad request, not a version: "2 (an
	// unbalanced quote) and W/2 (weak without quotes) once read as 2.
	for _, tag := range []string{`"2`, `W/2`, `W/""2""`} {
		bad := e.do("PUT", "/fhir/Patient/"+id, pat, "If-Match", tag).mustStatus(t, http.StatusBadRequest)
		if code, ex := bad.issue(t); code != "invalid" || ex != "Patient.meta.versionId" {
			t.Fatalf("If-Match %s: %s %s", tag, code, ex)
		}
	}
	v1 := e.do("GET", "/fhir/Patient/"+id+"/_history/1", nil).mustStatus(t, http.StatusOK)
	if str(v1.json, "gender") != "female" || str(v1.json, "meta", "versionId") != "1" {
		t.Fatalf("vread 1: %s", v1.body)
	}
	v2 := e.do("GET", "/fhir/Patient/"+id+"/_history/2", nil).mustStatus(t, http.StatusOK)
	if str(v2.json, "gender") != "other" {
		t.Fatalf("vread 2: %s", v2.body)
	}
	e.do("GET", "/fhir/Patient/"+id+"/_history/3", nil).mustStatus(t, http.StatusNotFound)

	pat["id"] = "someone-else"
	mis := e.do("PUT", "/fhir/Patient/"+id, pat).mustStatus(t, http.StatusBadRequest)
	if code, ex := mis.issue(t); code != "invalid" || ex != "Patient.id" {
		t.Fatalf("id mismatch: %s %s", code, ex)
	}
	// The failed writes left version 2 current.
	if cur := e.do("GET", "/fhir/Patient/"+id, nil); cur.header.Get("ETag") != `W/"2"` {
		t.Fatalf("after failed writes ETag %q", cur.header.Get("ETag"))
	}
}

func TestConditionalCreateIsRaceSafe(t *testing.T) {
	e := newEnv(t)
	pat := fixture(t, "patient.json")
	const n = 50
	statuses := make([]int, n)
	ids := make([]string, n)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			r := e.do("POST", "/fhir/Patient", pat, "If-None-Exist", "identifier="+nhsSystem+"|9476719931")
			statuses[i], ids[i] = r.status, str(r.json, "id")
		}(i)
	}
	wg.Wait()
	created := 0
	for i, s := range statuses {
		switch s {
		case http.StatusCreated:
			created++
		case http.StatusOK:
		default:
			t.Fatalf("request %d: status %d", i, s)
		}
		if ids[i] != ids[0] {
			t.Fatalf("request %d returned id %s, request 0 %s", i, ids[i], ids[0])
		}
	}
	if created != 1 {
		t.Fatalf("%d creates, want exactly 1", created)
	}
	s := e.do("GET", "/fhir/Patient?identifier="+nhsSystem+"|9476719931", nil).mustStatus(t, http.StatusOK)
	if num(s.json, "total") != 1 {
		t.Fatalf("total %v after race", s.json["total"])
	}

	// A second resource with the same identifier makes the condition ambiguous.
	e.do("POST", "/fhir/Patient", pat).mustStatus(t, http.StatusCreated)
	multi := e.do("POST", "/fhir/Patient", pat, "If-None-Exist", "identifier="+nhsSystem+"|9476719931").
		mustStatus(t, http.StatusPreconditionFailed)
	if code, _ := multi.issue(t); code != "multiple-matches" {
		t.Fatalf("code %q", code)
	}
}

func TestTransactionBundle(t *testing.T) {
	e := newEnv(t)
	r := e.do("POST", "/fhir", fixture(t, "bundle.json")).mustStatus(t, http.StatusOK)
	if str(r.json, "type") != "transaction-response" {
		t.Fatalf("type %q", str(r.json, "type"))
	}
	entries, _ := r.json["entry"].([]any)
	if len(entries) != 3 {
		t.Fatalf("%d entries", len(entries))
	}
	var locs []string
	for i, en := range entries {
		st := str(en, "response", "status")
		loc := str(en, "response", "location")
		if !strings.HasPrefix(st, "201") || str(en, "response", "etag") != `W/"1"` || loc == "" {
			t.Fatalf("entry %d: %v", i, en)
		}
		locs = append(locs, strings.Split(loc, "/_history/")[0])
	}
	enc := e.do("GET", "/fhir/"+locs[1], nil).mustStatus(t, http.StatusOK)
	if got := str(enc.json, "subject", "reference"); got != locs[0] {
		t.Fatalf("Encounter.subject %q, want %q (urn:uuid rewritten)", got, locs[0])
	}
	sr := e.do("GET", "/fhir/"+locs[2], nil).mustStatus(t, http.StatusOK)
	if got := str(sr.json, "encounter", "reference"); got != locs[1] {
		t.Fatalf("ServiceRequest.encounter %q, want %q", got, locs[1])
	}

	// Posting the same bundle again: the conditional Patient matches (200),
	// the others are new.
	again := e.do("POST", "/fhir", fixture(t, "bundle.json")).mustStatus(t, http.StatusOK)
	if st := str(again.json, "entry", 0, "response", "status"); !strings.HasPrefix(st, "200") {
		t.Fatalf("conditional entry status %q", st)
	}
	if loc := str(again.json, "entry", 0, "response", "location"); !strings.HasPrefix(loc, locs[0]+"/") {
		t.Fatalf("conditional entry location %q, want %s", loc, locs[0])
	}
}

func TestTransactionIsAllOrNothing(t *testing.T) {
	cases := map[string]func(b map[string]any){
		"third entry lacks status": func(b map[string]any) {
			delete(entry(b, 2), "status")
		},
		"encounter references a missing patient": func(b map[string]any) {
			entry(b, 1)["subject"] = map[string]any{"reference": "Patient/does-not-exist"}
		},
		"bad NHS number in the patient": func(b map[string]any) {
			entry(b, 0)["identifier"] = []any{map[string]any{"system": nhsSystem, "value": "9476719932"}}
		},
	}
	wantExpr := map[string]string{
		"third entry lacks status":               "Bundle.entry[2].resource.status",
		"encounter references a missing patient": "Bundle.entry[1].resource.subject.reference",
		"bad NHS number in the patient":          "Bundle.entry[0].resource.identifier[0].value",
	}
	for name, mutate := range cases {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t)
			b := fixture(t, "bundle.json")
			mutate(b)
			r := e.do("POST", "/fhir", b)
			if r.status < 400 || r.status >= 500 {
				t.Fatalf("status %d: %s", r.status, r.body)
			}
			found := false
			for _, x := range r.json["issue"].([]any) {
				if ex, _ := x.(map[string]any)["expression"].([]any); len(ex) > 0 && ex[0] == wantExpr[name] {
					found = true
				}
			}
			if !found {
				t.Fatalf("no issue at %s: %s", wantExpr[name], r.body)
			}
			for _, typ := range []string{"Patient", "Encounter", "ServiceRequest"} {
				s := e.do("GET", "/fhir/"+typ, nil).mustStatus(t, http.StatusOK)
				if num(s.json, "total") != 0 {
					t.Fatalf("%s: %v stored after a failed transaction", typ, s.json["total"])
				}
			}
		})
	}
}

func entry(b map[string]any, i int) map[string]any {
	return b["entry"].([]any)[i].(map[string]any)["resource"].(map[string]any)
}

func TestSearch(t *testing.T) {
	e := newEnv(t)
	r := e.do("POST", "/fhir", fixture(t, "bundle.json")).mustStatus(t, http.StatusOK)
	patRef := strings.Split(str(r.json, "entry", 0, "response", "location"), "/_history/")[0]
	encRef := strings.Split(str(r.json, "entry", 1, "response", "location"), "/_history/")[0]
	patID := strings.TrimPrefix(patRef, "Patient/")
	encID := strings.TrimPrefix(encRef, "Encounter/")
	// Five more encounters for paging.
	for i := 0; i < 5; i++ {
		enc := map[string]any{"resourceType": "Encounter", "status": "finished",
			"class":   map[string]any{"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
			"subject": map[string]any{"reference": patRef},
			"period":  map[string]any{"start": fmt.Sprintf("2025-0%d-01", i+1), "end": fmt.Sprintf("2025-0%d-02", i+1)}}
		e.do("POST", "/fhir/Encounter", enc).mustStatus(t, http.StatusCreated)
	}
	tests := []struct {
		query string
		total int
	}{
		{"Patient?identifier=" + nhsSystem + "|9476719931", 1},
		{"Patient?identifier=9476719931", 1},
		{"Patient?identifier=" + nhsSystem + "|9434765919", 0},
		{"Encounter?patient=" + patID, 6},
		{"Encounter?patient=" + patRef, 6},
		{"Encounter?subject=" + patRef, 6},
		{"Encounter?status=in-progress", 1},
		{"Encounter?status=finished,in-progress", 6},
		{"Encounter?identifier=https://trust.example/encounter|ENC-1001", 1},
		{"Encounter?date=ge2026-01-01", 1},
		{"Encounter?date=lt2025-03-01", 2},
		{"Encounter?date=2025-02", 1},
		{"Encounter?patient:identifier=" + nhsSystem + "|9476719931", 6},
		{"Encounter?patient:identifier=" + nhsSystem + "|9434765919", 0},
		{"ServiceRequest?encounter=" + encRef, 1},
		{"ServiceRequest?patient=" + patRef + "&status=active", 1},
		{"ServiceRequest?status=completed", 0},
		{"ServiceRequest?subject:identifier=" + nhsSystem + "|9476719931", 1},
		// _id, FHIR's common parameter: the logical id, a comma for any of several.
		{"Patient?_id=" + patID, 1},
		{"Encounter?_id=" + encID + ",no-such-encounter", 1},
		{"Encounter?_id=no-such-encounter", 0},
		{"Encounter?_id=" + encID + "&status=finished", 0},
		{"Encounter?_id=" + encID + "&status=in-progress", 1},
	}
	for _, tc := range tests {
		t.Run(tc.query, func(t *testing.T) {
			s := e.do("GET", "/fhir/"+tc.query, nil).mustStatus(t, http.StatusOK)
			if str(s.json, "type") != "searchset" || int(num(s.json, "total")) != tc.total {
				t.Fatalf("total %v, want %d: %s", s.json["total"], tc.total, s.body)
			}
			entries, _ := s.json["entry"].([]any)
			if len(entries) != tc.total {
				t.Fatalf("%d entries, want %d", len(entries), tc.total)
			}
			for _, en := range entries {
				if str(en, "search", "mode") != "match" || str(en, "fullUrl") == "" {
					t.Fatalf("entry %v", en)
				}
			}
		})
	}

	t.Run("paging", func(t *testing.T) {
		seen := map[string]bool{}
		next := "/fhir/Encounter?patient=" + patID + "&_count=4"
		pages := 0
		for next != "" {
			s := e.do("GET", next, nil).mustStatus(t, http.StatusOK)
			pages++
			if num(s.json, "total") != 6 {
				t.Fatalf("page total %v", s.json["total"])
			}
			for _, en := range s.json["entry"].([]any) {
				id := str(en, "resource", "id")
				if seen[id] {
					t.Fatalf("id %s on two pages", id)
				}
				seen[id] = true
			}
			next = ""
			for _, l := range s.json["link"].([]any) {
				if str(l, "relation") == "next" {
					next = strings.TrimPrefix(str(l, "url"), e.srv.URL)
				}
			}
		}
		if pages != 2 || len(seen) != 6 {
			t.Fatalf("%d pages, %d resources", pages, len(seen))
		}
	})

	t.Run("unknown parameter is a warning", func(t *testing.T) {
		s := e.do("GET", "/fhir/Encounter?status=finished&colour=blue", nil).mustStatus(t, http.StatusOK)
		entries := s.json["entry"].([]any)
		last := entries[len(entries)-1]
		if str(last, "search", "mode") != "outcome" || str(last, "resource", "resourceType") != "OperationOutcome" ||
			str(last, "resource", "issue", 0, "severity") != "warning" || str(last, "resource", "issue", 0, "expression", 0) != "colour" {
			t.Fatalf("outcome entry %v", last)
		}
		if num(s.json, "total") != 5 {
			t.Fatalf("total %v: the known parameter still applies", s.json["total"])
		}
		for _, l := range s.json["link"].([]any) {
			if str(l, "relation") == "self" && strings.Contains(str(l, "url"), "colour") {
				t.Fatalf("self link names the ignored parameter: %s", str(l, "url"))
			}
		}
	})
	t.Run("unknown parameter is an error when strict", func(t *testing.T) {
		s := e.do("GET", "/fhir/Encounter?colour=blue", nil, "Prefer", "handling=strict").mustStatus(t, http.StatusBadRequest)
		if code, ex := s.issue(t); code != "not-supported" || ex != "colour" {
			t.Fatalf("%s %s", code, ex)
		}
	})
	t.Run("_id is applied, strict or not, and in the links and the CapabilityStatement", func(t *testing.T) {
		s := e.do("GET", "/fhir/Patient?_id="+patID, nil, "Prefer", "handling=strict").mustStatus(t, http.StatusOK)
		if num(s.json, "total") != 1 || str(s.json, "entry", 0, "resource", "id") != patID {
			t.Fatalf("%s", s.body)
		}
		if self := str(s.json, "link", 0, "url"); !strings.Contains(self, "_id="+patID) {
			t.Fatalf("self link %s", self)
		}
		cs := e.do("GET", "/fhir/metadata", nil).mustStatus(t, http.StatusOK)
		for _, res := range cs.json["rest"].([]any)[0].(map[string]any)["resource"].([]any) {
			if str(res, "type") != "Patient" {
				continue
			}
			for _, p := range res.(map[string]any)["searchParam"].([]any) {
				if str(p, "name") == "_id" && str(p, "definition") == "http://hl7.org/fhir/SearchParameter/Resource-id" && str(p, "type") == "token" {
					return
				}
			}
		}
		t.Fatal("the CapabilityStatement does not list Patient's _id")
	})
	t.Run("bad date", func(t *testing.T) {
		s := e.do("GET", "/fhir/Encounter?date=yesterday", nil).mustStatus(t, http.StatusBadRequest)
		if code, ex := s.issue(t); code != "value" || ex != "date" {
			t.Fatalf("%s %s", code, ex)
		}
	})
	t.Run("_count=0 gives only the total", func(t *testing.T) {
		s := e.do("GET", "/fhir/Encounter?_count=0", nil).mustStatus(t, http.StatusOK)
		if num(s.json, "total") != 6 || s.json["entry"] != nil {
			t.Fatalf("%s", s.body)
		}
	})
}
