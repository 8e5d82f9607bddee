package discharge

import (
	"fmt"
	"testing"
	"time"
)

// Active holds come off the posted vacancies: a bed type whose vacancies
// are all held is no vacancy, and the option shows what is held.
func TestMatchSubtractsHolds(t *testing.T) {
	for _, c := range []struct {
		accepting, held int
		option          bool
		bookable        int
	}{{3, 0, true, 3}, {3, 2, true, 1}, {3, 3, false, 0}, {1, 4, false, 0}} {
		t.Run(fmt.Sprintf("%d-%d", c.accepting, c.held), func(t *testing.T) {
			cand := nursingProvider("a", 5, c.accepting, RatingGood, ContractBlock)
			if c.held > 0 {
				cand.Held = map[BedType]int{BedNursing: c.held}
			}
			req := nursingRequest()
			req.Explain = true
			res := Match(req, []Candidate{cand})
			if !c.option {
				if res.Total != 0 || res.Counts[FilterVacancy] != 1 || res.Excluded[0].Detail != "every vacancy accepting admissions is held for an offer" {
					t.Fatalf("%+v", res)
				}
				return
			}
			if res.Total != 1 {
				t.Fatalf("%+v", res)
			}
			v := res.Matches[0].Vacancies[0]
			if v.Held != c.held || v.Bookable() != c.bookable || v.AcceptingAdmissions != c.accepting {
				t.Fatalf("vacancy %+v", v)
			}
		})
	}
}

// A provider's acceptance rate scores it once it answered MinAnswered
// offers; below that, and without figures, the slot is neutral.
func TestMatchAcceptance(t *testing.T) {
	a := nursingProvider("a", 5, 2, RatingGood, ContractBlock)
	b := nursingProvider("b", 5, 2, RatingGood, ContractBlock)
	req := nursingRequest()
	base := Match(req, []Candidate{a, b})
	if ids(base.Matches)[0] != "a" || base.Matches[0].Components.Acceptance != 0.5 || base.Matches[0].Answers != nil {
		t.Fatalf("without figures: %+v", base.Matches[0])
	}
	// a declines most offers; b accepts most: b now ranks first.
	a.Answers = &Answers{Answered: MinAnswered, Accepted: 1, MedianAnswer: time.Hour}
	b.Answers = &Answers{Answered: MinAnswered + 2, Accepted: 9}
	res := Match(req, []Candidate{a, b})
	if got := ids(res.Matches); fmt.Sprint(got) != "[b a]" || res.Matches[1].Components.Acceptance != 0.1 ||
		res.Matches[0].Components.Acceptance != 0.75 || res.Matches[1].Answers != a.Answers {
		t.Fatalf("ranked %v: %+v", got, res.Matches)
	}
	// Too few answers: neutral, and not shown.
	a.Answers = &Answers{Answered: MinAnswered - 1, Accepted: 0}
	res = Match(req, []Candidate{a})
	if res.Matches[0].Components.Acceptance != 0.5 || res.Matches[0].Answers != nil || res.Matches[0].Score != base.Matches[0].Score {
		t.Fatalf("%+v", res.Matches[0])
	}
}
