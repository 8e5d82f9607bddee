package gateway

import (
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/mappings"
	"github.com/dischargegateway/gateway/placement"
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
			"and, with explain=true, the nearest excluded providers. Bundle.total counts every option that passes the hard filters, " +
			"not only the page; _count and _offset page through them with self, first, previous, next and last links that carry the " +
			"parameters (at the type level, POST the same resources to them). Hard filters: care setting and bed type, every " +
			"requirement, funding, vacancy accepting admissions and not closed, radius (home care: coverage of the patient's district), " +
			"admission day, availability, excluded providers, legal status, capacity freshness; each exclusion is coded in " +
			"OperationOutcome.issue.details.coding from " + mappings.ExclusionReasonSystem + ". " +
			"Parameters may be sent in the URL, in a Parameters body (POST), or both: each may be given once, and one given twice " +
			"with different values is refused (400, invalid, naming it). An unknown parameter is refused (400, not-supported), " +
			"or with Prefer: handling=lenient reported as a warning and ignored. " +
			"Refused with 422 business-rule: a ServiceRequest whose status is revoked, completed or entered-in-error " +
			"(expression ServiceRequest.status); a stored request whose inpatient Encounter is finished, cancelled or entered-in-error " +
			"(Encounter.status); a date parameter before today in England (Europe/London) (date). A start date taken from the " +
			"request or the case that has passed means as soon as possible: today. Hospice needs match the hospice beds that " +
			"hospices post (bed type hospice).",
		"parameter": []any{
			in("serviceRequest", "ServiceRequest", "Type level only: the request to match, inline; nothing is stored.", 0, "1"),
			in("patient", "Patient", "Type level only: the patient, for the home postcode when the request has no search area.", 0, "1"),
			in("radius", "decimal", fmt.Sprintf("Kilometres, above 0 and at most %g. Default %g for care homes, %g for short-term beds; home care uses coverage instead.",
				placement.MaxRadiusKm, placement.DefaultRadius(discharge.CareNursing), placement.DefaultRadius(discharge.CareD2ABed)), 0, "1"),
			in("_count", "integer", fmt.Sprintf("How many options per page, default %d, at most %d; 0 returns only the total.", placement.DefaultCount, placement.MaxCount), 0, "1"),
			in("_offset", "integer", "How many of the ranked options to skip, a whole number (the rule of every search); past the end is an empty page with the full total.", 0, "1"),
			in("date", "date", "The start date needed, today or later in England (an earlier date is refused). Default: the request's occurrence, then the Discharge Ready Date, then the expected discharge date, then today; a default that has passed becomes today.", 0, "1"),
			in("includeStale", "boolean", "Include providers whose capacity is stale, flagged as such.", 0, "1"),
			in("explain", "boolean", fmt.Sprintf("List the %d nearest excluded providers (within 1.5 times the radius, any care setting or bed type), each with the filter that excluded it, coded from %s.", discharge.MaxExplained, mappings.ExclusionReasonSystem), 0, "1"),
			map[string]any{"name": "return", "use": "out", "min": 1, "max": "1", "type": "Bundle", "documentation": "A searchset Bundle."},
		},
	}
	b, _ := json.Marshal(od)
	return b
}

// operationDefinitions are the OperationDefinitions the gateway
// publishes, by id: one for each operation the CapabilityStatement names.
var operationDefinitions = map[string]func() []byte{
	"ServiceRequest-placement-options": placementOptionsDefinition,
	"Task-confirm":                     taskConfirmDefinition,
	"Task-referral-pack":               referralPackDefinition,
	"BaRS-process-message":             processMessageDefinition,
	"Encounter-discharge-case":         dischargeCaseDefinition,
}

func (s *Server) readOperationDefinition(c echo.Context) error {
	def, ok := operationDefinitions[c.Param("id")]
	if !ok {
		return discharge.E(discharge.KindNotFound, "OperationDefinition", "No OperationDefinition with that id.")
	}
	return respond(c, http.StatusOK, def())
}

// The canonical URLs of the Task operations' OperationDefinitions.
const (
	taskConfirmURL  = "https://fhir.discharge-gateway.example/OperationDefinition/Task-confirm"
	referralPackURL = "https://fhir.discharge-gateway.example/OperationDefinition/Task-referral-pack"
)

// taskConfirmDefinition publishes $confirm's contract (docs/referrals.md).
func taskConfirmDefinition() []byte {
	return operationDefinition("Task-confirm", taskConfirmURL, "Confirm", "Confirm one accepted referral offer", "confirm", true,
		"The requester (the trust that owns the case, or a hub for a member trust) confirms one accepted offer: in one "+
			"transaction the Task becomes in-progress, its bed hold becomes the admission, every other open Task for the same "+
			"ServiceRequest is cancelled with businessStatus superseded and its hold released, and the case records the destination "+
			"(the Task's output Location) and the date. POST with no body; the answer is the confirmed Task, with its new ETag. "+
			"Refused with 409 conflict, expression Task.status and rule TASK-MOVE in OperationOutcome.issue.details.coding "+
			"(CodeSystem offer-rule), when the Task is not accepted: requested, received, rejected, failed, cancelled (which is what "+
			"confirming another offer of the same request makes of it) or already confirmed. A care provider is refused with 403 "+
			"(forbidden); a trust or hub that is not the requester gets 404, as for any Task it may not see.",
		[]any{map[string]any{"name": "return", "use": "out", "min": 1, "max": "1", "type": "Task",
			"documentation": "The confirmed Task (status in-progress)."}})
}

// referralPackDefinition publishes $referral-pack's contract.
func referralPackDefinition() []byte {
	return operationDefinition("Task-referral-pack", referralPackURL, "ReferralPack", "Referral pack of an offer", "referral-pack", false,
		"What a provider needs to decide on an offer it owns, as a collection Bundle: the Task, the ServiceRequest, the needs and "+
			"requirements, pathway, expected discharge date and Discharge Ready Date, funding, the patient's postcode district and age "+
			"band. The patient's identity (name, NHS number, full address) is withheld until the provider has accepted: until then "+
			"the Patient carries only what the minimisation policy lets through (docs/referrals.md says what and how to configure it). "+
			"Every read is audited. The requester reads the same pack. A caller who is neither the Task's owner nor its requester "+
			"gets 404, as for a Task it may not see.",
		[]any{map[string]any{"name": "return", "use": "out", "min": 1, "max": "1", "type": "Bundle",
			"documentation": "A collection Bundle: Task, ServiceRequest, Patient (minimised until acceptance), Encounter."}})
}

// operationDefinition renders an instance-level operation on Task.
func operationDefinition(id, url, name, title, code string, affectsState bool, description string, params []any) []byte {
	b, _ := json.Marshal(map[string]any{
		"resourceType": "OperationDefinition", "id": id, "url": url, "name": name, "title": title, "status": "active",
		"kind": "operation", "code": code, "resource": []string{"Task"}, "system": false, "type": false, "instance": true,
		"affectsState": affectsState, "description": description, "parameter": params,
	})
	return b
}
