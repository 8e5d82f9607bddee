package gateway_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/dischargegateway/gateway/auth"
)

const measureURL = "https://fhir.discharge-gateway.example/Measure/care-home-capacity"

func measureReport(loc string, asOf time.Time, accepting int) map[string]any {
	pop := func(code string, n int) map[string]any {
		return map[string]any{"code": map[string]any{"coding": []any{map[string]any{
			"system": "https://fhir.discharge-gateway.example/CodeSystem/capacity-population", "code": code}}}, "count": n}
	}
	return map[string]any{"resourceType": "MeasureReport", "status": "complete", "type": "summary", "measure": measureURL,
		"subject": map[string]any{"reference": loc}, "date": asOf.UTC().Format(time.RFC3339),
		"period": map[string]any{"start": asOf.Add(-time.Hour).UTC().Format(time.RFC3339), "end": asOf.UTC().Format(time.RFC3339)},
		"group": []any{map[string]any{
			"code": map[string]any{"coding": []any{map[string]any{"system": "https://fhir.discharge-gateway.example/CodeSystem/bed-type", "code": "nursing-dementia"}}},
			"population": []any{pop("max-capacity", 30), pop("occupied", 30-accepting), pop("vacant-reserved", 0),
				pop("vacant-accepting-admissions", accepting), pop("closed-to-admissions", 0)}}}}
}

func TestMeasureReportCapacity(t *testing.T) {
	e := newEnv(t)
	home1 := e.tokenFor("home-1", auth.RoleCareProvider, "1-000000001", directoryScopes)
	home2 := e.tokenFor("home-2", auth.RoleCareProvider, "1-000000002", directoryScopes)
	as := func(tok string) []string { return []string{"Authorization", "Bearer " + tok} }
	r := e.do("POST", "/fhir", providerBundle("1-000000001", "1-466088203", "nursing-dementia"), as(home1)...).mustStatus(t, 200)
	_, loc, _ := refsOf(t, r)
	now := time.Now()

	created := e.do("POST", "/fhir/MeasureReport", measureReport(loc, now.Add(-2*time.Hour), 2), as(home1)...).mustStatus(t, http.StatusCreated)
	if str(created.json, "resourceType") != "MeasureReport" || created.header.Get("Location") == "" {
		t.Fatalf("%s", created.body)
	}
	e.do("POST", "/fhir/MeasureReport", measureReport(loc, now.Add(-time.Hour), 5), as(home1)...).mustStatus(t, http.StatusCreated)
	// The JSON shape posts into the same history.
	id := strings.TrimPrefix(loc, "Location/")
	e.do("PUT", "/api/v1/capacity/"+id, capacityBody(now.Add(-time.Minute), 7), append(as(home1), "Content-Type", "application/json")...).mustStatus(t, 200)

	latest := e.do("GET", "/fhir/MeasureReport?subject="+loc+"&_sort=-date&_count=1", nil).mustStatus(t, http.StatusOK)
	// Bundle.total counts every posting kept, not the page.
	if num(latest.json, "total") != 3 || len(latest.json["entry"].([]any)) != 1 || !strings.Contains(string(latest.body), `"code":"vacant-accepting-admissions"},"count":7`) &&
		!strings.Contains(string(latest.body), `"count":7`) {
		t.Fatalf("latest: %s", latest.body)
	}
	if !strings.Contains(string(latest.body), `"code":"fresh"`) {
		t.Fatalf("no freshness tag: %s", latest.body)
	}
	all := e.do("GET", "/fhir/MeasureReport?subject="+loc, nil).mustStatus(t, http.StatusOK)
	if num(all.json, "total") != 3 {
		t.Fatalf("history: %s", all.body)
	}
	measure := e.do("GET", "/fhir/Measure/care-home-capacity", nil, "Authorization", "").mustStatus(t, http.StatusOK)
	if str(measure.json, "url") != measureURL {
		t.Fatalf("%s", measure.body)
	}

	bad := []struct {
		name       string
		mut        func(m map[string]any)
		status     int
		code, expr string
	}{
		{"wrong measure", func(m map[string]any) { m["measure"] = "http://example.org/other" }, 400, "value", "MeasureReport.measure"},
		{"subject not a Location", func(m map[string]any) { m["subject"] = map[string]any{"reference": "Patient/x"} }, 400, "required", "MeasureReport.subject"},
		{"missing population", func(m map[string]any) {
			g := m["group"].([]any)[0].(map[string]any)
			g["population"] = g["population"].([]any)[:2]
		}, 400, "required", "MeasureReport.group[0].population"},
		{"over capacity", func(m map[string]any) {
			g := m["group"].([]any)[0].(map[string]any)
			g["population"].([]any)[3].(map[string]any)["count"] = 99
		}, 400, "value", "MeasureReport.group[0]"},
		{"no date or period", func(m map[string]any) { delete(m, "date"); delete(m, "period") }, 400, "required", "MeasureReport.period"},
		{"period without end", func(m map[string]any) {
			delete(m, "date")
			m["period"] = map[string]any{"start": "2026-11-24T08:00:00Z"}
		}, 400, "required", "MeasureReport.date"},
		{"unknown location", func(m map[string]any) { m["subject"] = map[string]any{"reference": "Location/none"} }, 404, "not-found", "MeasureReport.subject"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			m := measureReport(loc, now, 1)
			tc.mut(m)
			r := e.do("POST", "/fhir/MeasureReport", m, as(home1)...)
			if r.status != tc.status || !r.hasIssue(tc.code, tc.expr) {
				t.Fatalf("%d %s", r.status, r.body)
			}
		})
	}
	t.Run("another provider's location", func(t *testing.T) {
		r := e.do("POST", "/fhir/MeasureReport", measureReport(loc, now, 1), as(home2)...).mustStatus(t, http.StatusForbidden)
		if !r.hasIssue("forbidden", "MeasureReport.subject") {
			t.Fatalf("%s", r.body)
		}
	})
}

