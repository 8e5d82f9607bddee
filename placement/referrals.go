package placement

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/dischargegateway/gateway/discharge"
)

// Referrals is the referral loop's record as placement reads it
// (adapters/sqlstore.Referral). Capacity comes from the cache; holds live
// in the record, so a placement that cannot read them fails (503) rather
// than rank beds that may be promised to someone else.
type Referrals interface {
	// ActiveHolds counts the active holds at each of locations by bed
	// type, in one query; locations without holds are absent.
	ActiveHolds(ctx context.Context, locations []string) (map[string]map[discharge.BedType]int, error)
	// ProviderAnswers are the answers of each of the owners (directory
	// Organization ids) to the offers sent to them since since, in one
	// query; owners that answered none are absent.
	ProviderAnswers(ctx context.Context, owners []string, since time.Time) (map[string]discharge.Answers, error)
}

// AnswersTTL is how long a provider's answers are kept in process: they
// are a ranking hint, and a minute stale is fine.
const AnswersTTL = time.Minute

// answersCache keeps providers' answers for AnswersTTL.
type answersCache struct {
	mu  sync.Mutex
	m   map[string]cachedAnswers
	max int
}

type cachedAnswers struct {
	a    *discharge.Answers // nil: none answered
	read time.Time
}

// holdsOf reads the active holds on the candidates' locations in one query
// (none without a referral record). Any failure is KindUnavailable: the
// holds are the record's, and pretending there are none would offer beds
// promised to other patients.
func (s *Service) holdsOf(ctx context.Context, locIDs []string, caps map[string]discharge.Capacity) (map[string]map[discharge.BedType]int, error) {
	if s.cfg.Referrals == nil || len(caps) == 0 {
		return nil, nil
	}
	// Only locations with a posting can have a bookable bed.
	ids := make([]string, 0, len(caps))
	for _, id := range locIDs {
		if _, ok := caps[id]; ok {
			ids = append(ids, id)
		}
	}
	return s.activeHolds(ctx, ids)
}

// activeHolds reads the active holds on locations in one query, before
// their postings are known (candidates reads both at once); postedOnly
// then keeps what holdsOf would have read. Failures are as holdsOf's.
func (s *Service) activeHolds(ctx context.Context, ids []string) (map[string]map[discharge.BedType]int, error) {
	if s.cfg.Referrals == nil || len(ids) == 0 {
		return nil, nil
	}
	held, err := s.cfg.Referrals.ActiveHolds(ctx, ids)
	if err != nil {
		return nil, unavailable("placement.holds", err)
	}
	return held, nil
}

// postedOnly keeps the holds of locations with a posting (caps, aligned
// with locIDs, as capacityAt returns them): only they can have a bookable
// bed, and only their holds are put on candidates.
func postedOnly(held map[string]map[discharge.BedType]int, locIDs []string, caps []*discharge.Capacity) map[string]map[discharge.BedType]int {
	if len(held) == 0 {
		return nil
	}
	out := make(map[string]map[discharge.BedType]int, len(held))
	for i, id := range locIDs {
		if caps[i] == nil {
			continue
		}
		if h, ok := held[id]; ok {
			out[id] = h
		}
	}
	return out
}

// unavailable makes a record failure a 503 unless it is a timeout already.
func unavailable(op string, err error) error {
	switch discharge.ErrorKind(err) {
	case discharge.KindUnavailable, discharge.KindTimeout:
		return err
	}
	return discharge.Wrap(discharge.KindUnavailable, op, err)
}

// answersOf returns the answers of the candidates' providers, reading the
// ones not cached within AnswersTTL in one query. A failure leaves the
// acceptance neutral for the providers not cached: it is a ranking hint,
// and the holds read just before says whether the record answers.
func (s *Service) answersOf(ctx context.Context, cands []discharge.Candidate) map[string]*discharge.Answers {
	if s.cfg.Referrals == nil || len(cands) == 0 {
		return nil
	}
	now := s.cfg.Now()
	c := &s.answers
	out := make(map[string]*discharge.Answers, len(cands))
	var missing []string
	c.mu.Lock()
	for _, cd := range cands {
		org := cd.Provider.OrganizationID
		if _, seen := out[org]; seen || org == "" {
			continue
		}
		if e, ok := c.m[org]; ok && now.Sub(e.read) < AnswersTTL {
			out[org] = e.a
		} else if !slices.Contains(missing, org) {
			missing = append(missing, org)
		}
	}
	c.mu.Unlock()
	if len(missing) == 0 {
		return out
	}
	got, err := s.cfg.Referrals.ProviderAnswers(ctx, missing, now.Add(-discharge.AcceptanceWindow))
	if err != nil {
		return out
	}
	c.mu.Lock()
	if c.m == nil || len(c.m)+len(missing) > c.max {
		c.m = make(map[string]cachedAnswers, len(missing))
	}
	for _, org := range missing {
		var a *discharge.Answers
		if x, ok := got[org]; ok {
			a = &x
		}
		c.m[org] = cachedAnswers{a: a, read: now}
		out[org] = a
	}
	c.mu.Unlock()
	return out
}

// withReferrals puts the holds and answers on the candidates and returns
// the warning for locations whose latest posting shows fewer vacancies
// than their active holds (the holds stand; the beds are not bookable).
func withReferrals(list []discharge.Candidate, held map[string]map[discharge.BedType]int, answers map[string]*discharge.Answers) discharge.Issues {
	var over []string
	for i := range list {
		c := &list[i]
		if a, ok := answers[c.Provider.OrganizationID]; ok {
			c.Answers = a
		}
		h := held[c.Provider.LocationID]
		if len(h) == 0 {
			continue
		}
		c.Held = h
		if c.Capacity == nil || c.ExplainOnly || slices.Contains(over, c.Provider.LocationID) {
			continue
		}
		for bt, n := range h {
			if n > c.Capacity.Vacant(bt) {
				over = append(over, c.Provider.LocationID)
				break
			}
		}
	}
	var is discharge.Issues
	if len(over) > 0 {
		slices.Sort(over)
		shown := over[:min(len(over), 5)]
		more := ""
		if len(over) > len(shown) {
			more = fmt.Sprintf(" and %d more", len(over)-len(shown))
		}
		is.Warn(discharge.KindBusinessRule, "", "Location/"+strings.Join(shown, ", Location/")+more+
			": the latest capacity posting shows fewer vacancies than the beds held for accepted offers. The holds stand; no bed there is bookable until the vacancies exceed them.")
	}
	return is
}
