package referral

import (
	"context"
	"encoding/json"

	"github.com/dischargegateway/gateway/auth"
	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/fhir"
	"github.com/dischargegateway/gateway/mappings"
)

// Pack is the referral pack of a Task (GET /fhir/Task/{id}/$referral-pack):
// a Bundle (collection) of the Task, its ServiceRequest (for the provider,
// without the providers the trust excluded), a minimised
// Encounter (pathway, EDD, Discharge Ready Date) and the Patient. The
// provider sees the minimised Patient (postcode district, age band) until
// its offer is accepted, and the full Patient after (or at once, with
// IdentityBeforeAccept); the requester sees the full Patient. Every pack
// read is audited (interaction "operation", the Task's id), whether or not
// it disclosed the identity, and a pack is not served when the audit
// cannot be written.
func (s *Service) Pack(ctx context.Context, p *auth.Principal, id, base string) ([]byte, error) {
	o, actor, err := s.locate(ctx, p, id)
	if err != nil {
		return nil, err
	}
	task, err := s.st.Read(ctx, o.Partition, "Task", id)
	if err != nil {
		return nil, err
	}
	refs := []fhir.Ref{{Type: "ServiceRequest", ID: o.ServiceRequestID}, {Type: "Encounter", ID: o.EncounterID}}
	if o.PatientID != "" {
		refs = append(refs, fhir.Ref{Type: "Patient", ID: o.PatientID})
	}
	got, err := s.st.ReadMany(ctx, o.Partition, refs)
	if err != nil {
		return nil, err
	}
	identity := actor == discharge.ActorRequester || s.opt.IdentityBeforeAccept ||
		o.State == discharge.OfferAccepted || o.State == discharge.OfferInProgress || o.State == discharge.OfferCompleted
	entries := []fhir.BundleEntryOut{{FullURL: base + "/Task/" + id, Resource: task.JSON}}
	for _, ref := range refs {
		r, ok := got[ref.Type+"/"+ref.ID]
		if !ok {
			continue
		}
		body := r.JSON
		switch {
		case ref.Type == "Encounter":
			body, err = mappings.MinimisedEncounter(r.JSON)
		case ref.Type == "Patient" && !identity:
			body, err = mappings.MinimisedPatient(r.JSON, s.now())
		case ref.Type == "ServiceRequest" && actor != discharge.ActorRequester:
			body, err = mappings.PackServiceRequest(r.JSON)
		}
		if err != nil {
			return nil, err
		}
		entries = append(entries, fhir.BundleEntryOut{FullURL: base + "/" + ref.Type + "/" + ref.ID, Resource: json.RawMessage(body)})
	}
	if s.opt.Audit != nil {
		e := auth.AuditEntry{Time: s.now(), ClientID: p.ClientID, Org: p.Org, Role: p.Role, Action: "E",
			Interaction: "operation", ResourceType: "Task", ResourceID: id, Status: 200}
		if identity {
			e.Interaction = "operation-identified"
		}
		if err := s.opt.Audit.Record(ctx, e); err != nil {
			return nil, err
		}
	}
	return fhir.MarshalBundle("collection", nil, nil, entries), nil
}
