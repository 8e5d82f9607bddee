// Package fhir is the FHIR R4 plumbing of the gateway: strict decoding and
// validation of resources, OperationOutcome and Bundle construction, search
// parameter definitions and index extraction, paging, reference target
// types, NHS number checks, and the Store contract that adapters implement.
// Validation runs on the raw JSON against HL7's R4 JSON Schema (embedded,
// schema/) plus checks the schema cannot express; the samply models
// (imported as r4) serve only for their code lists (codes.go). The
// document Validate decodes (Parsed.Doc, numbers exact) is the one form the
// FHIR write path carries to the store; filling the models from it, or
// decoding resources into them, is mappings/' business.
package fhir
