package gateway_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/dischargegateway/gateway/auth"
	"github.com/dischargegateway/gateway/gateway"
)

// Conformance of the generic FHIR REST layer over a real store: empty
// Bundles, paging bounds, totals and links, trailing slashes, history,
// HEAD and conditional read (issue 13).

const nhsSystem13 = "https://fhir.nhs.uk/Id/nhs-number"

// links returns a Bundle's links by relation.
func links(t *testing.T, r resp) map[string]string {
	t.Helper()
	out := map[string]string{}
	ls, _ := r.json["link"].([]any)
	for _, l := range ls {
		m := l.(map[string]any)
		out[m["relation"].(string)] = m["url"].(string)
	}
	return out
}

// pathOf strips the test server's origin from an absolute link.
func (e *env) pathOf(link string) string {
	u, err := url.Parse(link)
	if err != nil {
		e.t.Fatal(err)
	}
	return u.RequestURI()
}

func matchIDs(r resp) []string {
	var ids []string
	es, _ := r.json["entry"].([]any)
	for _, x := range es {
		if str(x, "search", "mode") == "match" {
			ids = append(ids, str(x, "resource", "id"))
		}
	}
	return ids
}

func TestEmptyTransactionAndBatch(t *testing.T) {
	e := newEnv(t)
	for _, path := range []string{"/fhir", "/fhir/"} {
		for _, typ := range []string{"transaction", "batch"} {
			for name, entries := range map[string]any{"no entry": nil, "entry []": []any{}} {
				t.Run(path+" "+typ+" "+name, func(t *testing.T) {
					b := map[string]any{"resourceType": "Bundle", "type": typ}
					if entries != nil {
						b["entry"] = entries
					}
					r := e.do("POST", path, b).mustStatus(t, http.StatusOK)
					if str(r.json, "type") != typ+"-response" || r.json["entry"] != nil {
						t.Fatalf("response %s", r.body)
					}
				})
			}
		}
	}
}

func TestPagingParametersAreBounded(t *testing.T) {
	e := newEnv(t)
	pid := str(e.do("POST", "/fhir/Patient", fixture(t, "patient.json")).mustStatus(t, 201).json, "id")
	bases := []string{"/fhir/Patient?", "/fhir/CodeSystem?", "/fhir/ConceptMap?", "/fhir/Patient/" + pid + "/_history?"}
	bad := []struct{ query, expr string }{
		{"_offset=-1", "_offset"},
		{"_offset=1.5", "_offset"},
		{"_offset=abc", "_offset"},
		{"_offset=99999999999999999999999", "_offset"},
		{"_offset=1&_offset=2", "_offset"},
		{"_count=-1", "_count"},
		{"_count=ten", "_count"},
		{"_count=99999999999999999999999", "_count"},
		{"_count=1&_count=2", "_count"},
	}
	for _, base := range bases {
		for _, tc := range bad {
			t.Run(base+tc.query, func(t *testing.T) {
				r := e.do("GET", base+tc.query, nil).mustStatus(t, http.StatusBadRequest)
				if !r.hasIssue("value", tc.expr) {
					t.Fatalf("want value at %s: %s", tc.expr, r.body)
				}
			})
		}
		for _, off := range []string{"100000000000000000", "9223372036854775807", "5000"} {
			t.Run(base+"_offset="+off, func(t *testing.T) {
				all := e.do("GET", base+"_count=0", nil).mustStatus(t, http.StatusOK)
				r := e.do("GET", base+"_offset="+off, nil).mustStatus(t, http.StatusOK)
				es, _ := r.json["entry"].([]any)
				if len(es) != 0 || num(r.json, "total") != num(all.json, "total") || num(r.json, "total") == 0 {
					t.Fatalf("past the end: %d entries, total %v (all: %v)", len(es), r.json["total"], all.json["total"])
				}
				l := links(t, r)
				if l["next"] != "" || l["previous"] == "" || !strings.Contains(l["self"], "_offset="+off) {
					t.Fatalf("links %v", l)
				}
				// previous from past the end is the last page, which has matches.
				prev := e.do("GET", e.pathOf(l["previous"]), nil).mustStatus(t, http.StatusOK)
				if es, _ := prev.json["entry"].([]any); len(es) == 0 {
					t.Fatalf("previous page empty: %s", prev.body)
				}
			})
		}
	}
}

