package gateway_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/dischargegateway/gateway/auth"
	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/internal/testclock"
	"github.com/dischargegateway/gateway/mappings"
)

// forecastEncounter creates an open Encounter as token's trust, of a
// Patient living in M14 (testdata/patient.json), on pathway with an
// expected discharge date edd.
func (e *env) forecastEncounter(t *testing.T, token, pathway, edd string) string {
	t.Helper()
	as := []string{"Authorization", "Bearer " + token}
	pat := e.do("POST", "/fhir/Patient", fixture(t, "patient.json"), as...).mustStatus(t, http.StatusCreated)
	const base = "https://fhir.discharge-gateway.example/"
	ext := []any{
		map[string]any{"url": base + "StructureDefinition/discharge-pathway",
			"valueCodeableConcept": map[string]any{"coding": []any{map[string]any{"system": base + "CodeSystem/discharge-pathway", "code": pathway}}}},
		map[string]any{"url": "http://hl7.org/fhir/5.0/StructureDefinition/extension-Encounter.plannedEndDate", "valueDateTime": edd},
	}
	enc := map[string]any{"resourceType": "Encounter", "status": "in-progress",
		"period":  map[string]any{"start": time.Now().Add(-72 * time.Hour).UTC().Format(time.RFC3339)},
		"class":   map[string]any{"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "IMP"},
		"subject": map[string]any{"reference": "Patient/" + str(pat.json, "id")}, "extension": ext}
	return str(e.do("POST", "/fhir/Encounter", enc, as...).mustStatus(t, http.StatusCreated).json, "id")
}

// The forecast over HTTP: stays written through the FHIR API by two
// trusts, read by each trust (its own only), by their hub (both, or one
// member), never by a care provider; as a searchset, by
// $evaluate-measure and as CSV.
func TestForecastOverHTTP(t *testing.T) {
	now := testclock.AwayFromMidnight()
	e := newEnv(t)
	rxb := e.tokenFor("trust-b", auth.RoleTrust, "RXB", clinicalScopes)
	hub := e.tokenFor("hub", auth.RoleHub, "QXH", "system/MeasureReport.rs", "RXA", "RXB")
	home := e.tokenFor("home-1", auth.RoleCareProvider, "1-000000001", directoryScopes)
	today := discharge.Today(now)
	in := func(days int) string { return discharge.DateOfDay(discharge.DayNumber(today) + int64(days)).String() }
	e.forecastEncounter(t, e.token, "3", in(2))
	e.forecastEncounter(t, e.token, "1", in(-3)) // slipped: today, overdue
	e.forecastEncounter(t, e.token, "0", in(1))  // no service
	e.forecastEncounter(t, e.token, "2", in(20)) // beyond 14 days
	e.forecastEncounter(t, rxb, "1", in(5))

	q := "/fhir/MeasureReport?measure=" + url.QueryEscape(mappings.ForecastMeasureURL)
	as := func(tok string) []string { return []string{"Authorization", "Bearer " + tok} }
	for _, c := range []struct {
		name, token, extra string
		demand, overdue    float64
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
			if got := groupCount(t, mr, mappings.ForecastDemand); got != c.demand {
				t.Errorf("demand %v, want %v", got, c.demand)
			}
			if got := groupCount(t, mr, mappings.ForecastOverdue); got != c.overdue {
				t.Errorf("overdue %v, want %v", got, c.overdue)
			}
		})
	}
	// A trust never reads another's; a care provider reads none.
	e.do("GET", q+"&subject=Organization/RXA", nil, as(rxb)...).mustStatus(t, http.StatusForbidden)
	e.do("GET", q, nil, as(home)...).mustStatus(t, http.StatusForbidden)
	e.do("GET", "/api/v1/forecast.csv", nil, as(home)...).mustStatus(t, http.StatusForbidden)
	e.do("GET", "/fhir/Measure/discharge-forecast/$evaluate-measure", nil, as(home)...).mustStatus(t, http.StatusForbidden)
	// Bad input: an OperationOutcome naming the parameter.
	r := e.do("GET", q+"&subject=Organization/a/b", nil, as(hub)...).mustStatus(t, http.StatusBadRequest)
	if str(r.json, "issue", 0, "expression", 0) != "subject" {
		t.Errorf("bad subject: %s", r.body)
	}
	r = e.do("GET", "/fhir/Measure/discharge-forecast/$evaluate-measure?periodStart=2020-01-01", nil, as(hub)...)
	if r.status < 400 || r.status >= 500 || str(r.json, "issue", 0, "expression", 0) != "periodStart" {
		t.Errorf("periodStart not today: %d %s", r.status, r.body)
	}
	ev := e.do("GET", "/fhir/Measure/discharge-forecast/$evaluate-measure?periodStart="+today.String(), nil, as(hub)...).mustStatus(t, http.StatusOK)
	if str(ev.json, "resourceType") != "MeasureReport" || groupCount(t, ev.json, mappings.ForecastDemand) != 3 ||
		str(ev.json, "subject", "identifier", "value") != "QXH" || str(ev.json, "period", "end") != in(13) {
		t.Fatalf("$evaluate-measure %s", ev.body)
	}
	// A care home in Manchester posts 4 nursing-dementia beds accepting
	// admissions: the care-home supply of M14 beside its demand.
	hj := []string{"Authorization", "Bearer " + home, "Content-Type", "application/json"}
	pr := e.do("POST", "/fhir", providerBundle("1-000000001", "1-466088203", "nursing-dementia"), hj...).mustStatus(t, 200)
	_, loc, _ := refsOf(t, pr)
	e.do("PUT", "/api/v1/capacity/"+strings.TrimPrefix(loc, "Location/"), capacityBody(time.Now().Add(-time.Minute), 4), hj...).mustStatus(t, http.StatusOK)
	// The CSV: the setting and district rows with the day's demand, and
	// the district's supply now.
	csv := e.do("GET", "/api/v1/forecast.csv", nil, as(e.token)...).mustStatus(t, http.StatusOK)
	lines := strings.Split(strings.TrimSpace(string(csv.body)), "\n")
	if len(lines) != 5 || !strings.HasPrefix(lines[0], "org_code,made,setting,district,day_0_"+today.String()) ||
		!strings.HasPrefix(lines[1], "RXA,"+today.String()+",home-care,M14,1,") || !strings.HasSuffix(lines[1], ",1,1,0,0") ||
		!strings.HasPrefix(lines[2], "RXA,"+today.String()+",step-down-bed,M14,0,") ||
		!strings.HasPrefix(lines[3], "RXA,"+today.String()+",care-home,M14,0,0,1,") || !strings.HasSuffix(lines[3], ",0,1,4,0") ||
		!strings.HasPrefix(lines[4], "RXA,"+today.String()+",backtest-mae,all") {
		t.Fatalf("csv %q", csv.body)
	}
	e.do("GET", "/fhir/Measure/discharge-forecast", nil).mustStatus(t, http.StatusOK)
}

// forecastWithBacktest is the forecast MeasureReport of a forecast with
// supply and a scored backtest, as a response to validate.
func forecastWithBacktest(t *testing.T, today discharge.Date) resp {
	t.Helper()
	f := discharge.ComputeForecast(today, []discharge.DueCount{{Day: today, Pathway: "1", Outcode: "M14", N: 2},
		{Day: discharge.DateOfDay(discharge.DayNumber(today) - 3), Pathway: "3", Outcode: "", N: 1}})
	f = f.WithSupply([]discharge.SupplyCount{{Setting: discharge.ForecastHomeCare, Outcode: "M14", Vacant: 3, Held: 1}})
	from := discharge.DateOfDay(discharge.DayNumber(today) - 28)
	f.Backtest = discharge.ComputeBacktest(from, today, []discharge.ForecastError{{Day: from, Horizon: 0, Cells: 3, AbsErr: 2}, {Day: from, Horizon: 4, Cells: 2, AbsErr: 5}})
	body := mappings.ForecastToMeasureReport("forecast-RXA-"+today.String(), "RXA", time.Now(), f)
	var doc map[string]any
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatal(err)
	}
	return resp{status: http.StatusOK, body: body, json: doc}
}
