package cases_test

import (
	"context"
	"testing"
	"time"

	"github.com/dischargegateway/gateway/auth"
	"github.com/dischargegateway/gateway/cases"
	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/placement"
)

// fakeShortlists records the shortlisted calls; fail makes them fail.
type fakeShortlists struct {
	shortlisted []string
	fail        error
}

func (f *fakeShortlists) Shortlisted(_ context.Context, partition, caseID, actor, org string, at time.Time) error {
	if f.fail != nil {
		return f.fail
	}
	f.shortlisted = append(f.shortlisted, partition+"/"+caseID+" by "+actor+"@"+org+" at "+at.Format(time.RFC3339))
	return nil
}

// A stored ServiceRequest's search marks its case shortlisted, by the
// caller at the search's time, once per process (the record keeps only
// the first anyway); a what-if question (no case) marks nothing; a record
// that cannot take the mark fails the answer as unavailable, and the case
// is marked when the record answers again.
func TestOptionsShortlists(t *testing.T) {
	at := time.Date(2026, 11, 16, 10, 0, 0, 0, time.UTC)
	stored := placement.Search{At: at, Principal: &auth.Principal{ClientID: "trust-a", Org: "RXA", Role: auth.RoleTrust},
		Partition: "RXA", CaseID: "e1"}
	whatIf := stored
	whatIf.Partition, whatIf.CaseID = "", ""
	for _, c := range []struct {
		name     string
		searches []placement.Search
		fail     error
		want     []string
	}{
		{"stored", []placement.Search{stored, stored}, nil, []string{"RXA/e1 by trust-a@RXA at 2026-11-16T10:00:00Z"}},
		{"what-if", []placement.Search{whatIf}, nil, nil},
		{"record down", []placement.Search{stored}, discharge.E(discharge.KindInternal, "", "closed"), nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			rec := &fakeShortlists{fail: c.fail}
			o := cases.NewShortlistObserver(rec, 0)
			for _, s := range c.searches {
				err := o.Observed(context.Background(), s)
				if (err != nil) != (c.fail != nil) || (c.fail != nil && discharge.ErrorKind(err) != discharge.KindUnavailable) {
					t.Fatalf("err %v, want unavailable: %v", err, c.fail != nil)
				}
			}
			if len(rec.shortlisted) != len(c.want) || (len(c.want) > 0 && rec.shortlisted[0] != c.want[0]) {
				t.Fatalf("shortlisted %v, want %v", rec.shortlisted, c.want)
			}
			if c.fail != nil {
				// Not remembered: the next search marks it.
				rec.fail = nil
				if err := o.Observed(context.Background(), stored); err != nil || len(rec.shortlisted) != 1 {
					t.Fatalf("after the outage: err %v, shortlisted %v", err, rec.shortlisted)
				}
			}
		})
	}
}

// The memory of marked cases is bounded: when full it starts again, and a
// case forgotten is asked of the record again (which keeps only the first
// event).
func TestShortlistMemoryIsBounded(t *testing.T) {
	rec := &fakeShortlists{}
	o := cases.NewShortlistObserver(rec, 2)
	for _, id := range []string{"e1", "e2", "e3", "e1"} {
		if err := o.Observed(context.Background(), placement.Search{Partition: "RXA", CaseID: id}); err != nil {
			t.Fatal(err)
		}
	}
	if len(rec.shortlisted) != 4 {
		t.Fatalf("asked %d times, want 4 (e1 forgotten when the memory filled)", len(rec.shortlisted))
	}
}
