// Package mappings converts FHIR R4 resources to the discharge model:
// Encounter (+ Patient) to discharge.Case and ServiceRequest (+ Patient) to
// discharge.CareNeed. It also loads the ConceptMaps that translate EPR and
// trust codes into the gateway's code systems, renders those code systems as
// FHIR CodeSystems, and validates the model it built (Validate: the model's
// own Validate methods, each failure renamed to the FHIR element that
// carried it).
//
// Which element each fact comes from, and why, is in MAPPING.md.
//
// Mappings never fail on FHIR that is valid but not about discharge: a
// non-inpatient Encounter or a ServiceRequest for a CT scan gives a nil
// result and a warning. They fail, with a *discharge.Error whose issues name
// the element, when a discharge resource carries a code or value the gateway
// cannot use.
package mappings
