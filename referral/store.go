package referral

import (
	"context"
	"slices"
	"time"

	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/fhir"
)

// Store is the record the referral loop keeps its Tasks, offers, holds and
// case events in (adapters/sqlstore.Referral). Every Change is one
// transaction.
type Store interface {
	// Apply stores a change atomically: the Tasks' new versions (checked
	// against ExpectVersion: KindRetry when one moved), their offer rows,
	// timers, holds, outbox rows and the events. Taking a hold fails with
	// KindConflict (rule RuleHoldBookable) when no bed is bookable.
	Apply(ctx context.Context, c Change) error
	// FindOffer reads one offer visible to org: in partition org, or, with
	// asOwner, owned by org (a provider). KindNotFound otherwise.
	FindOffer(ctx context.Context, org, taskID string, asOwner bool) (discharge.Offer, error)
	// CaseOffers lists a partition's offers of one ServiceRequest (or,
	// with serviceRequest empty, of one Encounter).
	CaseOffers(ctx context.Context, partition, serviceRequest, encounter string) ([]discharge.Offer, error)
	// SearchOffers is one page of the offers q selects and the total.
	SearchOffers(ctx context.Context, q OfferQuery) ([]discharge.Offer, int, error)
	// Due lists offers whose timer (an answer's deadline or an accepted
	// offer's hold) is at or before now, in every partition.
	Due(ctx context.Context, now time.Time, limit int) ([]Due, error)
	// AppendEvent appends an event not tied to a Task change.
	AppendEvent(ctx context.Context, e Event) error
	// Events reads a case's timeline in order.
	Events(ctx context.Context, partition, caseID string) ([]Event, error)
	// Read, ReadVersion and History read the Task resources (fhir.Store).
	Read(ctx context.Context, partition, typ, id string) (fhir.Resource, error)
	ReadVersion(ctx context.Context, partition, typ, id string, version int64) (fhir.Resource, error)
	History(ctx context.Context, partition, typ, id string, offset, count int) ([]fhir.Resource, int, error)
	ReadMany(ctx context.Context, partition string, refs []fhir.Ref) (map[string]fhir.Resource, error)
}

// Change is one transaction of the referral loop in one partition.
type Change struct {
	Partition string
	At        time.Time
	Offers    []OfferWrite
	// Events are appended after the writes; an event with an empty State
	// gets the case's state computed from its offers after them
	// (CaseStateOf).
	Events []Event
}

// OfferWrite is one offer's new state and its Task version.
type OfferWrite struct {
	Offer discharge.Offer
	// Task is the Task resource rendered from Offer (its new version).
	Task fhir.Resource
	// ExpectVersion is the Task's current version; 0 creates it.
	ExpectVersion int64
	// NewHold takes Offer.Hold (active) against the bookable beds; without
	// it an existing hold's state is set to Offer.Hold.State.
	NewHold bool
	// Due is when the sweeper next looks at the offer; zero: never.
	Due time.Time
}

// Due names an offer the sweeper should look at.
type Due struct{ Partition, TaskID string }

// OfferQuery selects offers. Org with AsOwner selects a provider's offers
// (owner_org); otherwise the offers of partition Org.
type OfferQuery struct {
	Org            string
	AsOwner        bool
	States         []discharge.OfferState
	Owner          string // Organization id
	ServiceRequest string
	Patient        string
	UpdatedFrom    time.Time // inclusive
	UpdatedTo      time.Time // exclusive
	Offset, Count  int
}

// The named rules a refusal cites as its issue's detail.
const (
	// RuleTaskMove: the move is not in discharge.CanMove's table.
	RuleTaskMove = "TASK-MOVE"
	// RuleHoldBookable: no bed of the type is bookable at the Location.
	RuleHoldBookable = "HOLD-BOOKABLE"
	// RuleTaskContent: a Task update changed what the offer is.
	RuleTaskContent = "TASK-CONTENT"
)

// CaseStateRule is one row of CaseStateRules.
type CaseStateRule struct {
	Offers []discharge.OfferState
	State  CaseState
}

// CaseStateRules decide a case's state from its offers' states: the first
// rule with an offer in one of its states gives the state, and a case none
// matches is shortlisted (every offer ended unconfirmed: the case needs
// new offers). One table, so that CaseStateOf and the record's SQL
// (adapters/sqlstore computes the state in the statement that appends an
// event) cannot disagree.
var CaseStateRules = []CaseStateRule{
	{[]discharge.OfferState{discharge.OfferInProgress, discharge.OfferCompleted}, CaseConfirmed},
	{[]discharge.OfferState{discharge.OfferAccepted}, CaseAccepted},
	{[]discharge.OfferState{discharge.OfferRequested, discharge.OfferReceived}, CaseOffersSent},
}

// CaseStateNone is the state of a case whose offers match no rule.
const CaseStateNone = CaseShortlisted

// CaseStateOf is a case's state given its offers' states (CaseStateRules):
// confirmed when one is in progress or completed, accepted when one is
// accepted, offers sent when one awaits an answer, else shortlisted.
func CaseStateOf(states []discharge.OfferState) CaseState {
	for _, r := range CaseStateRules {
		for _, s := range states {
			if slices.Contains(r.Offers, s) {
				return r.State
			}
		}
	}
	return CaseStateNone
}
