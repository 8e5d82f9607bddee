package gateway_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/dischargegateway/gateway/adapters/sqlstore"
	"github.com/dischargegateway/gateway/auth"
	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/internal/testclock"
	"github.com/dischargegateway/gateway/mappings"
)

// unmetDemand counts, in trust's partition of the env's real store, what
// placement searches short of options count (placement.DemandRecorder):
// this week, 3 nursing-home searches from M14 with dementia (2 left short
// by distance, 1 by vacancy) and 1 home-care search from SK4 with no
// filter.
func (e *env) unmetDemand(t *testing.T, trust string) {
	t.Helper()
	rec := sqlstore.NewSitrep(e.record)
	now := time.Now()
	for _, d := range []discharge.Demand{
		{At: now, Outcode: "M14", Setting: "nursing", Requirements: []discharge.Requirement{"dementia"}, TopFilter: discharge.FilterDistance},
		{At: now, Outcode: "M14", Setting: "nursing", Requirements: []discharge.Requirement{"dementia"}, TopFilter: discharge.FilterDistance},
		{At: now, Outcode: "M14", Setting: "nursing", Requirements: []discharge.Requirement{"dementia"}, TopFilter: discharge.FilterVacancy},
		{At: now, Outcode: "SK4", Setting: "home-care"},
	} {
		if err := rec.RecordDemand(context.Background(), trust, d); err != nil {
			t.Fatal(err)
		}
	}
}

// stratum finds the count of a stratifier's stratum by its value text.
func stratum(t *testing.T, mr any, strat, value string) float64 {
	t.Helper()
	for _, s := range mr.(map[string]any)["group"].([]any)[0].(map[string]any)["stratifier"].([]any) {
		if str(s, "code", 0, "coding", 0, "code") != strat {
			continue
		}
		for _, st := range s.(map[string]any)["stratum"].([]any) {
			if str(st, "value", "text") == value {
				return num(st.(map[string]any)["population"].([]any)[0], "count")
			}
		}
	}
	return 0
}

