package gateway

import (
	"encoding/json"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/dischargegateway/gateway/discharge"
)

// placementOptionsURL is the canonical URL of the $placement-options
// OperationDefinition.
const placementOptionsURL = "https://fhir.discharge-gateway.example/OperationDefinition/ServiceRequest-placement-options"

// placementOptionsDefinition publishes the operation's contract.
func placementOptionsDefinition() []byte {
	in := func(name, typ, doc string, min int, max string) map[string]any {
		return map[string]any{"name": name, "use": "in", "min": min, "max": max, "type": typ, "documentation": doc}
	}
	od := map[string]any{
		"resourceType": "OperationDefinition", "id": "ServiceRequest-placement-options", "url": placementOptionsURL,
		"name": "PlacementOptions", "title": "Placement options for a post-discharge care request", "status": "active",
		"kind": "operation", "code": "placement-options", "resource": []string{"ServiceRequest"},
		"system": false, "type": true, "instance": true, "affectsState": false,
		"description": "Returns the providers that can take the patient now, ranked 0..1 and explained, as a searchset Bundle: " +
			"HealthcareService matches (search.mode=match, search.score, location-distance and placement-explanation extensions), " +
			"their Locations and Organizations (search.mode=include), and an OperationOutcome (search.mode=outcome) with warnings " +
			"and, with explain=true, each nearby provider that was excluded and the filter that excluded it. Hard filters: care setting " +
			"and bed type, every requirement, funding, vacancy accepting admissions and not closed, radius (home care: coverage of the " +
			"patient's district), admission day, availability, excluded providers, legal status, capacity freshness.",
		"parameter": []any{
			in("serviceRequest", "ServiceRequest", "Type level only: the request to match, inline; nothing is stored.", 0, "1"),
			in("patient", "Patient", "Type level only: the patient, for the home postcode when the request has no search area.", 0, "1"),
			in("radius", "decimal", "Kilometres. Default 25 for care homes, 20 for short-term beds; home care uses coverage instead.", 0, "1"),
			in("_count", "integer", "How many options, default 10, at most 50.", 0, "1"),
			in("date", "date", "The start date needed. Default: the request's occurrence, then the Discharge Ready Date, then the expected discharge date.", 0, "1"),
			in("includeStale", "boolean", "Include providers whose capacity is stale, flagged as such.", 0, "1"),
			in("explain", "boolean", "List the nearest excluded providers with the filter that excluded each.", 0, "1"),
			map[string]any{"name": "return", "use": "out", "min": 1, "max": "1", "type": "Bundle", "documentation": "A searchset Bundle."},
		},
	}
	b, _ := json.Marshal(od)
	return b
}

func (s *Server) readOperationDefinition(c echo.Context) error {
	if c.Param("id") != "ServiceRequest-placement-options" {
		return discharge.E(discharge.KindNotFound, "OperationDefinition", "No OperationDefinition with that id.")
	}
	return respond(c, http.StatusOK, placementOptionsDefinition())
}
