package discharge_test

import (
	"testing"
	"time"

	"github.com/dischargegateway/gateway/discharge"
)

func ptrBool(b bool) *bool { return &b }

func TestMeasureCase(t *testing.T) {
	drd := discharge.Date{Year: 2026, Month: 11, Day: 20}
	start := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	since := discharge.Date{Year: 2026, Month: 11, Day: 21}
	notMet := &discharge.CriteriaToReside{Met: ptrBool(false), Since: &since}
	h := func(n int) time.Time { return start.Add(time.Duration(n) * time.Hour) }
	dur := func(d *time.Duration) string {
		if d == nil {
			return "nil"
		}
		return d.String()
	}
	days := func(n *int) int {
		if n == nil {
			return -1
		}
		return *n
	}
	cases := []struct {
		name                    string
		drd                     *discharge.Date
		ctr                     *discharge.CriteriaToReside
		m                       discharge.Milestones
		short, acc, conf, disch string
		nctr                    int
	}{
		{"nothing reached", &drd, nil, discharge.Milestones{}, "nil", "nil", "nil", "nil", -1},
		{"every step", &drd, notMet, discharge.Milestones{FirstShortlist: h(1), FirstAcceptance: h(5), Confirmed: h(30), Discharged: h(72)},
			"1h0m0s", "5h0m0s", "30h0m0s", "72h0m0s", 2},
		{"shortlist before the DRD", &drd, nil, discharge.Milestones{FirstShortlist: h(-2)}, "-2h0m0s", "nil", "nil", "nil", -1},
		{"no DRD", nil, notMet, discharge.Milestones{FirstShortlist: h(1)}, "nil", "nil", "nil", "nil", 6},
		{"criteria met", &drd, &discharge.CriteriaToReside{Met: ptrBool(true), Since: &since}, discharge.Milestones{}, "nil", "nil", "nil", "nil", -1},
		{"not met without a date", &drd, &discharge.CriteriaToReside{Met: ptrBool(false)}, discharge.Milestones{}, "nil", "nil", "nil", "nil", -1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := discharge.MeasureCase(c.drd, c.ctr, c.m, now)
			if dur(got.DRDToShortlist) != c.short || dur(got.DRDToAcceptance) != c.acc ||
				dur(got.DRDToConfirmation) != c.conf || dur(got.DRDToDischarge) != c.disch || days(got.NCTRDays) != c.nctr {
				t.Errorf("got %s %s %s %s nctr %d", dur(got.DRDToShortlist), dur(got.DRDToAcceptance),
					dur(got.DRDToConfirmation), dur(got.DRDToDischarge), days(got.NCTRDays))
			}
		})
	}
}

func TestNCTRDays(t *testing.T) {
	since := discharge.Date{Year: 2026, Month: 3, Day: 28}
	for _, c := range []struct {
		end  time.Time
		want int
	}{
		{time.Date(2026, 3, 28, 23, 59, 0, 0, time.UTC), 0},
		{time.Date(2026, 3, 29, 0, 0, 0, 0, time.UTC), 1},
		{time.Date(2026, 4, 4, 10, 0, 0, 0, time.UTC), 7},
		{time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), 0},
	} {
		if got := discharge.NCTRDays(since, c.end); got != c.want {
			t.Errorf("NCTRDays(%s, %s) = %d, want %d", since, c.end, got, c.want)
		}
	}
}

func TestEscalate(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	rule := discharge.EscalationRule{OfferWait: 4 * time.Hour, NCTRDays: 7}
	seven, eight := 7, 8
	for _, c := range []struct {
		name string
		m    discharge.Milestones
		nctr *int
		want string
	}{
		{"no offers", discharge.Milestones{}, nil, ""},
		{"offer sent 3h ago", discharge.Milestones{FirstOfferSent: now.Add(-3 * time.Hour)}, nil, ""},
		{"offer sent 4h ago", discharge.Milestones{FirstOfferSent: now.Add(-4 * time.Hour)}, nil, "no-acceptance"},
		{"accepted late", discharge.Milestones{FirstOfferSent: now.Add(-9 * time.Hour), FirstAcceptance: now.Add(-1 * time.Hour)}, nil, ""},
		{"7 NCTR days", discharge.Milestones{}, &seven, ""},
		{"8 NCTR days", discharge.Milestones{}, &eight, "nctr-days"},
		{"both", discharge.Milestones{FirstOfferSent: now.Add(-5 * time.Hour)}, &eight, "no-acceptance,nctr-days"},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := ""
			for i, r := range rule.Escalate(c.m, c.nctr, now) {
				if i > 0 {
					got += ","
				}
				got += r
			}
			if got != c.want {
				t.Errorf("Escalate = %q, want %q", got, c.want)
			}
		})
	}
}

func TestSummariseDurations(t *testing.T) {
	if s := discharge.SummariseDurations(nil); s.Count != 0 || s.Median != nil || s.P90 != nil {
		t.Fatalf("empty: %+v", s)
	}
	var ds []time.Duration
	for i := 10; i >= 1; i-- { // unsorted on purpose
		ds = append(ds, time.Duration(i)*time.Minute)
	}
	s := discharge.SummariseDurations(ds)
	if s.Count != 10 || *s.Median != 5*time.Minute || *s.P90 != 9*time.Minute {
		t.Fatalf("got count %d median %s p90 %s", s.Count, *s.Median, *s.P90)
	}
	if ds[0] != 10*time.Minute {
		t.Fatal("SummariseDurations sorted its argument in place")
	}
	n, med, p90 := discharge.SummariseInts([]int{3, 1, 2})
	if n != 3 || *med != 2 || *p90 != 3 {
		t.Fatalf("SummariseInts = %d %d %d", n, *med, *p90)
	}
	if discharge.AcceptanceRate(1, 0) != nil || *discharge.AcceptanceRate(1, 4) != 0.25 {
		t.Fatal("AcceptanceRate")
	}
}
