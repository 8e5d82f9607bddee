package cases

import (
	"context"
	"sync"
	"time"

	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/placement"
)

// ShortlistRecord marks cases shortlisted in the referral loop's record
// (adapters/sqlstore.Referral).
type ShortlistRecord interface {
	// Shortlisted appends the case's shortlisted event, by the client
	// actor of organisation actorOrg at at, when, and only when, the case
	// is still referred (it has no event, or its last state is referred):
	// a case's timeline shows its first shortlist.
	Shortlisted(ctx context.Context, partition, caseID, actor, actorOrg string, at time.Time) error
}

// ShortlistObserver writes a case's shortlisted event when placement
// answers a search for it (a placement.Observer): the event of the case's
// timeline and the start of the Discharge Ready Date -> shortlist measure.
// Only a stored ServiceRequest's case is marked, never a what-if question.
type ShortlistObserver struct {
	rec ShortlistRecord
	// done remembers the cases this process has marked shortlisted (or
	// found past referred): a case never returns to referred, so a search
	// for it need not ask the record again. It is emptied when full.
	mu   sync.Mutex
	done map[string]struct{}
	max  int
}

// DefaultShortlistMemory bounds the cases a ShortlistObserver remembers.
const DefaultShortlistMemory = 250_000

// NewShortlistObserver marks cases in rec, remembering up to limit of them
// (0: DefaultShortlistMemory).
func NewShortlistObserver(rec ShortlistRecord, limit int) *ShortlistObserver {
	if limit <= 0 {
		limit = DefaultShortlistMemory
	}
	return &ShortlistObserver{rec: rec, max: limit}
}

var _ placement.Observer = (*ShortlistObserver)(nil)

// Observed marks the search's case shortlisted unless this process already
// did. The event is the record's, and the answer is the case's first
// shortlist: a record that cannot take it fails the answer as
// KindUnavailable (503), as it did when placement wrote the event itself.
func (o *ShortlistObserver) Observed(ctx context.Context, s placement.Search) error {
	if o.rec == nil || s.CaseID == "" {
		return nil
	}
	key := s.Partition + "/" + s.CaseID
	o.mu.Lock()
	_, done := o.done[key]
	o.mu.Unlock()
	if done {
		return nil
	}
	var actor, org string
	if s.Principal != nil {
		actor, org = s.Principal.ClientID, s.Principal.Org
	}
	if err := o.rec.Shortlisted(ctx, s.Partition, s.CaseID, actor, org, s.At); err != nil {
		switch discharge.ErrorKind(err) {
		case discharge.KindUnavailable, discharge.KindTimeout:
			return err
		}
		return discharge.Wrap(discharge.KindUnavailable, "cases.shortlisted", err)
	}
	o.mu.Lock()
	if o.done == nil || len(o.done) >= o.max {
		o.done = map[string]struct{}{}
	}
	o.done[key] = struct{}{}
	o.mu.Unlock()
	return nil
}
