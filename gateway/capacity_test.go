package gateway_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/dischargegateway/gateway/auth"
)

func capacityBody(asOf time.Time, accepting int) map[string]any {
	return map[string]any{"asOf": asOf.UTC().Format(time.RFC3339), "beds": []any{
		map[string]any{"type": "nursing-dementia", "maxCapacity": 30, "occupied": 30 - accepting - 1, "reserved": 1,
			"acceptingAdmissions": accepting, "closedToAdmissions": false}}}
}

func TestCapacityPostingAndFreshness(t *testing.T) {
	e := newEnv(t)
	home1 := e.tokenFor("home-1", auth.RoleCareProvider, "1-000000001", directoryScopes)
	home2 := e.tokenFor("home-2", auth.RoleCareProvider, "1-000000002", directoryScopes)
	as := func(tok string) []string {
		return []string{"Authorization", "Bearer " + tok, "Content-Type", "application/json"}
	}
	r := e.do("POST", "/fhir", providerBundle("1-000000001", "1-466088203", "nursing-dementia"), as(home1)...).mustStatus(t, 200)
	_, loc1, _ := refsOf(t, r)
	id := strings.TrimPrefix(loc1, "Location/")
	now := time.Now()

	put := e.do("PUT", "/api/v1/capacity/"+id, capacityBody(now.Add(-time.Minute), 4), as(home1)...).mustStatus(t, http.StatusOK)
	if put.json["applied"] != true || str(put.json, "capacity", "freshness") != "fresh" {
		t.Fatalf("%s", put.body)
	}
	older := e.do("PUT", "/api/v1/capacity/"+id, capacityBody(now.Add(-time.Hour), 9), as(home1)...).mustStatus(t, http.StatusOK)
	if older.json["applied"] != false || !strings.Contains(string(older.body), "ignored") {
		t.Fatalf("older posting: %s", older.body)
	}
	got := e.do("GET", "/api/v1/capacity/"+id, nil).mustStatus(t, http.StatusOK)
	if !strings.Contains(string(got.body), `"acceptingAdmissions":4`) {
		t.Fatalf("older posting overwrote newer: %s", got.body)
	}

	t.Run("validation", func(t *testing.T) {
		mut := func(f func(m map[string]any)) map[string]any {
			b := capacityBody(now, 2)
			f(b)
			return b
		}
		// raw is the body as JSON with its first old replaced by new, or
		// with new appended when old is empty: what a map cannot say.
		raw := func(body map[string]any, old, new string) string {
			b, _ := json.Marshal(body)
			if old == "" {
				return string(b) + new
			}
			if !strings.Contains(string(b), old) {
				t.Fatalf("%s has no %s", b, old)
			}
			return strings.Replace(string(b), old, new, 1)
		}
		bed := func(m map[string]any) map[string]any { return m["beds"].([]any)[0].(map[string]any) }
		tests := []struct {
			name       string
			body       any
			code, expr string
		}{
			{"negative count", mut(func(m map[string]any) { bed(m)["reserved"] = -1 }), "value", "beds[0].reserved"},
			{"over capacity", mut(func(m map[string]any) { bed(m)["acceptingAdmissions"] = 40 }), "value", "beds[0]"},
			{"not an integer", mut(func(m map[string]any) { bed(m)["occupied"] = 2.5 }), "structure", "beds[0].occupied"},
			{"a string for a count", mut(func(m map[string]any) { bed(m)["occupied"] = "3" }), "structure", "beds[0].occupied"},
			{"a count out of range", raw(mut(func(map[string]any) {}), `"occupied":`, `"occupied":99999999999999999999999,"x":`), "value", "beds[0].occupied"},
			{"unknown member of a bed", mut(func(m map[string]any) { bed(m)["colour"] = "red" }), "structure", "beds[0].colour"},
			{"a member in another case", raw(mut(func(map[string]any) {}), `"asOf":`, `"ASOF":`), "structure", "ASOF"},
			{"a member twice", raw(mut(func(map[string]any) {}), `"asOf":`, `"asOf":"2026-01-01T00:00:00Z","asOf":`), "structure", "asOf"},
			{"a second value after the body", raw(mut(func(map[string]any) {}), "", ` {"asOf":"2026-01-01T00:00:00Z"}`), "structure", ""},
			{"cut off inside a member", "{\"asOf\": ", "structure", "asOf"},
			{"not JSON", "{asOf", "structure", ""},
			{"unknown bed type", mut(func(m map[string]any) { bed(m)["type"] = "penthouse" }), "code-invalid", "beds[0].type"},
			{"asOf in the future", mut(func(m map[string]any) { m["asOf"] = now.Add(time.Hour).UTC().Format(time.RFC3339) }), "value", "asOf"},
			{"asOf missing", mut(func(m map[string]any) { delete(m, "asOf") }), "required", "asOf"},
			{"asOf without zone", mut(func(m map[string]any) { m["asOf"] = "2026-11-24T10:00:00" }), "value", "asOf"},
			{"unknown field", mut(func(m map[string]any) { m["vacancies"] = 3 }), "structure", "vacancies"},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				r := e.do("PUT", "/api/v1/capacity/"+id, tc.body, as(home1)...).mustStatus(t, http.StatusBadRequest)
				if !r.hasIssue(tc.code, tc.expr) {
					t.Fatalf("no %s at %s: %s", tc.code, tc.expr, r.body)
				}
			})
		}
	})
	t.Run("only the owner posts, only for known locations", func(t *testing.T) {
		e.do("PUT", "/api/v1/capacity/"+id, capacityBody(now, 1), as(home2)...).mustStatus(t, http.StatusForbidden)
		e.do("PUT", "/api/v1/capacity/no-such-location", capacityBody(now, 1), as(home1)...).mustStatus(t, http.StatusNotFound)
		e.do("PUT", "/api/v1/capacity/"+id, capacityBody(now, 1), "Content-Type", "application/json").mustStatus(t, http.StatusForbidden) // a trust
	})
	t.Run("fresh, then stale, then unknown", func(t *testing.T) {
		summary := func() resp {
			return e.do("GET", "/api/v1/capacity?near=53.44,-2.22&radiusKm=10&setting=nursing-dementia", nil).mustStatus(t, http.StatusOK)
		}
		s := summary()
		if str(s.json, "locations", 0, "locationId") != id || str(s.json, "locations", 0, "freshness") != "fresh" ||
			num(s.json["acceptingByFreshness"], "fresh") != 4 {
			t.Fatalf("fresh: %s", s.body)
		}
		e.clock.advance(25 * time.Hour)
		s = summary()
		if str(s.json, "locations", 0, "freshness") != "stale" || num(s.json["acceptingByFreshness"], "stale") != 4 {
			t.Fatalf("stale: %s", s.body)
		}
		if g := e.do("GET", "/api/v1/capacity/"+id, nil); str(g.json, "freshness") != "stale" {
			t.Fatalf("read: %s", g.body)
		}
		e.clock.advance(7 * 24 * time.Hour)
		s = summary()
		if str(s.json, "locations", 0, "freshness") != "unknown" || num(s.json["acceptingByFreshness"], "unknown") != 0 {
			t.Fatalf("unknown: %s", s.body)
		}
		byPostcode := e.do("GET", "/api/v1/capacity?postcode=M14%204AB&radiusKm=10&setting=nursing-dementia", nil).mustStatus(t, http.StatusOK)
		if str(byPostcode.json, "locations", 0, "locationId") != id {
			t.Fatalf("by postcode: %s", byPostcode.body)
		}
		e.do("GET", "/api/v1/capacity?postcode=ZZ99%209ZZ", nil).mustStatus(t, http.StatusBadRequest)
		// Far away: nothing.
		far := e.do("GET", "/api/v1/capacity?near=51.5,-0.12&radiusKm=20", nil).mustStatus(t, http.StatusOK)
		if locs, _ := far.json["locations"].([]any); len(locs) != 0 {
			t.Fatalf("London: %s", far.body)
		}
	})
	t.Run("home care is summarised by district", func(t *testing.T) {
		hc := map[string]any{"asOf": e.clock.now().UTC().Format(time.RFC3339), "homeCare": []any{
			map[string]any{"outcodes": []any{"M14", "M20"}, "hoursPerWeek": 40, "packages": 2, "earliestStart": "2026-11-25"}}}
		e.do("PUT", "/api/v1/capacity/"+id, hc, as(home1)...).mustStatus(t, http.StatusOK)
		s := e.do("GET", "/api/v1/capacity?postcode=M14%204AB&setting=home-care", nil).mustStatus(t, http.StatusOK)
		if str(s.json, "outcode") != "M14" || str(s.json, "providers", 0, "locationId") != id || num(s.json["hoursPerWeekByFreshness"], "fresh") != 40 {
			t.Fatalf("%s", s.body)
		}
		other := e.do("GET", "/api/v1/capacity?postcode=SK3%200AB&setting=home-care", nil).mustStatus(t, http.StatusOK)
		if ps, _ := other.json["providers"].([]any); len(ps) != 0 {
			t.Fatalf("%s", other.body)
		}
	})
	t.Run("summary parameters", func(t *testing.T) {
		for q, want := range map[string][2]string{
			"radiusKm=5":                       {"required", "near"},
			"near=north":                       {"value", "near"},
			"near=53.4,-2.2&bedType=penthouse": {"code-invalid", "bedType"},
			"near=53.4,-2.2&colour=blue":       {"not-supported", "colour"},
			"near=53.4,-2.2&radiusKm=900":      {"value", "radiusKm"},
		} {
			r := e.do("GET", "/api/v1/capacity?"+q, nil)
			if r.status != 400 || !r.hasIssue(want[0], want[1]) {
				t.Errorf("%s: %d %s", q, r.status, r.body)
			}
		}
	})
}