func TestSearchTotalCountsEveryMatchAndLinksPageThrough(t *testing.T) {
	e := newEnv(t)
	want := map[string]bool{}
	for i := 0; i < 7; i++ {
		want[str(e.do("POST", "/fhir/Patient", fixture(t, "patient.json")).mustStatus(t, 201).json, "id")] = true
	}
	cs := e.do("GET", "/fhir/CodeSystem?_count=0", nil).mustStatus(t, http.StatusOK)
	cm := e.do("GET", "/fhir/ConceptMap?_count=0", nil).mustStatus(t, http.StatusOK)
	tests := []struct {
		first string
		total int
	}{
		{"/fhir/Patient?_count=3", 7},
		{"/fhir/Patient?_count=1&_total=accurate", 7},
		{"/fhir/CodeSystem?_count=1", int(num(cs.json, "total"))},
		{"/fhir/ConceptMap?_count=1", int(num(cm.json, "total"))},
	}
	for _, tc := range tests {
		t.Run(tc.first, func(t *testing.T) {
			if tc.total < 2 {
				t.Fatalf("need at least two matches to page, have %d", tc.total)
			}
			seen := map[string]bool{}
			next, pages := tc.first, 0
			for next != "" {
				r := e.do("GET", next, nil).mustStatus(t, http.StatusOK)
				if int(num(r.json, "total")) != tc.total {
					t.Fatalf("page %d: total %v, want %d", pages, r.json["total"], tc.total)
				}
				for _, id := range matchIDs(r) {
					if seen[id] {
						t.Fatalf("%s on two pages", id)
					}
					seen[id] = true
				}
				next = ""
				if n := links(t, r)["next"]; n != "" {
					next = e.pathOf(n)
				}
				if pages++; pages > tc.total {
					t.Fatal("links do not end")
				}
			}
			if len(seen) != tc.total {
				t.Fatalf("paged through %d of %d", len(seen), tc.total)
			}
			if strings.HasPrefix(tc.first, "/fhir/Patient") {
				for id := range want {
					if !seen[id] {
						t.Fatalf("%s never listed", id)
					}
				}
			}
		})
	}
}

func TestSelfLinkRepeatsOnlyAppliedParameters(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		query       string
		want, avoid []string
	}{
		{"/fhir/Patient?_total=none", nil, []string{"_total"}},
		{"/fhir/Patient?_include=Patient:foo&_total=estimate", nil, []string{"_include", "_total"}},
		{"/fhir/Location?_include=Location:organization&_include=Location:bogus",
			[]string{"_include=Location%3Aorganization"}, []string{"bogus"}},
		{"/fhir/CodeSystem?url=http://x/a%26b&_total=none", []string{"url=http%3A%2F%2Fx%2Fa%26b"}, []string{"_total"}},
	}
	for _, tc := range tests {
		t.Run(tc.query, func(t *testing.T) {
			r := e.do("GET", tc.query, nil).mustStatus(t, http.StatusOK)
			for rel, l := range links(t, r) {
				for _, w := range tc.want {
					if !strings.Contains(l, w) {
						t.Fatalf("%s link %s lacks %s", rel, l, w)
					}
				}
				for _, a := range tc.avoid {
					if strings.Contains(l, a) {
						t.Fatalf("%s link %s repeats %s, which was not applied", rel, l, a)
					}
				}
			}
		})
	}
}

