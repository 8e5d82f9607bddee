package mappings

import (
	r4 "github.com/samply/golang-fhir-models/fhir-models/fhir"
)

// DecodeServiceRequest decodes raw ServiceRequest JSON that the gateway has
// already checked against the R4 schema; it only refuses what is not a
// ServiceRequest at all (KindStructure).
func DecodeServiceRequest(raw []byte) (*r4.ServiceRequest, error) {
	var sr r4.ServiceRequest
	if err := decodeResource(raw, "ServiceRequest", &sr); err != nil {
		return nil, err
	}
	return &sr, nil
}

// DecodeEncounter decodes raw Encounter JSON, like DecodeServiceRequest.
func DecodeEncounter(raw []byte) (*r4.Encounter, error) {
	var enc r4.Encounter
	if err := decodeResource(raw, "Encounter", &enc); err != nil {
		return nil, err
	}
	return &enc, nil
}

// ServiceRequestReferences returns ServiceRequest.subject.reference and
// ServiceRequest.encounter.reference as written, "" when absent.
func ServiceRequestReferences(sr *r4.ServiceRequest) (subject, encounter string) {
	if sr.Subject.Reference != nil {
		subject = *sr.Subject.Reference
	}
	if sr.Encounter != nil && sr.Encounter.Reference != nil {
		encounter = *sr.Encounter.Reference
	}
	return subject, encounter
}
