package sitrep_test

import (
	"context"
	"testing"
	"time"

	"github.com/dischargegateway/gateway/auth"
	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/sitrep"
)

// fakeStock keeps, for every trust, two NCTR patients at the close of any
// past day since 20 November 2026 (none kept before), each NCTR since 19
// November.
type fakeStock struct {
	fakeDemand
	asked []int64
}

func (f *fakeStock) StockAt(_ context.Context, _ string, closeHour int64) ([]discharge.OpenNCTR, bool, error) {
	f.asked = append(f.asked, closeHour)
	_, first := discharge.ReportingHours(discharge.Date{Year: 2026, Month: 11, Day: 20})
	if closeHour < first {
		return nil, false, nil
	}
	return []discharge.OpenNCTR{{Since: discharge.Date{Year: 2026, Month: 11, Day: 19}, Pathway: "1", Reason: "transport", N: 2}}, true, nil
}

// A past period shows the stock at its close, its bands counted to its
// last day; today's period, and a day before the store kept closes, show
// the stock now.
func TestPastPeriodShowsItsOwnStock(t *testing.T) {
	now := func() time.Time { return time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC) }
	hub := &auth.Principal{Org: "HUB1", Role: auth.RoleHub, Members: []string{"RXA", "RXB"}}
	d := func(s string) discharge.Date { x, _ := discharge.ParseDate(s); return x }
	f := &fakeStock{}
	svc := sitrep.New(&fakeCounters{}, now).WithHistory(f)
	rep, err := svc.Sitrep(context.Background(), hub, sitrep.Request{From: d("2026-11-22"), To: d("2026-11-23")})
	if err != nil {
		t.Fatal(err)
	}
	// Two trusts, two each; NCTR since 19 November is 4 days by the 23rd:
	// band 4-6 (index 2), not 21+ as it would be counted to today.
	if rep.NCTR != 4 || rep.ByReason["transport"] != 4 || rep.ByBand[2] != 4 || rep.AsOf != d("2026-11-23") {
		t.Fatalf("past period: %+v", rep.Sitrep)
	}
	_, close23 := discharge.ReportingHours(d("2026-11-23"))
	if len(f.asked) != 2 || f.asked[0] != close23 {
		t.Fatalf("asked %v", f.asked)
	}
	// Today: the stock now (the fake counters' one per trust).
	if rep, _ := svc.Sitrep(context.Background(), hub, sitrep.Request{}); rep.NCTR != 2 {
		t.Fatalf("today: %d", rep.NCTR)
	}
	// Before the store kept closes: the stock now, as before.
	if rep, _ := svc.Sitrep(context.Background(), hub, sitrep.Request{From: d("2026-11-10"), To: d("2026-11-12")}); rep.NCTR != 2 || rep.AsOf != d("2026-11-30") {
		t.Fatalf("before: %d as of %s", rep.NCTR, rep.AsOf)
	}
}
