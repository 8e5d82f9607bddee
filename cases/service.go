package cases

import (
	"context"
	"time"

	"github.com/dischargegateway/gateway/auth"
	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/records"
	"github.com/dischargegateway/gateway/referral"
)

// Records is what the case view needs of the record: the case mapped from
// the current Encounter, with the caller's tenancy applied
// (records.Service.Case).
type Records interface {
	Case(ctx context.Context, p *auth.Principal, id string) (records.Case, error)
}

var _ Records = (*records.Service)(nil)

// Store is what the case view needs of the system of record. Every method
// works in one partition (the trust's), as row-level security scopes it.
type Store interface {
	// Events are a case's events in order.
	Events(ctx context.Context, partition, caseID string) ([]referral.Event, error)
	// Offers are a case's offers, oldest first.
	Offers(ctx context.Context, partition, caseID string) ([]discharge.Offer, error)
	// AppendEvent adds e after the case's latest event (the store assigns
	// Seq) and returns it as stored.
	AppendEvent(ctx context.Context, e referral.Event) (referral.Event, error)
	// Worklist is one partition's rows of the worklist, sorted and
	// limited as q says, and how many match.
	Worklist(ctx context.Context, partition string, q WorklistQuery) (WorklistResult, error)
	// Facts are the measures' inputs of the partition's cases referred or
	// ready since since.
	Facts(ctx context.Context, partition string, since time.Time) ([]CaseFacts, error)
	// Answers are the partition's offers sent since since, with when and
	// how each was answered.
	Answers(ctx context.Context, partition string, since time.Time) ([]Answer, error)
}

// Config holds the case view's settings.
type Config struct {
	// Escalation is when a case is flagged.
	Escalation discharge.EscalationRule
}

// DefaultConfig flags a case 4 hours after its first offer without an
// acceptance, or after 7 days not meeting the criteria to reside.
func DefaultConfig() Config {
	return Config{Escalation: discharge.EscalationRule{OfferWait: 4 * time.Hour, NCTRDays: 7}}
}

// Service is the case view.
type Service struct {
	cfg     Config
	records Records
	store   Store
	now     func() time.Time
	// escalated feeds the dg.cases.escalated gauge.
	escalated escalatedCounts
}

// New builds the case view; now nil is time.Now.
func New(cfg Config, r Records, st Store, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	return &Service{cfg: cfg, records: r, store: st, now: now}
}

// Config returns the settings the service runs with.
func (s *Service) Config() Config { return s.cfg }

// View is one case as GET /api/v1/cases/{id} shows it.
type View struct {
	records.Case
	State referral.CaseState
	// StateAt is when the case entered State.
	StateAt    time.Time
	Timeline   []referral.Event
	Offers     []discharge.Offer
	Measures   discharge.CaseMeasures
	Escalation []string
	// Triage is the hub's latest triage decision, nil when none.
	Triage *Triage
}

// Case is the case with its state, timeline, offers, measures, escalation
// and triage. The record decides whether the caller sees it at all.
func (s *Service) Case(ctx context.Context, p *auth.Principal, id string) (View, error) {
	rc, err := s.records.Case(ctx, p, id)
	if err != nil {
		return View{}, err
	}
	events, err := s.store.Events(ctx, rc.Partition, id)
	if err != nil {
		return View{}, err
	}
	offers, err := s.store.Offers(ctx, rc.Partition, id)
	if err != nil {
		return View{}, err
	}
	v := View{Case: rc, Timeline: events, Offers: offers}
	if v.Timeline == nil {
		v.Timeline = []referral.Event{}
	}
	if v.Offers == nil {
		v.Offers = []discharge.Offer{}
	}
	v.State, v.StateAt = StateOf(events, rc.Referred)
	m := MilestonesOf(events, rc.Referred)
	var drd *discharge.Date
	var ctr *discharge.CriteriaToReside
	if rc.Case != nil {
		drd, ctr = rc.Case.DischargeReadyDate, rc.Case.CriteriaToReside
	}
	now := s.now()
	v.Measures = discharge.MeasureCase(drd, ctr, m, now)
	if !Closed(v.State) {
		v.Escalation = s.cfg.Escalation.Escalate(m, v.Measures.NCTRDays, now)
	}
	v.Triage = latestTriage(events)
	return v, nil
}
