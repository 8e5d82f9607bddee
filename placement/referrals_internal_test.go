package placement

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/dischargegateway/gateway/discharge"
)

type failingHolds struct{ err error }

func (f failingHolds) ActiveHolds(context.Context, []string) (map[string]map[discharge.BedType]int, error) {
	return nil, f.err
}
func (f failingHolds) ProviderAnswers(context.Context, []string, time.Time) (map[string]discharge.Answers, error) {
	return nil, f.err
}

// Holds the record cannot read fail the placement as unavailable (503),
// whatever the failure: never "no holds". Providers' answers that cannot
// be read leave the acceptance neutral.
func TestHoldsUnreadableIsUnavailable(t *testing.T) {
	caps := map[string]discharge.Capacity{"L1": {LocationID: "L1"}}
	for _, err := range []error{errors.New("sql: database is closed"), discharge.E(discharge.KindInternal, "", "x"),
		discharge.E(discharge.KindUnavailable, "", "down")} {
		s := New(Config{Referrals: failingHolds{err}}, nil, nil, nil, nil)
		if _, got := s.holdsOf(context.Background(), []string{"L1"}, caps); discharge.ErrorKind(got) != discharge.KindUnavailable {
			t.Fatalf("%v: got %v, want unavailable", err, got)
		}
		cands := []discharge.Candidate{{Provider: discharge.Provider{OrganizationID: "O1"}}}
		if a := s.answersOf(context.Background(), cands); a["O1"] != nil {
			t.Fatalf("answers %v", a)
		}
	}
}

// A location whose holds exceed its posted vacancies is named in one
// warning; one with holds within them is not.
func TestHoldsAbovePostingWarn(t *testing.T) {
	over := &discharge.Capacity{LocationID: "L1", Beds: []discharge.BedCapacity{{Type: discharge.BedNursing, AcceptingAdmissions: 1}}}
	within := &discharge.Capacity{LocationID: "L2", Beds: []discharge.BedCapacity{{Type: discharge.BedNursing, AcceptingAdmissions: 3}}}
	list := []discharge.Candidate{
		{Provider: discharge.Provider{LocationID: "L1", ServiceID: "a"}, Capacity: over},
		{Provider: discharge.Provider{LocationID: "L1", ServiceID: "b"}, Capacity: over},
		{Provider: discharge.Provider{LocationID: "L2", ServiceID: "c"}, Capacity: within},
	}
	held := map[string]map[discharge.BedType]int{"L1": {discharge.BedNursing: 2}, "L2": {discharge.BedNursing: 2}}
	is := withReferrals(list, held, nil)
	if len(is) != 1 || !strings.Contains(is[0].Message, "Location/L1:") || strings.Contains(is[0].Message, "L2") ||
		is[0].Severity != discharge.SeverityWarning || list[2].Held[discharge.BedNursing] != 2 {
		t.Fatalf("warnings %+v, candidates %+v", is, list)
	}
}

type countingAnswers struct {
	failingHolds
	calls int
}

func (c *countingAnswers) ProviderAnswers(_ context.Context, owners []string, _ time.Time) (map[string]discharge.Answers, error) {
	c.calls++
	return map[string]discharge.Answers{"O1": {Answered: 10, Accepted: 5}}, nil
}

// Providers' answers are read once per AnswersTTL, then again.
func TestAnswersCachedForTTL(t *testing.T) {
	now := time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
	refs := &countingAnswers{}
	s := New(Config{Referrals: refs, Now: func() time.Time { return now }}, nil, nil, nil, nil)
	cands := []discharge.Candidate{{Provider: discharge.Provider{OrganizationID: "O1"}}, {Provider: discharge.Provider{OrganizationID: "O2"}}}
	for i, step := range []time.Duration{0, 30 * time.Second, AnswersTTL} {
		now = now.Add(step)
		a := s.answersOf(context.Background(), cands)
		if a["O1"] == nil || a["O1"].Accepted != 5 || a["O2"] != nil {
			t.Fatalf("answers %v", a)
		}
		if want := []int{1, 1, 2}[i]; refs.calls != want {
			t.Fatalf("step %d: %d queries, want %d", i, refs.calls, want)
		}
	}
}
