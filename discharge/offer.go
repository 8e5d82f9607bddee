package discharge

import "time"

// OfferState is the state of one offer of a case to one provider: the FHIR
// Task status values the referral loop uses.
type OfferState string

// The offer states.
const (
	OfferRequested  OfferState = "requested"   // sent, awaiting the provider
	OfferReceived   OfferState = "received"    // the provider has seen it
	OfferAccepted   OfferState = "accepted"    // the provider holds a bed
	OfferRejected   OfferState = "rejected"    // the provider declined (with a reason)
	OfferCancelled  OfferState = "cancelled"   // withdrawn by the requester or the gateway
	OfferFailed     OfferState = "failed"      // expired unanswered, or its hold lapsed
	OfferInProgress OfferState = "in-progress" // confirmed: the hold became the admission
	OfferCompleted  OfferState = "completed"   // the patient was discharged to it
)

// Open reports whether the offer still awaits an outcome: requested,
// received or accepted.
func (s OfferState) Open() bool {
	return s == OfferRequested || s == OfferReceived || s == OfferAccepted
}

// RejectReason is why a provider declined an offer (the published
// CodeSystem of Task.statusReason).
type RejectReason string

// The reject reasons.
const (
	RejectNoVacancy       RejectReason = "no-vacancy"
	RejectCannotMeetNeeds RejectReason = "cannot-meet-needs"
	RejectFunding         RejectReason = "funding-not-accepted"
	RejectStaffing        RejectReason = "staffing"
	RejectOutsideArea     RejectReason = "outside-area"
	RejectOther           RejectReason = "other" // needs a text
)

// RejectReasons lists the reasons with display and definition.
func RejectReasons() []Concept {
	return clone([]Concept{
		{string(RejectNoVacancy), "No vacancy", "No bed or care package of the kind offered is free."},
		{string(RejectCannotMeetNeeds), "Cannot meet needs", "The provider cannot meet the person's care needs."},
		{string(RejectFunding), "Funding not accepted", "The provider does not accept the offered funding."},
		{string(RejectStaffing), "Staffing", "The provider lacks the staff to admit now."},
		{string(RejectOutsideArea), "Outside area", "The person's home or the hospital is outside the area the provider serves."},
		{string(RejectOther), "Other", "Another reason, given in the text."},
	})
}

// BusinessStatus refines an offer's state (Task.businessStatus).
type BusinessStatus string

// The business statuses.
const (
	BusinessExpired    BusinessStatus = "expired"     // failed: no answer before the deadline
	BusinessHoldLapsed BusinessStatus = "hold-lapsed" // failed: the accepted hold ran out unconfirmed
	BusinessSuperseded BusinessStatus = "superseded"  // cancelled: another offer was confirmed
	BusinessCaseClosed BusinessStatus = "case-closed" // cancelled: the Encounter finished or was cancelled
	BusinessWithdrawn  BusinessStatus = "withdrawn"   // cancelled by the requester
	BusinessAdmitted   BusinessStatus = "admitted"    // completed: discharged to this placement
)

// Offer is one referral of a case to one provider (a FHIR Task). It holds
// references and codes only: the patient's identity stays in the record.
type Offer struct {
	ID string
	// Partition is the ODS code of the trust that owns the case.
	Partition string
	// Requester is the organisation that sent it: the trust, or a hub for
	// a member trust (ODS code).
	Requester string
	// Owner is the provider's directory Organization id; OwnerOrg the
	// provider's organisation code (CQC provider id), which its client
	// carries.
	Owner, OwnerOrg string
	// ServiceRequestID, EncounterID (the case) and PatientID are the
	// record's ids.
	ServiceRequestID, EncounterID, PatientID string
	// HealthcareServiceID and LocationID are what was offered.
	HealthcareServiceID, LocationID string
	State                           OfferState
	BusinessStatus                  BusinessStatus
	// Reason and ReasonText say why it was rejected.
	Reason     RejectReason
	ReasonText string
	// Deadline is when an unanswered offer expires.
	Deadline time.Time
	// Hold is the bed held for an accepted, confirmed or completed offer.
	Hold *Hold
	// Version is the Task's version.
	Version          int64
	Created, Updated time.Time
}

// HoldState is the state of a bed hold.
type HoldState string

// The hold states.
const (
	HoldActive   HoldState = "active"   // counts against the bookable beds
	HoldAdmitted HoldState = "admitted" // confirmed: the bed is the patient's
	HoldReleased HoldState = "released" // given back (cancelled, case closed)
	HoldLapsed   HoldState = "lapsed"   // ran out before confirmation
)

// Hold is one bed of a bed type at a Location, held for an accepted offer.
type Hold struct {
	ID         string
	LocationID string
	BedType    BedType
	State      HoldState
	Created    time.Time
	// Expires is when an active hold lapses unless confirmed.
	Expires time.Time
}

// OfferActor is who moves an offer.
type OfferActor string

// The actors.
const (
	ActorOwner     OfferActor = "owner"     // the provider the offer was sent to
	ActorRequester OfferActor = "requester" // the trust (or hub) that sent it
	ActorSystem    OfferActor = "system"    // the gateway: expiry, lapse, case closure, confirmation of another
)

// offerMoves is the one table of legal moves: from state, by actor, to state.
var offerMoves = map[OfferState]map[OfferActor][]OfferState{
	OfferRequested: {
		ActorOwner:     {OfferReceived, OfferAccepted, OfferRejected},
		ActorRequester: {OfferCancelled},
		ActorSystem:    {OfferFailed, OfferCancelled},
	},
	OfferReceived: {
		ActorOwner:     {OfferAccepted, OfferRejected},
		ActorRequester: {OfferCancelled},
		ActorSystem:    {OfferFailed, OfferCancelled},
	},
	OfferAccepted: {
		ActorRequester: {OfferInProgress, OfferCancelled},
		ActorSystem:    {OfferFailed, OfferCancelled},
	},
	OfferInProgress: {
		ActorSystem: {OfferCompleted},
	},
}

// CanMove reports whether actor may move an offer from one state to
// another. A move to the same state is not a move.
func CanMove(from OfferState, by OfferActor, to OfferState) bool {
	for _, s := range offerMoves[from][by] {
		if s == to {
			return true
		}
	}
	return false
}

// MovesFrom lists the states actor may move an offer to from a state.
func MovesFrom(from OfferState, by OfferActor) []OfferState {
	return append([]OfferState(nil), offerMoves[from][by]...)
}
