package discharge_test

import (
	"reflect"
	"testing"
	"time"

	"github.com/dischargegateway/gateway/discharge"
)

// The forecast made on Monday 30 November 2026, worked out by hand: an
// overdue EDD joins day 0 and is shown apart; pathway 0 and days after
// the 14th are not forecast; no district is "unknown".
func TestComputeForecast(t *testing.T) {
	today := day("2026-11-30")
	due := []discharge.DueCount{
		{Day: day("2026-11-27"), Pathway: "1", Outcode: "M14", N: 1}, // slipped: day 0, overdue
		{Day: day("2026-11-30"), Pathway: "1", Outcode: "M14", N: 2},
		{Day: day("2026-12-03"), Pathway: "3", Outcode: "M20", N: 1},
		{Day: day("2026-11-30"), Pathway: "0", Outcode: "M14", N: 4}, // no service
		{Day: day("2026-12-13"), Pathway: "2", Outcode: "", N: 1},    // day 13, district unknown
		{Day: day("2026-12-14"), Pathway: "2", Outcode: "M14", N: 1}, // day 14: beyond
		{Day: day("2026-12-01"), Pathway: "", Outcode: "M14", N: 1},  // no pathway
	}
	f := discharge.ComputeForecast(today, due)
	if f.Overdue != 1 || f.Total[0] != 3 || f.Total[3] != 1 || f.Total[13] != 1 || f.Total[1] != 0 {
		t.Fatalf("totals %v overdue %d", f.Total, f.Overdue)
	}
	var got []string
	for _, r := range f.Rows {
		got = append(got, string(r.Setting)+"/"+r.Outcode)
	}
	if want := []string{"home-care/M14", "step-down-bed/unknown", "care-home/M20"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("rows %v, want %v", got, want)
	}
	if r := f.Rows[0]; r.Demand[0] != 3 || r.Overdue != 1 || r.Total != 3 || r.SupplyKnown {
		t.Fatalf("home-care M14 %+v", r)
	}
	if f.Day(13) != day("2026-12-13") {
		t.Fatalf("day 13 is %s", f.Day(13))
	}
	// Every row's days add up to its total, and the rows to the totals.
	sum := 0
	for _, r := range f.Rows {
		n := 0
		for _, x := range r.Demand {
			n += x
		}
		if n != r.Total {
			t.Fatalf("row %+v does not add up", r)
		}
		sum += n
	}
	all := 0
	for _, x := range f.Total {
		all += x
	}
	if sum != all {
		t.Fatalf("rows %d, totals %d", sum, all)
	}
	snap := f.Snapshot()
	if len(snap) != 3 || snap[0] != (discharge.ForecastCount{Made: today, Day: today, Setting: discharge.ForecastHomeCare, Outcode: "M14", N: 3}) {
		t.Fatalf("snapshot %+v", snap)
	}

	// Supply is the district's: added once, rows with supply only kept.
	s := f.WithSupply([]discharge.SupplyCount{{Setting: discharge.ForecastHomeCare, Outcode: "M14", Vacant: 2, Held: 1},
		{Setting: discharge.ForecastCareHome, Outcode: "M1", Vacant: 5}})
	if len(s.Rows) != 4 || s.Rows[0].Vacant != 2 || s.Rows[0].Held != 1 || !s.Rows[0].SupplyKnown || s.Rows[2].Outcode != "M1" || s.Rows[2].Vacant != 5 {
		t.Fatalf("with supply %+v", s.Rows)
	}

	// A hub adds its trusts: the same cell merges.
	var hub discharge.Forecast
	hub.Made = today
	hub.Add(f)
	hub.Add(discharge.ComputeForecast(today, []discharge.DueCount{{Day: today, Pathway: "1", Outcode: "M14", N: 1}}))
	if len(hub.Rows) != 3 || hub.Rows[0].Demand[0] != 4 || hub.Total[0] != 4 {
		t.Fatalf("hub %+v", hub)
	}
}

