// This file is the contract between the offer workflow (which writes a
// case's events in the same transaction as each Task change) and the case
// view (timeline, measures, worklist), which reads them.

package referral

import "time"

// CaseState is where a discharge case stands in the referral loop. A case
// is one Encounter; its state is the state after its latest event.
type CaseState string

// The case states, in the order a case normally passes through them.
const (
	// CaseReferred: the trust has sent the Encounter and its ServiceRequest.
	CaseReferred CaseState = "referred"
	// CaseShortlisted: placement options were produced for the ServiceRequest.
	CaseShortlisted CaseState = "shortlisted"
	// CaseOffersSent: at least one offer (Task) is open.
	CaseOffersSent CaseState = "offers-sent"
	// CaseAccepted: at least one provider accepted and holds a bed.
	CaseAccepted CaseState = "accepted"
	// CaseConfirmed: the requester confirmed one accepted offer; its hold
	// became the admission.
	CaseConfirmed CaseState = "confirmed"
	// CaseDischarged: the trust finished the Encounter.
	CaseDischarged CaseState = "discharged"
	// CaseCancelled: the Encounter was cancelled or entered in error.
	CaseCancelled CaseState = "cancelled"
)

// CaseStates lists the states in order.
func CaseStates() []CaseState {
	return []CaseState{CaseReferred, CaseShortlisted, CaseOffersSent, CaseAccepted, CaseConfirmed, CaseDischarged, CaseCancelled}
}

// EventKind names one step of a case's timeline.
type EventKind string

// The event kinds.
const (
	EventReferred       EventKind = "referred"        // the case first reached the gateway
	EventShortlisted    EventKind = "shortlisted"     // placement options answered
	EventOfferSent      EventKind = "offer-sent"      // a Task was created
	EventOfferReceived  EventKind = "offer-received"  // the provider marked it received
	EventOfferAccepted  EventKind = "offer-accepted"  // accepted with a hold
	EventOfferRejected  EventKind = "offer-rejected"  // declined, with a reason code
	EventOfferExpired   EventKind = "offer-expired"   // unanswered past its deadline
	EventHoldLapsed     EventKind = "hold-lapsed"     // an accepted offer's hold ran out
	EventOfferCancelled EventKind = "offer-cancelled" // withdrawn (another confirmed, case closed)
	EventConfirmed      EventKind = "confirmed"       // the requester confirmed one offer
	EventDischarged     EventKind = "discharged"      // the Encounter finished
	EventTriage         EventKind = "triage"          // the hub recorded its triage decision
	EventCaseCancelled  EventKind = "case-cancelled"  // the Encounter was cancelled
)

// Event is one timestamped step of a case's timeline. It carries no
// patient identifier and no clinical detail: Detail is a code (a reject
// reason, a business status), never free text from a caller.
type Event struct {
	// Partition is the ODS code of the trust that owns the case.
	Partition string
	// CaseID is the id of the case's Encounter.
	CaseID string
	// Seq orders a case's events; the store assigns it.
	Seq int64
	At  time.Time
	// Kind is what happened; State is the case's state after it.
	Kind  EventKind
	State CaseState
	// Actor is the client id that caused the event ("system" for expiry);
	// ActorOrg its organisation (ODS code or CQC provider id).
	Actor, ActorOrg string
	// TaskID and ProviderOrg name the offer concerned, if any.
	TaskID, ProviderOrg string
	// Detail is a code: a reject reason, "expired", a bed type.
	Detail string
}
