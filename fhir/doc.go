// Package fhir is the FHIR R4 plumbing of the gateway: strict decoding and
// validation of resources, OperationOutcome and Bundle construction, search
// parameter definitions and index extraction, NHS number checks, and the
// Store contract that adapters implement. It builds on the samply models,
// imported as r4.
package fhir
