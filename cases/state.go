// Package cases is the case view of the referral loop: a case's state,
// timeline, offers and measures, the hub's worklist of open cases with
// its escalation flags, the measures aggregated per trust and provider,
// and the hub's one write, its triage decision.
//
// It reads what the offer workflow records (referral.Event rows written
// in the same transaction as each Task change, and the offers' state) and
// the case mapped from the Encounter (records.Service.Case); the
// computations themselves are discharge's (MeasureCase, Escalate).
package cases

import (
	"time"

	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/referral"
)

// StateOf is a case's state and since when: the state after its latest
// event, or referred at referred (the Encounter's first version) when it
// has none. events are in order (by Seq).
func StateOf(events []referral.Event, referred time.Time) (referral.CaseState, time.Time) {
	if len(events) == 0 {
		return referral.CaseReferred, referred
	}
	last := events[len(events)-1]
	if last.State == "" {
		return referral.CaseReferred, referred
	}
	return last.State, last.At
}

// MilestonesOf are the first times the events reached each step.
func MilestonesOf(events []referral.Event, referred time.Time) discharge.Milestones {
	m := discharge.Milestones{Referred: referred}
	first := func(t *time.Time, at time.Time) {
		if t.IsZero() || at.Before(*t) {
			*t = at
		}
	}
	for _, e := range events {
		switch e.Kind {
		case referral.EventReferred:
			first(&m.Referred, e.At)
		case referral.EventShortlisted:
			first(&m.FirstShortlist, e.At)
		case referral.EventOfferSent:
			first(&m.FirstOfferSent, e.At)
		case referral.EventOfferAccepted:
			first(&m.FirstAcceptance, e.At)
		case referral.EventConfirmed:
			first(&m.Confirmed, e.At)
		case referral.EventDischarged:
			first(&m.Discharged, e.At)
		}
	}
	return m
}

// Closed reports whether a case in state s has left the worklist.
func Closed(s referral.CaseState) bool {
	return s == referral.CaseDischarged || s == referral.CaseCancelled
}

// closedEncounterStatuses are the Encounter statuses of a stay that is
// over: its case is closed whatever its events say.
var closedEncounterStatuses = []string{"finished", "cancelled", "entered-in-error"}

// ClosedEncounterStatuses lists them (the store filters on them).
func ClosedEncounterStatuses() []string { return append([]string(nil), closedEncounterStatuses...) }
