package records

import (
	"context"
	"errors"
	"time"

	"github.com/dischargegateway/gateway/auth"
	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/fhir"
	"github.com/dischargegateway/gateway/mappings"
	r4 "github.com/samply/golang-fhir-models/fhir-models/fhir"
)

// maxNeedsPerCase bounds the ServiceRequests read for one case.
const maxNeedsPerCase = 100

// Case is a discharge case as the stored records give it now: the case
// mapped from the Encounter (and its Patient), the care needs mapped from
// the Encounter's ServiceRequests, and every mapping remark with the
// resource it concerns.
type Case struct {
	// Encounter is the Encounter's reference ("Encounter/id") and Version
	// its current version.
	Encounter string
	Version   int64
	// Partition is the ODS code of the trust that holds the case.
	Partition string
	// Referred is when the case first reached the gateway: the
	// Encounter's first version's lastUpdated.
	Referred time.Time
	// Case is nil when the Encounter no longer maps (Warnings say why).
	Case      *discharge.Case
	CareNeeds []*discharge.CareNeed
	Warnings  []CaseWarning
}

// CaseWarning is one remark about a resource of a case.
type CaseWarning struct {
	Resource   string // "Encounter/1", "ServiceRequest/2"
	Expression string
	Message    string
}

// Case maps the stored Encounter id and its ServiceRequests on demand, so
// the case always reflects the current versions and the current
// ConceptMaps. Records stored before a rule tightened or a ConceptMap
// changed are reported as warnings, not failures: they are readable, so
// the case read says why they do not map.
func (s *Service) Case(ctx context.Context, p *auth.Principal, id string) (Case, error) {
	enc, part, err := s.Read(ctx, p, "Encounter", id)
	if err != nil {
		if discharge.ErrorKind(err) == discharge.KindNotFound {
			return Case{}, discharge.E(discharge.KindNotFound, "id", "No discharge case with that id.")
		}
		return Case{}, err
	}
	encDoc, err := fhir.DecodeDoc(enc.JSON)
	if err != nil {
		return Case{}, err
	}
	opt := s.MapOptions(part)
	out := Case{Encounter: "Encounter/" + id, Version: enc.VersionID, Partition: part, Referred: enc.LastUpdated,
		CareNeeds: []*discharge.CareNeed{}, Warnings: []CaseWarning{}}
	if enc.VersionID > 1 {
		first, err := s.store.ReadVersion(ctx, part, "Encounter", id, 1)
		if err != nil && discharge.ErrorKind(err) != discharge.KindNotFound {
			return Case{}, err
		}
		if err == nil {
			out.Referred = first.LastUpdated
		}
	}
	warn := func(ref string, issues discharge.Issues) {
		for _, is := range issues {
			out.Warnings = append(out.Warnings, CaseWarning{Resource: ref, Expression: is.Expression, Message: is.Message})
		}
	}
	pat, err := s.subjectPatient(ctx, part, encDoc)
	if err != nil {
		return Case{}, err
	}
	// Each resource is decoded once: the Encounter from the document
	// read above, the Patient once for the case and all its needs.
	var patient *r4.Patient
	var patErr error
	if len(pat) > 0 {
		patient, patErr = mappings.DecodePatient(pat)
	}
	var cs *discharge.Case
	var issues discharge.Issues
	encR4, err := mappings.EncounterFromDoc(encDoc)
	if err == nil && patErr != nil {
		err = patErr
	}
	if err == nil {
		cs, issues, err = mappings.CaseFromEncounter(encR4, patient, opt)
	}
	if err != nil {
		de, ok := inputError(err)
		if !ok {
			return Case{}, err
		}
		warn(out.Encounter, de.Issues)
	}
	out.Case = cs
	warn(out.Encounter, issues.Warnings())
	srs, _, err := s.store.Search(ctx, part, fhir.Query{Type: "ServiceRequest", Count: maxNeedsPerCase,
		Filters: []fhir.Filter{{Param: "encounter", AnyOf: []string{out.Encounter}}}})
	if err != nil {
		return Case{}, err
	}
	for _, r := range srs {
		var need *discharge.CareNeed
		var issues discharge.Issues
		sr, err := mappings.DecodeServiceRequest(r.JSON)
		if err == nil && patErr != nil {
			err = patErr
		}
		if err == nil {
			need, issues, err = mappings.NeedFromServiceRequest(sr, patient, opt)
		}
		ref := "ServiceRequest/" + r.ID
		if err != nil {
			var de *discharge.Error
			if errors.As(err, &de) {
				warn(ref, de.Issues)
			}
			continue
		}
		if need != nil {
			out.CareNeeds = append(out.CareNeeds, need)
		}
		warn(ref, issues.Warnings())
	}
	return out, nil
}

// inputError is err as a *discharge.Error about the input: one with issues.
// An error without (an outage, a deadline, a bug) is the gateway's own.
func inputError(err error) (*discharge.Error, bool) {
	var de *discharge.Error
	if !errors.As(err, &de) || len(de.Issues) == 0 {
		return nil, false
	}
	return de, true
}
