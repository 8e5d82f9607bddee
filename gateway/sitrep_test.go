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

// sitrepEncounter creates an Encounter as token's trust: NCTR since
// nctrSince with a delay reason, finished at end when end is set.
func (e *env) sitrepEncounter(t *testing.T, token, pathway, nctrSince, reason string, end time.Time) string {
	t.Helper()
	as := []string{"Authorization", "Bearer " + token}
	pat := e.do("POST", "/fhir/Patient", fixture(t, "patient.json"), as...).mustStatus(t, http.StatusCreated)
	const base = "https://fhir.discharge-gateway.example/"
	ext := []any{
		map[string]any{"url": base + "StructureDefinition/discharge-pathway",
			"valueCodeableConcept": map[string]any{"coding": []any{map[string]any{"system": base + "CodeSystem/discharge-pathway", "code": pathway}}}},
		map[string]any{"url": base + "StructureDefinition/criteria-to-reside", "extension": []any{
			map[string]any{"url": "met", "valueBoolean": false}, map[string]any{"url": "since", "valueDate": nctrSince}}},
		map[string]any{"url": base + "StructureDefinition/delay-reason",
			"valueCodeableConcept": map[string]any{"coding": []any{map[string]any{"system": mappings.DelayReasonSystem, "code": reason}}}},
	}
	period := map[string]any{"start": end.Add(-10 * 24 * time.Hour).UTC().Format(time.RFC3339)}
	status := "in-progress"
	if !end.IsZero() {
		period["end"] = end.UTC().Format(time.RFC3339)
		status = "finished"
	} else {
		period["start"] = time.Now().Add(-10 * 24 * time.Hour).UTC().Format(time.RFC3339)
	}
	enc := map[string]any{"resourceType": "Encounter", "status": status, "period": period,
		"class":   map[string]any{"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "IMP"},
		"subject": map[string]any{"reference": "Patient/" + str(pat.json, "id")}, "extension": ext}
	return str(e.do("POST", "/fhir/Encounter", enc, as...).mustStatus(t, http.StatusCreated).json, "id")
}

// groupCount is the initial population of the sitrep group code.
func groupCount(t *testing.T, mr any, code string) float64 {
	t.Helper()
	for _, g := range mr.(map[string]any)["group"].([]any) {
		if str(g, "code", "coding", 0, "code") == code {
			return num(g.(map[string]any)["population"].([]any)[0], "count")
		}
	}
	t.Fatalf("no group %s", code)
	return 0
}

// The sitrep over HTTP: written through the FHIR API by two trusts, read
// by each trust (its own only), by their hub (both, or one member), never
// by a care provider; as a searchset, by $evaluate-measure and as CSV.
func TestSitrepOverHTTP(t *testing.T) {
	e := newEnv(t)
	rxb := e.tokenFor("trust-b", auth.RoleTrust, "RXB", clinicalScopes)
	hub := e.tokenFor("hub", auth.RoleHub, "QXH", "system/MeasureReport.rs", "RXA", "RXB")
	home := e.tokenFor("home-1", auth.RoleCareProvider, "1-000000001", directoryScopes)
	now := time.Now()
	today := discharge.Today(now)
	ago := func(days int) string { return discharge.DateOfDay(discharge.DayNumber(today) - int64(days)).String() }
	e.sitrepEncounter(t, e.token, "3", ago(2), "capacity-care-home", time.Time{})
	e.sitrepEncounter(t, e.token, "1", ago(15), "capacity-home-care", time.Time{})
	e.sitrepEncounter(t, e.token, "1", ago(3), "transport", now.Add(-time.Minute))
	e.sitrepEncounter(t, rxb, "2", ago(8), "other", time.Time{})

	q := "/fhir/MeasureReport?measure=" + url.QueryEscape(mappings.SitrepMeasureURL) + "&period=ge" + ago(1) + "&period=le" + today.String()
	as := func(tok string) []string { return []string{"Authorization", "Bearer " + tok} }
	for _, c := range []struct {
		name, token, extra string
		nctr, discharges   float64
	}{
		{"trust RXA, its own", e.token, "", 2, 1},
		{"trust RXB, its own", rxb, "", 1, 0},
		{"the hub, both members", hub, "", 3, 1},
		{"the hub, one member", hub, "&subject=Organization/RXB", 1, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := e.do("GET", q+c.extra, nil, as(c.token)...).mustStatus(t, http.StatusOK)
			if num(r.json, "total") != 1 {
				t.Fatalf("total %v", r.json["total"])
			}
			mr := r.json["entry"].([]any)[0].(map[string]any)["resource"]
			if got := groupCount(t, mr, mappings.SitrepNCTR); got != c.nctr {
				t.Errorf("nctr %v, want %v", got, c.nctr)
			}
			if got := groupCount(t, mr, mappings.SitrepDischarges); got != c.discharges {
				t.Errorf("discharges %v, want %v", got, c.discharges)
			}
		})
	}
	// A trust never reads another's; a care provider reads none.
	e.do("GET", q+"&subject=Organization/RXA", nil, as(rxb)...).mustStatus(t, http.StatusForbidden)
	e.do("GET", q, nil, as(home)...).mustStatus(t, http.StatusForbidden)
	e.do("GET", "/fhir/Measure/discharge-sitrep/$evaluate-measure?periodStart=2026-01-01", nil, as(home)...).mustStatus(t, http.StatusForbidden)
	// Bad input: an OperationOutcome naming the parameter.
	r := e.do("GET", q+"&period=xx2026", nil, as(hub)...).mustStatus(t, http.StatusBadRequest)
	if str(r.json, "issue", 0, "expression", 0) != "period" {
		t.Errorf("bad period: %s", r.body)
	}
	e.do("GET", "/fhir/MeasureReport?measure=Measure/nope", nil, as(hub)...).mustStatus(t, http.StatusNotFound)

	ev := e.do("GET", "/fhir/Measure/discharge-sitrep/$evaluate-measure?periodStart="+ago(1)+"&periodEnd="+today.String(), nil, as(hub)...).mustStatus(t, http.StatusOK)
	if str(ev.json, "resourceType") != "MeasureReport" || groupCount(t, ev.json, mappings.SitrepNCTR) != 3 || str(ev.json, "subject", "identifier", "value") != "QXH" {
		t.Fatalf("$evaluate-measure %s", ev.body)
	}
	csv := e.do("GET", "/api/v1/sitrep.csv?period="+today.String(), nil, as(e.token)...).mustStatus(t, http.StatusOK)
	lines := strings.Split(strings.TrimSpace(string(csv.body)), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "org_code,period_date,weekend,discharges_p0") || !strings.HasPrefix(lines[1], "RXA,"+today.String()) {
		t.Fatalf("csv %q", csv.body)
	}
	// The capacity history still answers MeasureReport search, with the
	// capacity measure or none.
	for _, m := range []string{"", "&measure=" + url.QueryEscape(mappings.CapacityMeasureURL)} {
		if r := e.do("GET", "/fhir/MeasureReport?subject=Location/none"+m, nil); r.status != http.StatusOK && r.status != http.StatusNotFound {
			t.Errorf("capacity search %s: %d %s", m, r.status, r.body)
		}
	}
}
