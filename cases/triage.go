package cases

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/dischargegateway/gateway/auth"
	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/referral"
)

// TriageDecision is what a hub decides for a case: the pathway, the
// destination and the level of care, each a code of the gateway's
// CodeSystems (discharge-pathway, UK Core DischargeDestinationEngland as
// discharge.DischargeDestinations lists it, care-setting).
type TriageDecision struct {
	Pathway     string
	Destination string
	LevelOfCare string
}

// Triage is a recorded decision: who made it and when.
type Triage struct {
	TriageDecision
	At              time.Time
	Actor, ActorOrg string
}

// Validate checks every code against its CodeSystem; the issues name the
// body's JSON fields.
func (d TriageDecision) Validate() error {
	var is discharge.Issues
	if n, err := strconv.Atoi(d.Pathway); err != nil || strconv.Itoa(n) != d.Pathway || !discharge.Pathway(n).Valid() {
		is.Add(discharge.KindCodeInvalid, "pathway", "the pathway is a code of the discharge-pathway CodeSystem: 0, 1, 2 or 3")
	}
	if !discharge.DischargeDestination(d.Destination).Known() {
		is.Add(discharge.KindCodeInvalid, "destination", "the destination is a code of the discharge destinations the gateway publishes (UK Core DischargeDestinationEngland)")
	}
	if !discharge.CareSetting(d.LevelOfCare).Valid() {
		is.Add(discharge.KindCodeInvalid, "levelOfCare", "the level of care is a code of the care-setting CodeSystem")
	}
	return is.Err(discharge.KindCodeInvalid, "cases.Triage")
}

// triageDetail is the event's Detail: the three codes, nothing else.
func (d TriageDecision) detail() string {
	return "pathway=" + d.Pathway + ";destination=" + d.Destination + ";levelOfCare=" + d.LevelOfCare
}

func parseTriageDetail(s string) TriageDecision {
	var d TriageDecision
	for _, kv := range strings.Split(s, ";") {
		k, v, _ := strings.Cut(kv, "=")
		switch k {
		case "pathway":
			d.Pathway = v
		case "destination":
			d.Destination = v
		case "levelOfCare":
			d.LevelOfCare = v
		}
	}
	return d
}

// latestTriage is the decision of the case's last triage event.
func latestTriage(events []referral.Event) *Triage {
	for i := len(events) - 1; i >= 0; i-- {
		if e := events[i]; e.Kind == referral.EventTriage {
			return &Triage{TriageDecision: parseTriageDetail(e.Detail), At: e.At, Actor: e.Actor, ActorOrg: e.ActorOrg}
		}
	}
	return nil
}

// MayTriage is the role rule of the triage route: a hub (for its member
// trusts' cases) or a trust (for its own). Care providers and admins are
// refused before anything is read.
func MayTriage(p *auth.Principal) error {
	if p == nil || (p.Role != auth.RoleHub && p.Role != auth.RoleTrust) {
		return discharge.E(discharge.KindForbidden, "", "Only a hub (for a member trust's case) or the trust itself records a triage decision.")
	}
	return nil
}

// Triage records the caller's triage decision on case id as a triage
// event (the case's state does not change) and returns the case as it
// now stands. The record's tenancy decides which cases the caller may
// reach: a hub its member trusts', a trust its own; any other is not
// found. It is the only write a hub makes.
func (s *Service) Triage(ctx context.Context, p *auth.Principal, id string, d TriageDecision) (View, error) {
	if err := MayTriage(p); err != nil {
		return View{}, err
	}
	if err := d.Validate(); err != nil {
		return View{}, err
	}
	rc, err := s.records.Case(ctx, p, id)
	if err != nil {
		return View{}, err
	}
	if !p.CanSee(rc.Partition) {
		return View{}, discharge.E(discharge.KindNotFound, "id", "No discharge case with that id.")
	}
	events, err := s.store.Events(ctx, rc.Partition, id)
	if err != nil {
		return View{}, err
	}
	state, _ := StateOf(events, rc.Referred)
	if Closed(state) {
		return View{}, discharge.E(discharge.KindConflict, "id", "The case is "+string(state)+": a closed case takes no triage decision.")
	}
	if _, err := s.store.AppendEvent(ctx, referral.Event{Partition: rc.Partition, CaseID: id, At: s.now(),
		Kind: referral.EventTriage, State: state, Actor: p.ClientID, ActorOrg: p.Org, Detail: d.detail()}); err != nil {
		return View{}, err
	}
	return s.Case(ctx, p, id)
}
