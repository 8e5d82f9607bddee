// Package discharge is the shared discharge model: a discharge case, its care
// needs and their placement, with the rules that match needs to providers.
//
// It imports only the standard library. It knows nothing of FHIR, HTTP or
// Redis: mappings/ converts FHIR to and from these types, adapters/ store
// them, and gateway/ serves them.
package discharge