// TestMeasureReportSearchPaging checks that a location's capacity history
// pages with _count and _offset, newest first, that total counts every
// posting kept (not the page) and that next and previous links walk it.
func TestMeasureReportSearchPaging(t *testing.T) {
	e := newEnv(t)
	home1 := e.tokenFor("home-1", auth.RoleCareProvider, "1-000000001", directoryScopes)
	as := []string{"Authorization", "Bearer " + home1}
	r := e.do("POST", "/fhir", providerBundle("1-000000001", "1-466088203", "nursing-dementia"), as...).mustStatus(t, 200)
	_, loc, _ := refsOf(t, r)
	now := time.Now()
	for i := range 5 {
		e.do("POST", "/fhir/MeasureReport", measureReport(loc, now.Add(time.Duration(i-5)*time.Hour), i), as...).mustStatus(t, http.StatusCreated)
	}
	search := "/fhir/MeasureReport?subject=" + loc
	ids := func(r resp) []string {
		var out []string
		entries, _ := r.json["entry"].([]any)
		for _, en := range entries {
			out = append(out, str(en, "resource", "id"))
		}
		return out
	}
	id := strings.TrimPrefix(loc, "Location/")
	for _, tc := range []struct {
		name       string
		query      string
		want       []string
		prev, next bool
	}{
		{"first page", "&_count=2", []string{id + "-v5", id + "-v4"}, false, true},
		{"middle page", "&_count=2&_offset=2", []string{id + "-v3", id + "-v2"}, true, true},
		{"last page", "&_count=2&_offset=4", []string{id + "-v1"}, true, false},
		{"past the end", "&_count=2&_offset=9", nil, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do("GET", search+tc.query, nil).mustStatus(t, http.StatusOK)
			if num(r.json, "total") != 5 {
				t.Fatalf("total: %s", r.body)
			}
			if got := ids(r); strings.Join(got, ",") != strings.Join(tc.want, ",") {
				t.Fatalf("entries %v, want %v", got, tc.want)
			}
			if (link(r, "previous") != "") != tc.prev || (link(r, "next") != "") != tc.next {
				t.Fatalf("links: %v", r.json["link"])
			}
		})
	}
	next := link(e.do("GET", search+"&_count=2", nil), "next")
	if u := strings.Index(next, "/fhir/"); u < 0 || !strings.Contains(next, "_offset=2") || !strings.Contains(next, "subject=") {
		t.Fatalf("next link %q", next)
	} else if got := ids(e.do("GET", next[u:], nil).mustStatus(t, http.StatusOK)); len(got) != 2 || got[0] != id+"-v3" {
		t.Fatalf("following next: %v", got)
	}
	for _, q := range []string{"&_count=-1", "&_offset=x"} {
		if r := e.do("GET", search+q, nil); r.status != http.StatusBadRequest || !r.hasIssue("value", strings.Split(q[1:], "=")[0]) {
			t.Errorf("%s: %d %s", q, r.status, r.body)
		}
	}
	// An unknown parameter is a warning in the outcome entry (the one
	// warnings entry of every searchset), not applied and not in the links;
	// with Prefer: handling=strict it is refused.
	lenient := e.do("GET", search+"&_count=2&bogus=1", nil).mustStatus(t, http.StatusOK)
	entries := lenient.json["entry"].([]any)
	last := entries[len(entries)-1]
	if str(last, "search", "mode") != "outcome" || str(last, "fullUrl") != "" || str(last, "resource", "resourceType") != "OperationOutcome" {
		t.Fatalf("no outcome entry: %s", lenient.body)
	}
	is := last.(map[string]any)["resource"].(map[string]any)["issue"].([]any)
	if len(is) != 1 || str(is[0], "severity") != "warning" || str(is[0], "code") != "not-supported" || is[0].(map[string]any)["expression"].([]any)[0] != "bogus" {
		t.Fatalf("outcome entry: %s", lenient.body)
	}
	if strings.Contains(link(lenient, "next"), "bogus") {
		t.Errorf("an ignored parameter is in the next link: %s", link(lenient, "next"))
	}
	if r := e.do("GET", search+"&bogus=1", nil, "Prefer", "handling=strict"); r.status != http.StatusBadRequest || !r.hasIssue("not-supported", "bogus") {
		t.Errorf("strict: %d %s", r.status, r.body)
	}
}
