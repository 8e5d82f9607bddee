package mappings

import (
	"encoding/json"

	r4 "github.com/samply/golang-fhir-models/fhir-models/fhir"
)

// DecodeServiceRequest decodes raw ServiceRequest JSON that the gateway has
// already checked against the R4 schema; it only refuses what is not a
// ServiceRequest at all (KindStructure).
//
// A resource is parsed once, its resourceType read beside the model's
// elements; only when that fails is it read again by decodeResource, to
// say why (TestDecodeOnePassAgrees).
func DecodeServiceRequest(raw []byte) (*r4.ServiceRequest, error) {
	var typed struct {
		ResourceType string `json:"resourceType"`
		r4.ServiceRequest
	}
	if json.Unmarshal(raw, &typed) == nil && typed.ResourceType == "ServiceRequest" {
		return &typed.ServiceRequest, nil
	}
	var sr r4.ServiceRequest
	if err := decodeResource(raw, "ServiceRequest", &sr); err != nil {
		return nil, err
	}
	return &sr, nil
}

// DecodeEncounter decodes raw Encounter JSON, like DecodeServiceRequest.
func DecodeEncounter(raw []byte) (*r4.Encounter, error) {
	var typed struct {
		ResourceType string `json:"resourceType"`
		r4.Encounter
	}
	if json.Unmarshal(raw, &typed) == nil && typed.ResourceType == "Encounter" {
		return &typed.Encounter, nil
	}
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