// Unmet demand over HTTP: counted for two trusts, read as weekly
// MeasureReports by each trust (its own), the hub (both) and a system
// client (its trusts), never by a care provider; as CSV too.
func TestUnmetDemandOverHTTP(t *testing.T) {
	now := testclock.AwayFromMidnight()
	e := newEnv(t)
	e.unmetDemand(t, "RXA")
	e.unmetDemand(t, "RXB")
	rxb := e.tokenFor("trust-b", auth.RoleTrust, "RXB", clinicalScopes)
	hub := e.tokenFor("hub", auth.RoleHub, "QXH", "system/MeasureReport.rs", "RXA", "RXB")
	icb := e.tokenFor("icb", auth.RoleSystem, "QXC", "system/MeasureReport.rs", "RXA", "RXB", "RXC")
	home := e.tokenFor("home-1", auth.RoleCareProvider, "1-000000001", directoryScopes)
	as := func(tok string) []string { return []string{"Authorization", "Bearer " + tok} }
	today := discharge.Today(now)
	lastWeek := discharge.DateOfDay(discharge.DayNumber(today) - 7)
	q := "/fhir/MeasureReport?measure=" + url.QueryEscape(mappings.UnmetMeasureURL) + "&period=ge" + lastWeek.String() + "&period=le" + today.String()
	for _, c := range []struct {
		name, token, extra, subject string
		total                       float64
	}{
		{"trust RXA, its own", e.token, "", "RXA", 4},
		{"trust RXB, its own", rxb, "", "RXB", 4},
		{"the hub, both members", hub, "", "QXH", 8},
		{"the system client, its trusts", icb, "", "QXC", 8},
		{"the system client, one trust", icb, "&subject=Organization/RXB", "RXB", 4},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := e.do("GET", q+c.extra, nil, as(c.token)...).mustStatus(t, http.StatusOK)
			// Two weeks: last week's (empty) and this week's.
			if num(r.json, "total") != 2 {
				t.Fatalf("total %v: %s", r.json["total"], r.body)
			}
			last := r.json["entry"].([]any)[0].(map[string]any)["resource"]
			mr := r.json["entry"].([]any)[1].(map[string]any)["resource"]
			if groupCount(t, last, mappings.UnmetGroup) != 0 || str(mr, "period", "start") != discharge.DateOfDay(discharge.WeekOf(today)).String() {
				t.Fatalf("weeks %s", r.body)
			}
			if got := groupCount(t, mr, mappings.UnmetGroup); got != c.total || str(mr, "subject", "identifier", "value") != c.subject {
				t.Fatalf("total %v subject %s", got, str(mr, "subject", "identifier", "value"))
			}
			per := c.total / 4
			if stratum(t, mr, mappings.UnmetDistrict, "M14") != 3*per || stratum(t, mr, mappings.UnmetDistrict, "SK4") != per ||
				stratum(t, mr, mappings.UnmetSetting, "nursing") != 3*per || stratum(t, mr, mappings.UnmetRequirements, "none") != per ||
				stratum(t, mr, mappings.UnmetTopFilter, "distance") != 2*per || stratum(t, mr, mappings.UnmetTopFilter, "none") != per {
				t.Fatalf("strata %s", r.body)
			}
			// M14's top filter is distance, in 2 of its 3 searches.
			if !strings.Contains(string(r.body), `"component":[{"code":{"coding":[{"code":"district","system":"`+mappings.UnmetSystem+`"}]},"value":{"text":"M14"}},{"code":{"coding":[{"code":"top-filter"`) {
				t.Fatalf("district-top-filter %s", r.body)
			}
		})
	}
	// Nobody reads beyond their trusts; a care provider reads none.
	e.do("GET", q+"&subject=Organization/RXA", nil, as(rxb)...).mustStatus(t, http.StatusForbidden)
	e.do("GET", q+"&subject=Organization/RXZ", nil, as(icb)...).mustStatus(t, http.StatusForbidden)
	e.do("GET", q, nil, as(home)...).mustStatus(t, http.StatusForbidden)
	e.do("GET", "/api/v1/unmet-demand.csv", nil, as(home)...).mustStatus(t, http.StatusForbidden)
	// Bad input names the parameter; too long a period is refused.
	r := e.do("GET", q+"&period=xx", nil, as(hub)...).mustStatus(t, http.StatusBadRequest)
	if str(r.json, "issue", 0, "expression", 0) != "period" {
		t.Errorf("bad period: %s", r.body)
	}
	e.do("GET", "/fhir/MeasureReport?measure=unmet-demand&period=ge2026-01-01&period=le2026-12-31", nil, as(hub)...).mustStatus(t, http.StatusRequestEntityTooLarge)

	// $evaluate-measure: one week's report; several weeks are refused.
	ev := e.do("GET", "/fhir/Measure/unmet-demand/$evaluate-measure?periodStart="+today.String(), nil, as(hub)...).mustStatus(t, http.StatusOK)
	if str(ev.json, "resourceType") != "MeasureReport" || groupCount(t, ev.json, mappings.UnmetGroup) != 8 || str(ev.json, "subject", "identifier", "value") != "QXH" {
		t.Fatalf("$evaluate-measure %s", ev.body)
	}
	r = e.do("GET", "/fhir/Measure/unmet-demand/$evaluate-measure?periodStart="+lastWeek.String()+"&periodEnd="+today.String(), nil, as(hub)...).mustStatus(t, http.StatusBadRequest)
	if str(r.json, "issue", 0, "expression", 0) != "periodEnd" {
		t.Errorf("several weeks: %s", r.body)
	}
	e.do("GET", "/fhir/Measure/unmet-demand/$evaluate-measure?periodStart="+today.String(), nil, as(home)...).mustStatus(t, http.StatusForbidden)

	csv := e.do("GET", "/api/v1/unmet-demand.csv", nil, as(icb)...).mustStatus(t, http.StatusOK)
	lines := strings.Split(strings.TrimSpace(string(csv.body)), "\n")
	week := discharge.DateOfDay(discharge.WeekOf(today)).String()
	want := []string{
		"org_code,week_start,district,setting,requirements,top_filter,searches,district_searches,district_top_filter",
		"QXC," + week + ",M14,nursing,dementia,distance,4,6,distance",
		"QXC," + week + ",M14,nursing,dementia,vacancy,2,6,distance",
		"QXC," + week + ",SK4,home-care,none,none,2,2,none",
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Fatalf("csv:\n%s\nwant:\n%s", csv.body, strings.Join(want, "\n"))
	}
}
