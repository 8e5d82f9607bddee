package discharge_test

import (
	"testing"
	"time"

	"github.com/dischargegateway/gateway/discharge"
)

func day(s string) discharge.Date {
	d, err := discharge.ParseDate(s)
	if err != nil {
		panic(err)
	}
	return d
}

func TestBandOfCoversEveryDayOnce(t *testing.T) {
	bands := discharge.DelayBands()
	for days := -2; days < 60; days++ {
		i := discharge.BandOf(days)
		b := bands[i]
		if days >= 0 && (days < b.Min || (b.Max >= 0 && days > b.Max)) {
			t.Errorf("%d days: band %s", days, b.Code)
		}
	}
	for _, c := range []struct {
		days int
		want string
	}{{0, "0-1"}, {1, "0-1"}, {2, "2-3"}, {6, "4-6"}, {7, "7-13"}, {13, "7-13"}, {14, "14-20"}, {20, "14-20"}, {21, "21+"}, {400, "21+"}} {
		if got := bands[discharge.BandOf(c.days)].Code; got != c.want {
			t.Errorf("BandOf(%d) = %s, want %s", c.days, got, c.want)
		}
	}
}

// The reporting day and noon are England's: 00:30 BST on 1 June is 1 June
// (31 May in UTC); 11:30 UTC in July is 12:30 on the clock, after noon.
func TestReportingDayAndNoonInLondon(t *testing.T) {
	at := time.Date(2026, 5, 31, 23, 30, 0, 0, time.UTC)
	if got := discharge.ReportingDay(at); got != day("2026-06-01") {
		t.Errorf("ReportingDay = %s", got)
	}
	if discharge.BeforeNoon(time.Date(2026, 7, 1, 11, 30, 0, 0, time.UTC)) {
		t.Error("11:30 UTC in July is 12:30 BST: not before noon")
	}
	if !discharge.BeforeNoon(time.Date(2026, 12, 1, 11, 30, 0, 0, time.UTC)) {
		t.Error("11:30 UTC in December is before noon")
	}
	// The clocks go back on 25 October 2026: that day has 25 hours.
	from, to := discharge.ReportingHours(day("2026-10-25"))
	if to-from != 25 {
		t.Errorf("25 October 2026 has %d hours", to-from)
	}
}

