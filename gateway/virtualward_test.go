package gateway_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/dischargegateway/gateway/auth"
	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/mappings"
)

// wardProvider registers a virtual-ward provider: its Organization in ICB
// icb (Organization.partOf by ODS code) and its Location at postcode.
func (e *env) wardProvider(t *testing.T, token, cqc, location, postcode, icb string) string {
	t.Helper()
	b := providerBundle(cqc, location, "virtual-ward")
	entries := b["entry"].([]any)
	entries[0].(map[string]any)["resource"].(map[string]any)["partOf"] = map[string]any{
		"identifier": map[string]any{"system": mappings.ODSSystem, "value": icb}}
	entries[1].(map[string]any)["resource"].(map[string]any)["address"] = map[string]any{"postalCode": postcode}
	entries[1].(map[string]any)["resource"].(map[string]any)["name"] = "Virtual ward " + location
	r := e.do("POST", "/fhir", b, "Authorization", "Bearer "+token).mustStatus(t, http.StatusOK)
	_, loc, _ := refsOf(t, r)
	return strings.TrimPrefix(loc, "Location/")
}

// wardMeasureReport is a capacity MeasureReport with one virtual-ward bed
// group: occupied of max, the rest accepting admissions.
func wardMeasureReport(loc string, asOf time.Time, occupied, max int) map[string]any {
	mr := measureReport("Location/"+loc, asOf, 0)
	pop := func(code string, n int) map[string]any {
		return map[string]any{"code": map[string]any{"coding": []any{map[string]any{
			"system": mappings.PopulationSystem, "code": code}}}, "count": n}
	}
	mr["group"] = []any{map[string]any{
		"code": map[string]any{"coding": []any{map[string]any{"system": mappings.BedTypeSystem, "code": "virtual-ward"}}},
		"population": []any{pop("max-capacity", max), pop("occupied", occupied), pop("vacant-reserved", 0),
			pop("vacant-accepting-admissions", max-occupied), pop("closed-to-admissions", 0)}}}
	return mr
}

// wardGroup finds a group of the report by code.
func wardGroup(t *testing.T, mr any, code string) map[string]any {
	t.Helper()
	for _, g := range mr.(map[string]any)["group"].([]any) {
		if str(g, "code", "coding", 0, "code") == code {
			return g.(map[string]any)
		}
	}
	t.Fatalf("no group %s", code)
	return nil
}

// fraction is a group's or stratum's numerator/denominator.
func fraction(v any) (int, int) {
	var n, d int
	for _, p := range v.(map[string]any)["population"].([]any) {
		switch str(p, "code", "coding", 0, "code") {
		case "numerator":
			n = int(num(p, "count"))
		case "denominator":
			d = int(num(p, "count"))
		}
	}
	return n, d
}

// strata maps a stratifier's stratum texts to numerator/denominator.
func strata(t *testing.T, g map[string]any, code string) map[string][2]int {
	t.Helper()
	for _, s := range g["stratifier"].([]any) {
		if str(s, "code", 0, "coding", 0, "code") == code {
			out := map[string][2]int{}
			list, _ := s.(map[string]any)["stratum"].([]any)
			for _, st := range list {
				n, d := fraction(st)
				out[str(st, "value", "text")] = [2]int{n, d}
			}
			return out
		}
	}
	t.Fatalf("no stratifier %s", code)
	return nil
}

