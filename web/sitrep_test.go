package web_test

import (
	"context"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/dischargegateway/gateway/auth"
	"github.com/dischargegateway/gateway/web"
)

// fakeSitrep answers one system view, or fails.
type fakeSitrep struct {
	view web.SitrepView
	fail error
}

func (f fakeSitrep) Sitrep(context.Context, *auth.Principal, time.Time) (web.SitrepView, error) {
	return f.view, f.fail
}

// sitrepWithData is a system view with every section filled.
func sitrepWithData(day time.Time) web.SitrepView {
	v := web.SitrepView{Day: day,
		Today: []web.Figure{{Label: "Patients not meeting the criteria to reside", Value: 112}},
		Trend: []web.Series{{Label: "Discharges", Points: []web.Point{{Day: day.AddDate(0, 0, -1), Value: 30}, {Day: day, Value: 41}}}},
		Unmet: []web.DistrictDemand{{District: "M14", Setting: "nursing-dementia", Waiting: 6, TopFilter: "no-vacancy"},
			{District: "M20", Setting: "residential", Waiting: 2}},
		VirtualWards: []web.WardOccupancy{
			{Name: "Frailty virtual ward", ICB: "QOP", District: "M14", Occupied: 45, Capacity: 50,
				Trend: []web.Point{{Day: day.AddDate(0, 0, -2), Value: 0.7}, {Day: day.AddDate(0, 0, -1), Value: 0.8}, {Day: day, Value: 0.9}}},
			{Name: "Respiratory virtual ward", ICB: "QOP", Occupied: 12, Capacity: 20},
		},
	}
	for i := range 14 {
		v.Forecast = append(v.Forecast, web.ForecastDay{Day: day.AddDate(0, 0, i+1), Setting: "nursing", District: "M14",
			Demand: 5, Vacant: 4 + i%3, Held: 1})
	}
	return v
}

// TestSitrepPage: the system view's sections as a hub sees them: unmet
// demand by district with the filter that excluded most providers, each
// virtual ward's occupancy drawn against 80 % (named for screen readers)
// with its trend, and the 14-day forecast with the shortfall flagged.
func TestSitrepPage(t *testing.T) {
	day := time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
	e := newEnv(t, web.Deps{Sitrep: fakeSitrep{view: sitrepWithData(day)}, Now: func() time.Time { return day }})
	hub, _ := e.signIn(t, "hub")
	p := e.get(t, hub, "/sitrep")
	must(t, p, http.StatusOK,
		"Unmet demand by district", "<td class=\"nhsuk-table__cell\">M14</td>", "Nursing dementia", `nhsuk-tag--orange">No vacancy</strong>`,
		"Frailty virtual ward", "QOP, M14", "45 of 50", "90%", "Above 80%",
		`aria-label="Frailty virtual ward: 90% occupied, target 80%"`,
		`aria-label="Frailty virtual ward occupancy over 3 days: 70% on 28 Nov, 90% on 30 Nov"`,
		"Forecast for the next 14 days", "Tue 1 Dec", "Mon 14 Dec")
	// The respiratory ward is under target: no flag, no trend drawn.
	row := regexp.MustCompile(`(?s)Respiratory virtual ward.*?</tr>`).FindString(p.body)
	if strings.Contains(row, "Above 80%") || strings.Contains(row, "dg-spark") || !strings.Contains(row, "60%") {
		t.Fatalf("respiratory row %q", row)
	}
	// Demand 5 against 4 vacant with 1 held: short by 2, flagged; 6 vacant
	// less 1 held covers it.
	if n := strings.Count(p.body, `nhsuk-tag--red">2</strong>`); n != 5 {
		t.Fatalf("%d days short by 2, want 5:\n%s", n, p.body)
	}
	if n := strings.Count(p.body, `nhsuk-tag--red">1</strong>`); n != 5 {
		t.Fatalf("%d days short by 1, want 5", n)
	}
	// Every SVG is named for screen readers.
	for _, svg := range regexp.MustCompile(`<svg [^>]*>`).FindAllString(p.body, -1) {
		if !strings.Contains(svg, `role="img"`) || !strings.Contains(svg, `aria-label="`) {
			t.Fatalf("unnamed SVG %s", svg)
		}
	}
	// Aggregates only: the page is audited as the measures are.
	if a := e.audit.all(); a[len(a)-1].ResourceType != "Encounter" || a[len(a)-1].Interaction != "search-type" {
		t.Fatalf("audit %+v", a[len(a)-1])
	}
}

// TestSitrepPageEmpty: a system view with nothing to report says so in
// each section; without a system view the page says the figures are not
// available and shows the case measures.
func TestSitrepPageEmpty(t *testing.T) {
	e := newEnv(t, web.Deps{Sitrep: fakeSitrep{}})
	hub, _ := e.signIn(t, "hub")
	p := e.get(t, hub, "/sitrep")
	must(t, p, http.StatusOK, "No unmet demand is reported.", "No virtual-ward occupancy is reported.", "No forecast is reported.")
	if strings.Contains(p.body, "Last 30 days") {
		t.Fatal("an empty trend has a heading")
	}
	none := newEnv(t, web.Deps{})
	hub, _ = none.signIn(t, "hub")
	must(t, none.get(t, hub, "/sitrep"), http.StatusOK, "not available on this gateway yet", "Case measures since")
}
