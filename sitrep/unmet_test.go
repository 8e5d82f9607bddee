package sitrep_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/dischargegateway/gateway/auth"
	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/sitrep"
)

// fakeDemand is a hand-written fake of the unmet-demand counters: every
// trust has two searches short of options in M14 in the first week read.
type fakeDemand struct {
	mu    sync.Mutex
	read  []string
	weeks [][2]int64
}

func (f *fakeDemand) StockAt(context.Context, string, int64) ([]discharge.OpenNCTR, bool, error) {
	return nil, false, nil
}

func (f *fakeDemand) UnmetDemand(_ context.Context, partition string, from, to int64) ([]discharge.DemandCount, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.read = append(f.read, partition)
	f.weeks = append(f.weeks, [2]int64{from, to})
	monday := discharge.DateOfDay(from)
	return []discharge.DemandCount{
		{Week: monday, Outcode: "M14", Setting: "nursing", TopFilter: discharge.FilterDistance, N: 1},
		{Week: monday, Outcode: "M14", Setting: "nursing", TopFilter: discharge.FilterVacancy, N: 1},
	}, nil
}

func TestUnmetDemandTenancy(t *testing.T) {
	// Monday 30 November 2026.
	now := func() time.Time { return time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC) }
	trust := &auth.Principal{Org: "RXA", Role: auth.RoleTrust}
	hub := &auth.Principal{Org: "HUB1", Role: auth.RoleHub, Members: []string{"RXA", "RXB"}}
	icb := &auth.Principal{Org: "QXC", Role: auth.RoleSystem, Members: []string{"RXA", "RXB", "RXC"}}
	provider := &auth.Principal{Org: "1-1", Role: auth.RoleCareProvider}
	admin := &auth.Principal{Org: "DGADMIN", Role: auth.RoleAdmin}
	for _, c := range []struct {
		name    string
		p       *auth.Principal
		subject string
		read    []string
		ok      bool
	}{
		{"a trust reads its own", trust, "", []string{"RXA"}, true},
		{"a trust never reads another's", trust, "RXB", nil, false},
		{"a hub reads its members", hub, "", []string{"RXA", "RXB"}, true},
		{"a hub never reads a non-member", hub, "RXC", nil, false},
		{"a system client reads its trusts", icb, "", []string{"RXA", "RXB", "RXC"}, true},
		{"a system client names one trust", icb, "RXC", []string{"RXC"}, true},
		{"a system client never reads another trust", icb, "RXZ", nil, false},
		{"a care provider reads none", provider, "", nil, false},
		{"an admin reads none", admin, "", nil, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := &fakeDemand{}
			rep, err := sitrep.New(&fakeCounters{}, now).WithHistory(f).UnmetDemand(context.Background(), c.p, sitrep.Request{Subject: c.subject})
			if !c.ok {
				if discharge.ErrorKind(err) != discharge.KindForbidden || len(f.read) != 0 {
					t.Fatalf("err %v read %v", err, f.read)
				}
				return
			}
			if err != nil || !slices.Equal(f.read, c.read) || len(rep.Weeks) != 1 {
				t.Fatalf("err %v read %v weeks %d", err, f.read, len(rep.Weeks))
			}
			if rep.Weeks[0].Total != 2*len(c.read) || rep.Weeks[0].Week != (discharge.Date{Year: 2026, Month: 11, Day: 30}) {
				t.Fatalf("week %+v", rep.Weeks[0])
			}
		})
	}
}

func TestUnmetDemandPeriod(t *testing.T) {
	now := func() time.Time { return time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC) }
	trust := &auth.Principal{Org: "RXA", Role: auth.RoleTrust}
	d := func(s string) discharge.Date { x, _ := discharge.ParseDate(s); return x }
	f := &fakeDemand{}
	svc := sitrep.New(&fakeCounters{}, now).WithHistory(f)
	// A Wednesday to the next Tuesday: the two weeks they fall in.
	rep, err := svc.UnmetDemand(context.Background(), trust, sitrep.Request{From: d("2026-11-18"), To: d("2026-11-24")})
	if err != nil || len(rep.Weeks) != 2 || f.weeks[0] != [2]int64{discharge.DayNumber(d("2026-11-16")), discharge.DayNumber(d("2026-11-23"))} {
		t.Fatalf("err %v weeks %d read %v", err, len(rep.Weeks), f.weeks)
	}
	if _, err := svc.UnmetDemand(context.Background(), trust, sitrep.Request{From: d("2026-01-01"), To: d("2026-11-30")}); discharge.ErrorKind(err) != discharge.KindTooLarge {
		t.Fatalf("a year: %v", err)
	}
	if _, err := svc.UnmetDemand(context.Background(), trust, sitrep.Request{From: d("2026-11-30"), To: d("2026-11-01")}); discharge.ErrorKind(err) != discharge.KindValue {
		t.Fatalf("backwards: %v", err)
	}
	// No unmet-demand counters wired: not supported, not a crash.
	if _, err := sitrep.New(&fakeCounters{}, now).UnmetDemand(context.Background(), trust, sitrep.Request{}); discharge.ErrorKind(err) != discharge.KindNotSupported {
		t.Fatalf("no counters: %v", err)
	}
	// The dashboard's rows: one district and setting, two searches (both in
	// the first week: the fake dates them at the first Monday), the
	// tie between distance and vacancy broken by code.
	rows := sitrep.UnmetRows(rep)
	if len(rows) != 1 || rows[0] != (sitrep.UnmetRow{District: "M14", Setting: "nursing", Waiting: 2, TopFilter: "distance"}) {
		t.Fatalf("rows %+v", rows)
	}
}

// A system client reads the sitrep of its trusts, but no case's delay
// history: that is patient data.
func TestSystemClientReadsAggregatesOnly(t *testing.T) {
	now := func() time.Time { return time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC) }
	icb := &auth.Principal{Org: "QXC", Role: auth.RoleSystem, Members: []string{"RXA", "RXB"}}
	f := &fakeCounters{}
	svc := sitrep.New(f, now)
	rep, err := svc.Sitrep(context.Background(), icb, sitrep.Request{})
	if err != nil || rep.Subject != "QXC" || rep.NCTR != 2 {
		t.Fatalf("sitrep %v %+v", err, rep)
	}
	if _, err := svc.DelayHistory(context.Background(), icb, "RXA", "e1"); discharge.ErrorKind(err) != discharge.KindNotFound {
		t.Fatalf("delay history: %v", err)
	}
	if sitrep.MayReadAggregates(icb) != nil || len(sitrep.AggregateOrgs(icb)) != 2 || icb.CanSee("RXA") {
		t.Fatal("a system client reads aggregates of its trusts and no patient")
	}
}