// A fixed history computed by hand. As of Monday 30 November 2026:
//
//	NCTR since 29 Nov, P1, capacity-home-care: 2 (1 day: band 0-1)
//	NCTR since 25 Nov, P3, capacity-care-home: 1 (5 days: 4-6)
//	NCTR since 9 Nov, no pathway, no reason: 1 (21 days: 21+)
//	a counter that fell back to 0: ignored
//
// Discharges: Saturday 28 Nov 10:00 UTC (10:00 GMT, before noon) P0 x3;
// Sunday 29 Nov 23:30 UTC is Sunday 23:30 GMT, P1 x1; Monday 30 Nov
// 12:00 UTC, P2 x2 (not before noon); 1 Dec (outside): ignored.
func TestComputeSitrepByHand(t *testing.T) {
	h := func(y int, m time.Month, d, hr int) int64 {
		return discharge.HourBucket(time.Date(y, m, d, hr, 0, 0, 0, time.UTC))
	}
	open := []discharge.OpenNCTR{
		{Since: day("2026-11-29"), Pathway: "1", Reason: "capacity-home-care", N: 2},
		{Since: day("2026-11-25"), Pathway: "3", Reason: "capacity-care-home", N: 1},
		{Since: day("2026-11-09"), N: 1},
		{Since: day("2026-11-20"), Pathway: "2", Reason: "transport", N: 0},
	}
	dis := []discharge.DischargeCount{
		{Hour: h(2026, 11, 28, 10), Pathway: "0", N: 3},
		{Hour: h(2026, 11, 29, 23), Pathway: "1", N: 1},
		{Hour: h(2026, 11, 30, 12), Pathway: "2", N: 2},
		{Hour: h(2026, 12, 1, 9), Pathway: "2", N: 7},
	}
	nw := []discharge.NewNCTRCount{{Day: day("2026-11-29"), Pathway: "1", N: 2}, {Day: day("2026-11-25"), Pathway: "3", N: 1}}
	s := discharge.ComputeSitrep(day("2026-11-30"), day("2026-11-28"), day("2026-11-30"), open, dis, nw)
	if s.NCTR != 4 {
		t.Fatalf("NCTR = %d, want 4", s.NCTR)
	}
	wantPath := map[string]int{"1": 2, "3": 1, discharge.UnknownPathway: 1}
	for k, v := range wantPath {
		if s.ByPathway[k] != v {
			t.Errorf("ByPathway[%s] = %d, want %d", k, s.ByPathway[k], v)
		}
	}
	if s.ByReason[discharge.NotRecorded] != 1 || s.ByReason["capacity-home-care"] != 2 {
		t.Errorf("ByReason = %v", s.ByReason)
	}
	if want := []int{2, 0, 1, 0, 0, 1}; !equalInts(s.ByBand, want) {
		t.Errorf("ByBand = %v, want %v", s.ByBand, want)
	}
	sum := func(m map[string]int) (n int) {
		for _, v := range m {
			n += v
		}
		return n
	}
	bandSum := 0
	for _, n := range s.ByBand {
		bandSum += n
	}
	if sum(s.ByPathway) != s.NCTR || sum(s.ByReason) != s.NCTR || bandSum != s.NCTR {
		t.Errorf("breakdowns do not add up to %d", s.NCTR)
	}
	if len(s.Days) != 3 {
		t.Fatalf("%d days", len(s.Days))
	}
	sat, sun, mon := s.Days[0], s.Days[1], s.Days[2]
	if !sat.Weekend || !sun.Weekend || mon.Weekend {
		t.Error("weekend flags")
	}
	if sat.DischargeTotal != 3 || sat.DischargesBeforeNoon != 3 || sat.Discharges["0"] != 3 {
		t.Errorf("Saturday %+v", sat)
	}
	if sun.DischargeTotal != 1 || sun.DischargesBeforeNoon != 0 || sun.NewNCTRTotal != 2 {
		t.Errorf("Sunday %+v", sun)
	}
	if mon.DischargeTotal != 2 || mon.DischargesBeforeNoon != 0 {
		t.Errorf("Monday %+v", mon)
	}
	if s.WeekendDischarges != 4 || s.WeekdayDischarges != 2 {
		t.Errorf("weekend %d weekday %d", s.WeekendDischarges, s.WeekdayDischarges)
	}
}

// In summer a discharge at 23:30 UTC on Sunday is Monday 00:30 BST: it
// crosses midnight into Monday's report.
func TestComputeSitrepMidnightCrossingBST(t *testing.T) {
	at := discharge.HourBucket(time.Date(2026, 6, 7, 23, 30, 0, 0, time.UTC)) // Sunday 7 June UTC
	s := discharge.ComputeSitrep(day("2026-06-08"), day("2026-06-07"), day("2026-06-08"), nil,
		[]discharge.DischargeCount{{Hour: at, Pathway: "1", N: 1}}, nil)
	if s.Days[0].DischargeTotal != 0 || s.Days[1].DischargeTotal != 1 || s.Days[1].DischargesBeforeNoon != 1 {
		t.Errorf("days %+v", s.Days)
	}
	if s.WeekdayDischarges != 1 {
		t.Error("Monday 00:30 BST is a weekday")
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestTopExclusionAndWeekOf(t *testing.T) {
	if got := discharge.TopExclusion(map[discharge.Filter]int{"b": 3, "a": 3, "c": 1}); got != "a" {
		t.Errorf("tie: %s", got)
	}
	if got := discharge.TopExclusion(map[discharge.Filter]int{"b": 0}); got != "" {
		t.Errorf("no exclusion: %q", got)
	}
	for _, s := range []string{"2026-11-30", "2026-12-03", "2026-12-06"} {
		if w := discharge.DateOfDay(discharge.WeekOf(day(s))); w.String() != "2026-11-30" {
			t.Errorf("WeekOf(%s) = %s", s, w)
		}
	}
}