func TestTrailingSlashRoutesLikeTheBarePath(t *testing.T) {
	e := newEnv(t)
	pid := str(e.do("POST", "/fhir/Patient", fixture(t, "patient.json")).mustStatus(t, 201).json, "id")
	batch := map[string]any{"resourceType": "Bundle", "type": "batch", "entry": []any{map[string]any{
		"resource": fixture(t, "patient.json"), "request": map[string]any{"method": "POST", "url": "Patient"}}}}
	tests := []struct {
		method, path string
		body         any
		status       int
		resourceType string
		code         string
	}{
		{"POST", "/fhir/", batch, 200, "Bundle", ""},
		{"GET", "/fhir/metadata/", nil, 200, "CapabilityStatement", ""},
		{"GET", "/fhir/Patient/", nil, 200, "Bundle", ""},
		{"GET", "/fhir/Patient/?_count=1", nil, 200, "Bundle", ""},
		{"GET", "/fhir/Patient/" + pid + "/", nil, 200, "Patient", ""},
		{"GET", "/fhir/Patient/" + pid + "/_history/", nil, 200, "Bundle", ""},
		{"GET", "/fhir/Patient/" + pid + "/_history/1/", nil, 200, "Patient", ""},
		{"POST", "/fhir/Patient/", fixture(t, "patient.json"), 201, "Patient", ""},
		{"GET", "/fhir/CodeSystem/", nil, 200, "Bundle", ""},
		{"DELETE", "/fhir/Patient/", nil, 405, "OperationOutcome", "not-supported"},
		{"GET", "/fhir/NoSuchType/", nil, 404, "OperationOutcome", "not-found"},
		{"GET", "/fhir//", nil, 404, "OperationOutcome", "not-found"},
	}
	for _, tc := range tests {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			r := e.do(tc.method, tc.path, tc.body).mustStatus(t, tc.status)
			if str(r.json, "resourceType") != tc.resourceType {
				t.Fatalf("resourceType %q: %s", str(r.json, "resourceType"), r.body)
			}
			if tc.code != "" {
				if code, _ := r.issue(t); code != tc.code {
					t.Fatalf("code %q", code)
				}
			}
		})
	}
}

