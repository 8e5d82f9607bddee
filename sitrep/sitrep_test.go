package sitrep_test

import (
	"context"
	"net/url"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/dischargegateway/gateway/auth"
	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/sitrep"
)

// fakeCounters is a hand-written fake: each trust has one open NCTR case.
// The service reads trusts concurrently: the fake locks.
type fakeCounters struct {
	mu   sync.Mutex
	read []string
}

func (f *fakeCounters) Counters(_ context.Context, partition string, _, _, _, _ int64) (discharge.SitrepCounters, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.read = append(f.read, partition)
	return discharge.SitrepCounters{Open: []discharge.OpenNCTR{{Since: discharge.Date{Year: 2026, Month: 11, Day: 20}, Pathway: "3", Reason: "other", N: 1}}}, nil
}

func (f *fakeCounters) DelayHistory(context.Context, string, string) ([]discharge.DelaySpell, error) {
	return nil, nil
}

func TestTenancy(t *testing.T) {
	now := func() time.Time { return time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC) }
	trust := &auth.Principal{Org: "RXA", Role: auth.RoleTrust}
	hub := &auth.Principal{Org: "HUB1", Role: auth.RoleHub, Members: []string{"RXA", "RXB"}}
	provider := &auth.Principal{Org: "1-1", Role: auth.RoleCareProvider}
	for _, c := range []struct {
		name    string
		p       *auth.Principal
		subject string
		read    []string
		kind    discharge.Kind
		ok      bool
	}{
		{"a trust reads its own", trust, "", []string{"RXA"}, 0, true},
		{"a trust names itself", trust, "RXA", []string{"RXA"}, 0, true},
		{"a trust never reads another's", trust, "RXB", nil, discharge.KindForbidden, false},
		{"a hub reads all its members", hub, "", []string{"RXA", "RXB"}, 0, true},
		{"a hub names one member", hub, "RXB", []string{"RXB"}, 0, true},
		{"a hub never reads a non-member", hub, "RXC", nil, discharge.KindForbidden, false},
		{"a care provider reads none", provider, "", nil, discharge.KindForbidden, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := &fakeCounters{}
			rep, err := sitrep.New(f, now).Sitrep(context.Background(), c.p, sitrep.Request{Subject: c.subject})
			if !c.ok {
				if discharge.ErrorKind(err) != c.kind || len(f.read) != 0 {
					t.Fatalf("err %v read %v", err, f.read)
				}
				return
			}
			slices.Sort(f.read)
			if err != nil || !slices.Equal(f.read, c.read) || rep.NCTR != len(c.read) || rep.AsOf.String() != "2026-11-30" {
				t.Fatalf("err %v read %v report %+v", err, f.read, rep)
			}
		})
	}
}

func TestParsePeriod(t *testing.T) {
	for _, c := range []struct {
		q        string
		from, to string
		bad      bool
	}{
		{"period=2026-11-30", "2026-11-30", "2026-11-30", false},
		{"period=ge2026-11-24&period=le2026-11-30", "2026-11-24", "2026-11-30", false},
		{"periodStart=2026-11-01&periodEnd=2026-11-07", "2026-11-01", "2026-11-07", false},
		{"period=gt2026-11-01", "", "", true},
		{"period=30/11/2026", "", "", true},
	} {
		q, _ := url.ParseQuery(c.q)
		from, to, err := sitrep.ParsePeriod(q)
		if c.bad {
			if err == nil {
				t.Errorf("%s: no error", c.q)
			}
			continue
		}
		if err != nil || from.String() != c.from || to.String() != c.to {
			t.Errorf("%s: %s..%s %v", c.q, from, to, err)
		}
	}
	p := &auth.Principal{Org: "RXA", Role: auth.RoleTrust}
	_, err := sitrep.New(&fakeCounters{}, nil).Sitrep(context.Background(), p, sitrep.Request{From: discharge.Date{Year: 2026, Month: 1, Day: 1}, To: discharge.Date{Year: 2026, Month: 6, Day: 1}})
	if discharge.ErrorKind(err) != discharge.KindTooLarge {
		t.Errorf("a half-year report: %v", err)
	}
}

func FuzzParsePeriod(f *testing.F) {
	for _, s := range []string{"period=2026-11-30", "period=ge2026-11-24&period=le2026-11-30", "periodStart=x", "period=eq", "subject=Organization/RXA"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		q, err := url.ParseQuery(s)
		if err != nil {
			return
		}
		sitrep.ParsePeriod(q)
		sitrep.ParseSubject(q)
	})
}
