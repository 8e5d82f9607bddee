// Package records is the FHIR record service: create (with conditional
// create), update (with If-Match), read, vread, history, search (with
// _include and near), transaction and batch Bundles, the tenancy rules
// (which partition a caller writes and may read) and the intake checks that
// run before anything is stored (references resolve, and Encounters and
// ServiceRequests map into the discharge model through mappings/).
//
// A request's path through it:
//
//	gateway handler (decode the HTTP request, the route table authorizes)
//	  -> records.Service method (tenancy: which partition)
//	  -> fhir.Validate, then one decode into generic JSON
//	  -> intake: references, mappings.EncounterToCase / ServiceRequestToNeed
//	     (domain rules in discharge/), directory ownership (Directory)
//	  -> Store (adapters/rediscache behind the fhir.Store contract)
//	  -> back: fhir.Resource, or a Bundle as bytes, or a *discharge.Error
//
// The package speaks no HTTP: inputs are the caller (*auth.Principal), the
// body bytes, the resource type and id, url.Values for a search, and the
// values of the conditional headers; errors are *discharge.Error, which the
// gateway renders with its one Kind table.
package records