func TestSameConditionInOneBundleResolvesToOneResource(t *testing.T) {
	cond := "identifier=" + nhsSystem13 + "|9476719931"
	spelled := "identifier=" + url.QueryEscape(nhsSystem13+"|9476719931") // same condition, other spelling
	for _, typ := range []string{"transaction", "batch"} {
		t.Run(typ, func(t *testing.T) {
			e := newEnv(t)
			b := map[string]any{"resourceType": "Bundle", "type": typ, "entry": []any{
				map[string]any{"fullUrl": "urn:uuid:00000000-0000-4000-8000-000000000001", "resource": fixture(t, "patient.json"),
					"request": map[string]any{"method": "POST", "url": "Patient", "ifNoneExist": cond}},
				map[string]any{"fullUrl": "urn:uuid:00000000-0000-4000-8000-000000000002", "resource": fixture(t, "patient.json"),
					"request": map[string]any{"method": "POST", "url": "Patient", "ifNoneExist": spelled}},
			}}
			if typ == "transaction" {
				b["entry"] = append(b["entry"].([]any), map[string]any{
					"fullUrl": "urn:uuid:00000000-0000-4000-8000-000000000003",
					"resource": map[string]any{"resourceType": "Encounter", "status": "in-progress",
						"class":   map[string]any{"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "IMP"},
						"subject": map[string]any{"reference": "urn:uuid:00000000-0000-4000-8000-000000000002"}},
					"request": map[string]any{"method": "POST", "url": "Encounter"}})
			}
			r := e.do("POST", "/fhir", b).mustStatus(t, http.StatusOK)
			st0, st1 := str(r.json, "entry", 0, "response", "status"), str(r.json, "entry", 1, "response", "status")
			loc0, loc1 := str(r.json, "entry", 0, "response", "location"), str(r.json, "entry", 1, "response", "location")
			if !strings.HasPrefix(st0, "201") || !strings.HasPrefix(st1, "200") || loc0 == "" || loc0 != loc1 {
				t.Fatalf("entries: %s %s, %s %s", st0, loc0, st1, loc1)
			}
			if n := num(e.do("GET", "/fhir/Patient?"+cond, nil).mustStatus(t, 200).json, "total"); n != 1 {
				t.Fatalf("%v Patients stored", n)
			}
			if typ == "transaction" {
				enc := e.do("GET", "/fhir/"+strings.Split(str(r.json, "entry", 2, "response", "location"), "/_history/")[0], nil).mustStatus(t, 200)
				if got := str(enc.json, "subject", "reference"); got != strings.Split(loc0, "/_history/")[0] {
					t.Fatalf("Encounter.subject %q, want %s", got, loc0)
				}
			}
			// The condition still names one resource afterwards.
			e.do("POST", "/fhir/Patient", fixture(t, "patient.json"), "If-None-Exist", cond).mustStatus(t, http.StatusOK)
		})
	}
}

func TestURNUUIDFullURLMustBeAUUID(t *testing.T) {
	e := newEnv(t)
	for _, typ := range []string{"transaction", "batch"} {
		for _, full := range []string{"urn:uuid:nope", "urn:uuid:", "urn:uuid:6F1A2B3C-0000-4000-8000-000000000001",
			"urn:uuid:6f1a2b3c-0000-4000-8000-00000000000", "urn:uuid:6f1a2b3c00000-4000-8000-000000000001", "urn:uuid:6f1a2b3c-0000-4000-8000-00000000000g"} {
			t.Run(typ+" "+full, func(t *testing.T) {
				b := fixture(t, "bundle.json")
				b["type"] = typ
				b["entry"].([]any)[1].(map[string]any)["fullUrl"] = full
				r := e.do("POST", "/fhir", b).mustStatus(t, http.StatusBadRequest)
				if !r.hasIssue("value", "Bundle.entry[1].fullUrl") {
					t.Fatalf("want value at Bundle.entry[1].fullUrl: %s", r.body)
				}
			})
		}
	}
	if n := num(e.do("GET", "/fhir/Patient", nil).json, "total"); n != 0 {
		t.Fatalf("%v Patients stored by refused Bundles", n)
	}
}

func TestTransactionIssuesCarryTheEntryPathOnce(t *testing.T) {
	e := newEnv(t)
	// An overseas Patient referred to by two entries: whatever intake
	// decides about it, an issue about the Patient is the Patient entry's,
	// reported once.
	b := fixture(t, "bundle.json")
	entry(b, 0)["address"] = []any{map[string]any{"use": "home", "postalCode": "75001", "country": "FR"}}
	r := e.do("POST", "/fhir", b)
	if r.status >= 500 {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	if r.status >= 400 {
		seen := map[string]bool{}
		for _, x := range r.json["issue"].([]any) {
			is := x.(map[string]any)
			ex, _ := is["expression"].([]any)
			if len(ex) == 0 || !strings.HasPrefix(ex[0].(string), "Bundle.entry[") {
				t.Fatalf("issue without its entry path: %v", is)
			}
			key := fmt.Sprint(is["code"], ex[0], is["diagnostics"])
			if seen[key] {
				t.Fatalf("issue reported twice: %v", is)
			}
			seen[key] = true
		}
	}
}

func TestInstanceHistory(t *testing.T) {
	e := newEnv(t)
	p := e.do("POST", "/fhir/Patient", fixture(t, "patient.json")).mustStatus(t, 201)
	id := str(p.json, "id")
	doc := p.json
	for v := 2; v <= 3; v++ {
		doc["gender"] = []string{"", "", "female", "male"}[v]
		doc = e.do("PUT", "/fhir/Patient/"+id, doc).mustStatus(t, 200).json
	}
	h := e.do("GET", "/fhir/Patient/"+id+"/_history", nil).mustStatus(t, 200)
	if str(h.json, "type") != "history" || num(h.json, "total") != 3 {
		t.Fatalf("history %s", h.body)
	}
	for i, want := range []struct{ v, method, url, status string }{
		{"3", "PUT", "Patient/" + id, "200 OK"}, {"2", "PUT", "Patient/" + id, "200 OK"}, {"1", "POST", "Patient", "201 Created"},
	} {
		en := h.json["entry"].([]any)[i]
		if str(en, "resource", "meta", "versionId") != want.v || str(en, "request", "method") != want.method ||
			str(en, "request", "url") != want.url || str(en, "response", "status") != want.status ||
			str(en, "response", "etag") != `W/"`+want.v+`"` || str(en, "response", "lastModified") == "" ||
			!strings.HasSuffix(str(en, "fullUrl"), "/fhir/Patient/"+id) {
			t.Fatalf("entry %d: %v", i, en)
		}
	}
	// Paging: one version a page, newest first, links to the end.
	var vs []string
	next := "/fhir/Patient/" + id + "/_history?_count=1"
	for next != "" {
		r := e.do("GET", next, nil).mustStatus(t, 200)
		if num(r.json, "total") != 3 {
			t.Fatalf("total %v", r.json["total"])
		}
		vs = append(vs, str(r.json, "entry", 0, "resource", "meta", "versionId"))
		next = ""
		if n := links(t, r)["next"]; n != "" {
			next = e.pathOf(n)
		}
		if len(vs) > 3 {
			t.Fatal("links do not end")
		}
	}
	if strings.Join(vs, ",") != "3,2,1" {
		t.Fatalf("versions %v", vs)
	}

	other := e.tokenFor("trust-b", auth.RoleTrust, "RXB", clinicalScopes)
	tests := []struct {
		name, path, code string
		status           int
		headers          []string
	}{
		{"unknown id", "/fhir/Patient/nope/_history", "not-found", 404, nil},
		{"another organisation's", "/fhir/Patient/" + id + "/_history", "not-found", 404, []string{"Authorization", "Bearer " + other}},
		{"_since is not supported", "/fhir/Patient/" + id + "/_history?_since=2020-01-01", "not-supported", 400, nil},
		{"type history", "/fhir/Patient/_history", "not-supported", 405, nil},
		{"directory type history", "/fhir/Location/_history", "not-supported", 405, nil},
		{"system history", "/fhir/_history", "not-supported", 405, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do("GET", tc.path, nil, tc.headers...).mustStatus(t, tc.status)
			if code, _ := r.issue(t); code != tc.code {
				t.Fatalf("code %q: %s", code, r.body)
			}
		})
	}
	t.Run("audited as a read", func(t *testing.T) {
		admin := e.tokenFor("ops", auth.RoleAdmin, "DGADMIN", "system/AuditEvent.rs")
		a := e.do("GET", "/fhir/AuditEvent?entity=Patient/"+id, nil, "Authorization", "Bearer "+admin).mustStatus(t, 200)
		if !strings.Contains(string(a.body), "history-instance") {
			t.Fatalf("no history-instance audit entry: %s", a.body)
		}
	})
}

func TestHeadAndConditionalRead(t *testing.T) {
	e := newEnv(t)
	p := e.do("POST", "/fhir/Patient", fixture(t, "patient.json")).mustStatus(t, 201)
	id := str(p.json, "id")
	get := e.do("GET", "/fhir/Patient/"+id, nil).mustStatus(t, 200)
	lastMod := get.header.Get("Last-Modified")
	lm, err := http.ParseTime(lastMod)
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/fhir/Patient/" + id, "/fhir/Patient/" + id + "/_history/1", "/fhir/metadata", "/fhir/metadata/",
		"/fhir/Patient/" + id + "/_history", "/fhir/Patient?_count=1", "/fhir/CodeSystem/care-setting", "/fhir/Measure/care-home-capacity"} {
		t.Run("HEAD "+path, func(t *testing.T) {
			g := e.do("GET", path, nil).mustStatus(t, 200)
			h := e.do("HEAD", path, nil).mustStatus(t, 200)
			if len(h.body) != 0 {
				t.Fatalf("HEAD has a body: %s", h.body)
			}
			for _, k := range []string{"Content-Type", "ETag", "Last-Modified", "Content-Length"} {
				if h.header.Get(k) != g.header.Get(k) {
					t.Fatalf("%s: HEAD %q, GET %q", k, h.header.Get(k), g.header.Get(k))
				}
			}
		})
	}
	t.Run("HEAD where GET is not routed", func(t *testing.T) {
		r := e.do("HEAD", "/oauth2/token", nil).mustStatus(t, http.StatusMethodNotAllowed)
		if len(r.body) != 0 {
			t.Fatalf("HEAD has a body: %s", r.body)
		}
		e.do("HEAD", "/fhir/Patient/nope", nil).mustStatus(t, http.StatusNotFound)
	})
	tests := []struct {
		name    string
		headers []string
		status  int
	}{
		{"If-None-Match current", []string{"If-None-Match", `W/"1"`}, 304},
		{"If-None-Match strong form", []string{"If-None-Match", `"1"`}, 304},
		{"If-None-Match list", []string{"If-None-Match", `W/"7", W/"1"`}, 304},
		{"If-None-Match star", []string{"If-None-Match", `*`}, 304},
		{"If-None-Match other version", []string{"If-None-Match", `W/"2"`}, 200},
		{"If-Modified-Since Last-Modified", []string{"If-Modified-Since", lastMod}, 304},
		{"If-Modified-Since later", []string{"If-Modified-Since", lm.Add(time.Hour).Format(http.TimeFormat)}, 304},
		{"If-Modified-Since a second earlier", []string{"If-Modified-Since", lm.Add(-time.Second).Format(http.TimeFormat)}, 200},
		{"If-Modified-Since unparseable", []string{"If-Modified-Since", "yesterday"}, 200},
		{"If-None-Match decides over If-Modified-Since", []string{"If-None-Match", `W/"2"`, "If-Modified-Since", lastMod}, 200},
	}
	for _, tc := range tests {
		for _, method := range []string{"GET", "HEAD"} {
			t.Run(method+" "+tc.name, func(t *testing.T) {
				r := e.do(method, "/fhir/Patient/"+id, nil, tc.headers...).mustStatus(t, tc.status)
				if tc.status == 304 && (len(r.body) != 0 || r.header.Get("ETag") != `W/"1"`) {
					t.Fatalf("304 with body %q, ETag %q", r.body, r.header.Get("ETag"))
				}
			})
		}
	}
	t.Run("CapabilityStatement declares it", func(t *testing.T) {
		m := e.do("GET", "/fhir/metadata", nil).mustStatus(t, 200)
		for _, r := range m.json["rest"].([]any)[0].(map[string]any)["resource"].([]any) {
			res := r.(map[string]any)
			if res["type"] != "Patient" {
				continue
			}
			if res["conditionalRead"] != "full-support" || !strings.Contains(fmt.Sprint(res["interaction"]), "history-instance") {
				t.Fatalf("Patient capability %v", res)
			}
			return
		}
		t.Fatal("no Patient in the CapabilityStatement")
	})
}