func TestCapacityCSVImport(t *testing.T) {
	e := newEnv(t)
	home1 := e.tokenFor("home-1", auth.RoleCareProvider, "1-000000001", directoryScopes)
	home2 := e.tokenFor("home-2", auth.RoleCareProvider, "1-000000002", directoryScopes)
	r := e.do("POST", "/fhir", providerBundle("1-000000001", "1-466088203", "nursing-dementia"), "Authorization", "Bearer "+home1).mustStatus(t, 200)
	_, loc1, _ := refsOf(t, r)
	r = e.do("POST", "/fhir", providerBundle("1-000000002", "1-999999999", "residential"), "Authorization", "Bearer "+home2).mustStatus(t, 200)
	_, loc2, _ := refsOf(t, r)
	id1, id2 := strings.TrimPrefix(loc1, "Location/"), strings.TrimPrefix(loc2, "Location/")
	asOf := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
	csv := "locationId,bedType,asOf,maxCapacity,occupied,reserved,acceptingAdmissions,closedToAdmissions\n" +
		id1 + ",nursing," + asOf + ",20,18,0,2,false\n" + // row 2: ok
		id1 + ",nursing-dementia," + asOf + ",10,9,0,1,no\n" + // row 3: ok (same posting)
		id2 + ",residential," + asOf + ",10,9,0,1,false\n" + // row 4: another provider's location
		"nowhere,nursing," + asOf + ",10,9,0,1,false\n" + // row 5: unknown location
		id1 + ",nursing,yesterday,10,9,0,1,false\n" + // row 6: bad asOf
		id1 + ",nursing," + asOf + ",10,lots,0,1,false\n" // row 7: not a number
	rep := e.do("POST", "/api/v1/capacity/import", csv, "Authorization", "Bearer "+home1, "Content-Type", "text/csv").mustStatus(t, 200)
	if num(rep.json, "rows") != 6 || num(rep.json, "accepted") != 2 {
		t.Fatalf("%s", rep.body)
	}
	rejected := string(rep.body)
	for _, want := range []string{`"row":4,"column":"locationId"`, `"row":5,"column":"locationId"`, `"row":6,"column":"asOf"`, `"row":7,"column":"occupied"`} {
		if !strings.Contains(rejected, want) {
			t.Fatalf("missing %s in %s", want, rejected)
		}
	}
	got := e.do("GET", "/api/v1/capacity/"+id1, nil).mustStatus(t, 200)
	if !strings.Contains(string(got.body), `"type":"nursing-dementia"`) || !strings.Contains(string(got.body), `"type":"nursing"`) {
		t.Fatalf("%s", got.body)
	}
	// A rule broken inside a posting rejects its rows with the field.
	over := "locationId,bedType,asOf,maxCapacity,occupied,reserved,acceptingAdmissions,closedToAdmissions\n" +
		id1 + ",nursing," + time.Now().UTC().Format(time.RFC3339) + ",5,5,0,3,false\n"
	rep = e.do("POST", "/api/v1/capacity/import", over, "Authorization", "Bearer "+home1, "Content-Type", "text/csv").mustStatus(t, 200)
	if num(rep.json, "accepted") != 0 || !strings.Contains(string(rep.body), `"row":2,"column":"beds[0]"`) {
		t.Fatalf("%s", rep.body)
	}
}

// TestCapacitySummaryRejectsNonFinite checks that NaN and infinities,
// which strconv.ParseFloat accepts and which fail every comparison, are
// refused as values rather than passing the range checks.
func TestCapacitySummaryRejectsNonFinite(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct{ query, expr string }{
		{"near=53.4,-2.2&radiusKm=NaN", "radiusKm"},
		{"near=53.4,-2.2&radiusKm=nan", "radiusKm"},
		{"near=53.4,-2.2&radiusKm=Inf", "radiusKm"},
		{"near=53.4,-2.2&radiusKm=-Inf", "radiusKm"},
		{"near=NaN,-2.2", "near"},
		{"near=53.4,NaN", "near"},
		{"near=Inf,-2.2", "near"},
	} {
		t.Run(tc.query, func(t *testing.T) {
			r := e.do("GET", "/api/v1/capacity?"+tc.query, nil)
			if r.status != http.StatusBadRequest || !r.hasIssue("value", tc.expr) {
				t.Fatalf("%d %s", r.status, r.body)
			}
		})
	}
}
