package gateway

import (
	"encoding/json"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/dischargegateway/gateway/mappings"
)

// dischargeCase answers GET and POST /fhir/Encounter/{id}/$discharge-case
// (cases.Service.FHIR): the case of GET /api/v1/cases/{id} as FHIR, a
// collection Bundle of its timeline (Provenance) and measures
// (MeasureReport), under the same tenancy. POST takes no parameters, so a
// body is ignored unread.
func (s *Server) dischargeCase(c echo.Context) error {
	body, err := s.cases.FHIR(c.Request().Context(), principal(c), c.Param("id"))
	if err != nil {
		return err
	}
	return respond(c, http.StatusOK, body)
}

// dischargeCaseURL is the canonical URL of $discharge-case's
// OperationDefinition.
const dischargeCaseURL = "https://fhir.discharge-gateway.example/OperationDefinition/Encounter-discharge-case"

// dischargeCaseDefinition publishes $discharge-case's contract
// (docs/cases.md).
func dischargeCaseDefinition() []byte {
	return encounterOperationDefinition("Encounter-discharge-case", dischargeCaseURL, "DischargeCase", "A discharge case as FHIR",
		"discharge-case",
		"The discharge case of an inpatient Encounter, as GET /api/v1/cases/{id} shows it, in FHIR: a collection Bundle of one "+
			"Provenance per timeline event, in order (target the Task it concerns, or the Encounter; recorded when; activity the "+
			"event's kind from CodeSystem "+mappings.CaseEventKindSystem+"; agent.who the client (display) and its organisation's "+
			"ODS code (identifier); the case's state after the event in extension "+mappings.CaseStateExtension+" and the event's "+
			"detail, such as a reject reason or the bed type held, in extension "+mappings.CaseEventDetailExtension+"), then one "+
			"individual MeasureReport of Measure "+mappings.CaseMeasureURL+" with the case's state (extension "+
			mappings.CaseStateExtension+"), one group per measure (Discharge Ready Date to first shortlist, first acceptance, "+
			"confirmation and discharge in seconds, NCTR days in days; a step not reached has no measureScore) and the Encounter "+
			"as its evaluatedResource. The Encounter and the Tasks are referenced, not copied. The trust that holds the case and "+
			"a hub of that trust see it; anyone else gets 404, as for an Encounter they may not read. GET or POST, no parameters.",
		[]any{map[string]any{"name": "return", "use": "out", "min": 1, "max": "1", "type": "Bundle",
			"documentation": "A collection Bundle: Provenance per timeline event, then the MeasureReport."}})
}

// encounterOperationDefinition renders an instance-level operation on
// Encounter that changes nothing.
func encounterOperationDefinition(id, url, name, title, code, description string, params []any) []byte {
	b, _ := json.Marshal(map[string]any{
		"resourceType": "OperationDefinition", "id": id, "url": url, "name": name, "title": title, "status": "active",
		"kind": "operation", "code": code, "resource": []string{"Encounter"}, "system": false, "type": false, "instance": true,
		"affectsState": false, "description": description, "parameter": params,
	})
	return b
}

// readCaseMeasure serves the Measure a case's MeasureReport reports; any
// other id falls to the capacity Measure's reader.
func (s *Server) readCaseMeasure(c echo.Context) error {
	if c.Param("id") == "discharge-case" {
		return respond(c, http.StatusOK, mappings.CaseMeasure())
	}
	return s.readMeasure(c)
}