func TestNumericSearchValuesAreValidated(t *testing.T) {
	e := newEnv(t)
	tests := []struct{ query, code, expr string }{
		{"/fhir/Location?near=NaN|0|10", "value", "near"},
		{"/fhir/Location?near=53|NaN|10", "value", "near"},
		{"/fhir/Location?near=53|-2|NaN", "value", "near"},
		{"/fhir/Location?near=53|-2|Inf", "value", "near"},
		{"/fhir/Location?near=53|-2|-1", "value", "near"},
		{"/fhir/Location?near=91|-2|1", "value", "near"},
		{"/fhir/Patient/x/_history/99999999999999999999", "not-found", "Patient.meta.versionId"},
	}
	for _, tc := range tests {
		t.Run(tc.query, func(t *testing.T) {
			r := e.do("GET", tc.query, nil)
			if r.status < 400 || r.status >= 500 || !r.hasIssue(tc.code, tc.expr) {
				t.Fatalf("want %s at %s: %d %s", tc.code, tc.expr, r.status, r.body)
			}
		})
	}
}

func TestConditionalCreateNeedsASearchParameter(t *testing.T) {
	e := newEnv(t)
	e.do("POST", "/fhir/Patient", fixture(t, "patient.json")).mustStatus(t, 201)
	other := fixture(t, "patient.json")
	other["identifier"] = []any{map[string]any{"system": nhsSystem13, "value": "9434765919"}}
	// A condition of result parameters alone has no filter: it would match
	// the unrelated Patient above instead of creating this one.
	for _, cond := range []string{"_count=1", "_offset=0", "_total=none"} {
		t.Run(cond, func(t *testing.T) {
			r := e.do("POST", "/fhir/Patient", other, "If-None-Exist", cond).mustStatus(t, http.StatusBadRequest)
			if code, _ := r.issue(t); code != "invalid" {
				t.Fatalf("code %q", code)
			}
			b := map[string]any{"resourceType": "Bundle", "type": "transaction", "entry": []any{map[string]any{
				"resource": other, "request": map[string]any{"method": "POST", "url": "Patient", "ifNoneExist": cond}}}}
			tr := e.do("POST", "/fhir", b).mustStatus(t, http.StatusBadRequest)
			if !tr.hasIssue("invalid", "Bundle.entry[0].request.ifNoneExist") {
				t.Fatalf("transaction: %s", tr.body)
			}
		})
	}
}

