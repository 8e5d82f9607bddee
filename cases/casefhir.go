package cases

import (
	"context"
	"time"

	"github.com/dischargegateway/gateway/auth"
	"github.com/dischargegateway/gateway/mappings"
)

// FHIR is the case as FHIR (Encounter/{id}/$discharge-case): the same
// view as Case, under the same tenancy, rendered by mappings.CaseBundle as
// a collection Bundle of one Provenance per timeline event and the
// MeasureReport of its measures (docs/cases.md).
func (s *Service) FHIR(ctx context.Context, p *auth.Principal, id string) ([]byte, error) {
	v, err := s.Case(ctx, p, id)
	if err != nil {
		return nil, err
	}
	return mappings.CaseBundle(toFHIRView(id, v, s.now())), nil
}

// toFHIRView is the case view as the FHIR mapping takes it.
func toFHIRView(id string, v View, now time.Time) mappings.CaseView {
	out := mappings.CaseView{EncounterID: id, State: string(v.State), StateAt: v.StateAt, Measures: v.Measures,
		Referred: v.Referred, Now: now}
	for _, e := range v.Timeline {
		out.Events = append(out.Events, mappings.CaseEvent{Seq: e.Seq, At: e.At, Kind: string(e.Kind), State: string(e.State),
			Actor: e.Actor, ActorOrg: e.ActorOrg, TaskID: e.TaskID, Detail: e.Detail, ProviderOrg: e.ProviderOrg})
	}
	return out
}