// The backtest of Sunday 29 November 2026, by hand. Kept forecasts for
// that day: made Friday 27th (horizon 2): home-care M14 2, care-home M20 1;
// made Saturday 28th (horizon 1): nothing; made Sunday (horizon 0):
// home-care M14 1. What happened: home-care M14 1 and step-down-bed M14 2
// (a discharge at 23:00 UTC on the 28th is Saturday's; a pathway 0
// discharge is no service's).
//
//	h2: |2-1| + |1-0| + |0-2| = 4 over 3 cells
//	h1: |0-1| + |0-2|         = 3 over 2 cells
//	h0: |1-1| + |0-2|         = 2 over 2 cells
//	MAE = 9 / 7
func TestScoreDayAndBacktest(t *testing.T) {
	sun := day("2026-11-29")
	hour := func(s string) int64 {
		at, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return discharge.HourBucket(at)
	}
	made := []discharge.Date{day("2026-11-27"), day("2026-11-28"), sun, day("2026-11-10")}
	kept := []discharge.ForecastCount{
		{Made: day("2026-11-27"), Day: sun, Setting: discharge.ForecastHomeCare, Outcode: "M14", N: 2},
		{Made: day("2026-11-27"), Day: sun, Setting: discharge.ForecastCareHome, Outcode: "M20", N: 1},
		{Made: day("2026-11-27"), Day: day("2026-11-30"), Setting: discharge.ForecastHomeCare, Outcode: "M14", N: 5},
		{Made: sun, Day: sun, Setting: discharge.ForecastHomeCare, Outcode: "M14", N: 1},
	}
	dis := []discharge.DischargeAt{
		{Hour: hour("2026-11-29T10:00:00Z"), Pathway: "1", Outcode: "M14", N: 1},
		{Hour: hour("2026-11-29T15:00:00Z"), Pathway: "2", Outcode: "M14", N: 2},
		{Hour: hour("2026-11-28T23:00:00Z"), Pathway: "1", Outcode: "M14", N: 7},
		{Hour: hour("2026-11-29T11:00:00Z"), Pathway: "0", Outcode: "M14", N: 3},
	}
	errs := discharge.ScoreDay(sun, made, kept, dis)
	want := []discharge.ForecastError{{Day: sun, Horizon: 0, Cells: 2, AbsErr: 2}, {Day: sun, Horizon: 1, Cells: 2, AbsErr: 3}, {Day: sun, Horizon: 2, Cells: 3, AbsErr: 4}}
	if !reflect.DeepEqual(errs, want) {
		t.Fatalf("errors %+v\nwant %+v", errs, want)
	}
	b := discharge.ComputeBacktest(day("2026-11-02"), sun, append(errs, discharge.ForecastError{Day: day("2026-11-01"), Horizon: 0, Cells: 9, AbsErr: 9}))
	if b.Overall.Cells != 7 || b.Overall.AbsErr != 9 || b.Overall.MAE() != 9.0/7 || b.ByHorizon[1].MAE() != 1.5 || b.ByHorizon[5].Cells != 0 || len(b.ByHorizon) != 14 {
		t.Fatalf("backtest %+v", b)
	}
}

// A discharge at 23:30 UTC on 31 May is 00:30 BST on 1 June: it is
// scored on 1 June.
func TestScoreDayCrossesMidnightInEngland(t *testing.T) {
	june1 := day("2026-06-01")
	at := time.Date(2026, 5, 31, 23, 30, 0, 0, time.UTC)
	kept := []discharge.ForecastCount{{Made: june1, Day: june1, Setting: discharge.ForecastCareHome, Outcode: "LS6", N: 1}}
	dis := []discharge.DischargeAt{{Hour: discharge.HourBucket(at), Pathway: "3", Outcode: "LS6", N: 1}}
	if e := discharge.ScoreDay(june1, []discharge.Date{june1}, kept, dis); len(e) != 1 || e[0].AbsErr != 0 || e[0].Cells != 1 {
		t.Fatalf("1 June %+v", e)
	}
	may31 := day("2026-05-31")
	if e := discharge.ScoreDay(may31, []discharge.Date{may31}, nil, dis); len(e) != 1 || e[0].Cells != 0 {
		t.Fatalf("31 May %+v", e)
	}
}

func TestForecastSettingOf(t *testing.T) {
	for p, want := range map[string]discharge.ForecastSetting{"1": discharge.ForecastHomeCare, "2": discharge.ForecastStepDownBed, "3": discharge.ForecastCareHome} {
		if got, ok := discharge.ForecastSettingOf(p); !ok || got != want {
			t.Errorf("pathway %s: %s", p, got)
		}
	}
	for _, p := range []string{"0", "", "4"} {
		if _, ok := discharge.ForecastSettingOf(p); ok {
			t.Errorf("pathway %q has a setting", p)
		}
	}
}