func TestNearSaysWhenItConsideredOnlyTheNearest(t *testing.T) {
	// Importing 1,001 locations is one request: under the race detector on a
	// loaded machine it can outlast the tests' 3 s deadline.
	e := newEnv(t, func(c *gateway.Config) { c.RequestTimeout = time.Minute })
	admin := e.tokenFor("ops", auth.RoleAdmin, "DGADMIN", directoryScopes)
	csv := syntheticCSV(1001, [][3]any{{"M14", 53.445, -2.221}})
	r := e.do("POST", "/api/v1/directory/import", csv, "Authorization", "Bearer "+admin, "Content-Type", "text/csv").mustStatus(t, http.StatusOK)
	if num(r.json, "accepted") != 1001 {
		t.Fatalf("import: %.300s", r.body)
	}
	lenient := e.do("GET", "/fhir/Location?near=53.44|-2.22|5|km&_count=1", nil).mustStatus(t, http.StatusOK)
	if num(lenient.json, "total") != 1000 || !strings.Contains(string(lenient.body), `"mode":"outcome"`) ||
		!strings.Contains(string(lenient.body), `"expression":["near"]`) {
		t.Fatalf("no warning that only 1000 were considered: total %v %.600s", lenient.json["total"], lenient.body)
	}
	strict := e.do("GET", "/fhir/Location?near=53.44|-2.22|5|km&_count=1", nil, "Prefer", "handling=strict").mustStatus(t, http.StatusBadRequest)
	if !strict.hasIssue("not-supported", "near") {
		t.Fatalf("strict: %s", strict.body)
	}
}