// Virtual wards over HTTP: two wards post through the JSON capacity API
// and as a FHIR MeasureReport, a care home posts too; trusts and hubs read
// occupancy against the target by ward, ICB and district as a MeasureReport
// and as CSV, care providers do not; bad input is an OperationOutcome at
// the parameter.
func TestVirtualWardsOverHTTP(t *testing.T) {
	e := newEnv(t)
	vw1 := e.tokenFor("vw-1", auth.RoleCareProvider, "1-000000011", directoryScopes)
	vw2 := e.tokenFor("vw-2", auth.RoleCareProvider, "1-000000012", directoryScopes)
	home := e.tokenFor("home-1", auth.RoleCareProvider, "1-000000001", directoryScopes)
	hub := e.tokenFor("hub", auth.RoleHub, "QXH", "system/MeasureReport.rs", "RXA", "RXB")
	l1 := e.wardProvider(t, vw1, "1-000000011", "1-000000111", "M14 4AB", "QOP")
	l2 := e.wardProvider(t, vw2, "1-000000012", "1-000000112", "SK3 0AA", "QWO")
	r := e.do("POST", "/fhir", providerBundle("1-000000001", "1-466088203", "nursing-dementia"), "Authorization", "Bearer "+home).mustStatus(t, http.StatusOK)
	_, homeLoc, _ := refsOf(t, r)
	now := time.Now()
	as := func(tok string) []string { return []string{"Authorization", "Bearer " + tok} }
	json := func(tok string) []string {
		return []string{"Authorization", "Bearer " + tok, "Content-Type", "application/json"}
	}

	e.do("PUT", "/api/v1/capacity/"+l1, map[string]any{"asOf": now.Add(-time.Minute).UTC().Format(time.RFC3339), "beds": []any{
		map[string]any{"type": "virtual-ward", "maxCapacity": 20, "occupied": 17, "reserved": 0, "acceptingAdmissions": 3}}},
		json(vw1)...).mustStatus(t, http.StatusOK)
	e.do("POST", "/fhir/MeasureReport", wardMeasureReport(l2, now.Add(-2*time.Minute), 5, 10), "Authorization", "Bearer "+vw2).
		mustStatus(t, http.StatusCreated)
	e.do("PUT", "/api/v1/capacity/"+strings.TrimPrefix(homeLoc, "Location/"), capacityBody(now.Add(-time.Minute), 4), json(home)...).
		mustStatus(t, http.StatusOK)

	// A summary of every bed type near the wards leaves virtual wards out;
	// asked for by bed type, it has them.
	all := e.do("GET", "/api/v1/capacity?near=53.44,-2.22&radiusKm=10", nil, as(hub)...).mustStatus(t, http.StatusOK)
	if !strings.Contains(string(all.body), strings.TrimPrefix(homeLoc, "Location/")) || strings.Contains(string(all.body), l1) {
		t.Errorf("default summary: %s", all.body)
	}
	vws := e.do("GET", "/api/v1/capacity?near=53.44,-2.22&radiusKm=10&bedType=virtual-ward", nil, as(hub)...).mustStatus(t, http.StatusOK)
	if !strings.Contains(string(vws.body), l1) {
		t.Errorf("virtual-ward summary: %s", vws.body)
	}

	today := discharge.Today(now)
	yesterday := discharge.DateOfDay(discharge.DayNumber(today) - 1)
	q := "/fhir/MeasureReport?measure=" + url.QueryEscape(mappings.VirtualWardMeasureURL) + "&period=ge" + yesterday.String() + "&period=le" + today.String()
	for _, tok := range []string{hub, e.token} {
		got := e.do("GET", q, nil, as(tok)...).mustStatus(t, http.StatusOK)
		if str(got.json, "type") != "searchset" || num(got.json, "total") != 1 {
			t.Fatalf("%s", got.body)
		}
		mr := got.json["entry"].([]any)[0].(map[string]any)["resource"]
		occ := wardGroup(t, mr, mappings.WardOccupancy)
		if n, d := fraction(occ); n != 22 || d != 30 || num(occ["measureScore"], "value") != 0.7333 {
			t.Errorf("occupancy %d/%d %v", n, d, occ["measureScore"])
		}
		if s := strata(t, occ, mappings.StratICB); s["QOP"] != [2]int{17, 20} || s["QWO"] != [2]int{5, 10} || len(s) != 2 {
			t.Errorf("by ICB: %v", s)
		}
		if s := strata(t, occ, mappings.StratDistrict); s["M14"] != [2]int{17, 20} || s["SK3"] != [2]int{5, 10} || len(s) != 2 {
			t.Errorf("by district: %v", s)
		}
		if s := strata(t, occ, mappings.StratTarget); s[mappings.TargetBelow] != [2]int{5, 10} || s[mappings.TargetMet] != [2]int{17, 20} {
			t.Errorf("against target: %v", s)
		}
		if s := strata(t, occ, mappings.StratWard); s[l1+" (Virtual ward 1-000000111)"] != [2]int{17, 20} || len(s) != 2 {
			t.Errorf("by ward: %v", s)
		}
		trend := wardGroup(t, mr, mappings.WardTrend)
		if s := strata(t, trend, mappings.StratDay); s[today.String()] != [2]int{22, 30} || len(s) != 2 {
			t.Errorf("trend: %v", s)
		}
	}
	// One ICB.
	one := e.do("GET", q+"&subject=Organization/QOP", nil, as(hub)...).mustStatus(t, http.StatusOK)
	if n, d := fraction(wardGroup(t, one.json["entry"].([]any)[0].(map[string]any)["resource"], mappings.WardOccupancy)); n != 17 || d != 20 {
		t.Errorf("QOP: %d/%d", n, d)
	}
	// $evaluate-measure, for one ward and a period.
	ev := e.do("GET", "/fhir/Measure/"+mappings.VirtualWardMeasureID+"/$evaluate-measure?periodStart="+yesterday.String()+
		"&periodEnd="+today.String()+"&subject=Location/"+l2, nil, as(e.token)...).mustStatus(t, http.StatusOK)
	if n, d := fraction(wardGroup(t, ev.json, mappings.WardOccupancy)); str(ev.json, "resourceType") != "MeasureReport" ||
		str(ev.json, "subject", "reference") != "Location/"+l2 || str(ev.json, "period", "start") != yesterday.String() || n != 5 || d != 10 {
		t.Errorf("$evaluate-measure: %s", ev.body)
	}
	e.do("GET", "/fhir/Measure/"+mappings.VirtualWardMeasureID+"/$evaluate-measure", nil, as(vw1)...).mustStatus(t, http.StatusForbidden)
	// CSV.
	csv := e.do("GET", "/api/v1/virtual-wards.csv?period="+today.String(), nil, as(hub)...).mustStatus(t, http.StatusOK)
	if !strings.HasPrefix(csv.header.Get("Content-Type"), "text/csv") ||
		!strings.Contains(string(csv.body), today.String()+",total,,,22,30,73.3,80,true,,") ||
		!strings.Contains(string(csv.body), today.String()+",icb,QOP,,17,20,85.0,80,false,,") {
		t.Errorf("csv:\n%s", csv.body)
	}
	// The Measure is published.
	m := e.do("GET", "/fhir/Measure/"+mappings.VirtualWardMeasureID, nil).mustStatus(t, http.StatusOK)
	if str(m.json, "url") != mappings.VirtualWardMeasureURL {
		t.Errorf("%s", m.body)
	}

	for _, c := range []struct {
		name, path, token string
		status            int
		code, expr        string
	}{
		{"a care provider reads none", q, vw1, http.StatusForbidden, "forbidden", ""},
		{"nor its CSV", "/api/v1/virtual-wards.csv", vw1, http.StatusForbidden, "forbidden", ""},
		{"a subject of another type", q + "&subject=Patient/1", hub, http.StatusBadRequest, "value", "subject"},
		{"a period that is no date", q + "&period=yesterday", hub, http.StatusBadRequest, "value", "period"},
		{"a period prefix not supported", "/api/v1/virtual-wards.csv?period=gt2026-11-01", hub, http.StatusBadRequest, "not-supported", "period"},
		{"a period over 92 days", "/api/v1/virtual-wards.csv?period=ge2026-01-01&period=le2026-11-01", hub, http.StatusRequestEntityTooLarge, "too-long", "period"},
		{"a period ending before it starts", "/api/v1/virtual-wards.csv?period=ge2026-11-02&period=le2026-11-01", hub, http.StatusBadRequest, "value", "period"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := e.do("GET", c.path, nil, as(c.token)...).mustStatus(t, c.status)
			if code, expr := r.issue(t); code != c.code || expr != c.expr {
				t.Errorf("%s at %q: %s", code, expr, r.body)
			}
		})
	}
	strict := e.do("GET", q+"&color=blue", nil, "Authorization", "Bearer "+hub, "Prefer", "handling=strict").mustStatus(t, http.StatusBadRequest)
	if code, expr := strict.issue(t); code != "not-supported" || expr != "color" {
		t.Errorf("strict: %s", strict.body)
	}
	lenient := e.do("GET", q+"&color=blue", nil, as(hub)...).mustStatus(t, http.StatusOK)
	if len(lenient.json["entry"].([]any)) != 2 {
		t.Errorf("no warning entry: %s", lenient.body)
	}
}