func TestChainedIdentifierRefusesWhatItCannotCountInFull(t *testing.T) {
	// Two 501-entry transactions: give them more than the tests' 3 s
	// deadline on a loaded machine under the race detector.
	e := newEnv(t, func(c *gateway.Config) { c.RequestTimeout = time.Minute })
	for batch := 0; batch < 2; batch++ {
		var entries []any
		for i := 0; i < 501; i++ {
			entries = append(entries, map[string]any{
				"resource": map[string]any{"resourceType": "Patient",
					"identifier": []any{map[string]any{"system": "https://trust.example/mrn", "value": "shared"}}},
				"request": map[string]any{"method": "POST", "url": "Patient"}})
		}
		e.do("POST", "/fhir", map[string]any{"resourceType": "Bundle", "type": "transaction", "entry": entries}).mustStatus(t, http.StatusOK)
	}
	for _, param := range []string{"patient:identifier", "subject.identifier"} {
		r := e.do("GET", "/fhir/ServiceRequest?"+param+"=https://trust.example/mrn|shared", nil).mustStatus(t, http.StatusBadRequest)
		if !r.hasIssue("not-supported", param) {
			t.Fatalf("%s: %s", param, r.body)
		}
	}
}

func TestHubSearchPagesThroughEveryMember(t *testing.T) {
	e := newEnv(t)
	tokB := e.tokenFor("trust-b", auth.RoleTrust, "RXB", clinicalScopes)
	hub := e.tokenFor("hub", auth.RoleHub, "QXH", "system/Patient.rs system/Encounter.rs system/ServiceRequest.rs", "RXA", "RXB")
	var aID string
	for i := 0; i < 3; i++ {
		aID = str(e.do("POST", "/fhir/Patient", fixture(t, "patient.json")).mustStatus(t, 201).json, "id")
		e.do("POST", "/fhir/Patient", fixture(t, "patient.json"), "Authorization", "Bearer "+tokB).mustStatus(t, 201)
	}
	asHub := []string{"Authorization", "Bearer " + hub}
	seen := map[string]bool{}
	next := "/fhir/Patient?_count=4"
	for pages := 0; next != ""; pages++ {
		r := e.do("GET", next, nil, asHub...).mustStatus(t, 200)
		if num(r.json, "total") != 6 || pages > 2 {
			t.Fatalf("page %d: total %v", pages, r.json["total"])
		}
		for _, id := range matchIDs(r) {
			seen[id] = true
		}
		next = ""
		if n := links(t, r)["next"]; n != "" {
			next = e.pathOf(n)
		}
	}
	if len(seen) != 6 {
		t.Fatalf("hub paged through %d of 6", len(seen))
	}
	for _, off := range []string{"6", "600", "100000000000000000"} {
		r := e.do("GET", "/fhir/Patient?_offset="+off, nil, asHub...).mustStatus(t, 200)
		if num(r.json, "total") != 6 || len(matchIDs(r)) != 0 || links(t, r)["next"] != "" {
			t.Fatalf("_offset=%s: %s", off, r.body)
		}
	}
	h := e.do("GET", "/fhir/Patient/"+aID+"/_history", nil, asHub...).mustStatus(t, 200)
	if num(h.json, "total") != 1 {
		t.Fatalf("hub history: %s", h.body)
	}
}

// TestTerminologySearchStrict: an unknown parameter on a CodeSystem or
// ConceptMap search is a warning entry by default and, with Prefer:
// handling=strict, a 400 naming the parameter; never an empty 200.
func TestTerminologySearchStrict(t *testing.T) {
	e := newEnv(t)
	for _, typ := range []string{"CodeSystem", "ConceptMap"} {
		lenient := e.do("GET", "/fhir/"+typ+"?bogus=1", nil).mustStatus(t, http.StatusOK)
		if num(lenient.json, "total") < 1 {
			t.Errorf("%s: lenient search lost its matches: %s", typ, lenient.body)
		}
		if r := e.do("GET", "/fhir/"+typ+"?bogus=1", nil, "Prefer", "handling=strict"); r.status != http.StatusBadRequest || !r.hasIssue("not-supported", "bogus") {
			t.Errorf("%s strict: %d %s", typ, r.status, r.body)
		}
	}
}
