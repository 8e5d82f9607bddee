package conformance

import (
	"encoding/json"
	"fmt"

	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/mappings"
	"github.com/dischargegateway/gateway/placement"
)

// OperationDefinition is the type of the operations' contracts the
// gateway publishes (Service.Read(OperationDefinition, id)).
const OperationDefinition = "OperationDefinition"

// operationDefinitions renders the OperationDefinitions the gateway
// publishes: one for each of its own operations the CapabilityStatement
// names. They are rendered once, by New.
func operationDefinitions() [][]byte {
	return [][]byte{placementOptionsDefinition(), taskConfirmDefinition(), referralPackDefinition(),
		processMessageDefinition(), dischargeCaseDefinition()}
}

// PlacementOptionsURL is the canonical URL of the $placement-options
// OperationDefinition.
const PlacementOptionsURL = "https://fhir.discharge-gateway.example/OperationDefinition/ServiceRequest-placement-options"

// placementOptionsDefinition publishes the operation's contract.
func placementOptionsDefinition() []byte {
	in := func(name, typ, doc string, min int, max string) map[string]any {
		return map[string]any{"name": name, "use": "in", "min": min, "max": max, "type": typ, "documentation": doc}
	}
	od := map[string]any{
		"resourceType": "OperationDefinition", "id": "ServiceRequest-placement-options", "url": PlacementOptionsURL,
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

// The canonical URLs of the Task operations' OperationDefinitions.
const (
	TaskConfirmURL  = "https://fhir.discharge-gateway.example/OperationDefinition/Task-confirm"
	ReferralPackURL = "https://fhir.discharge-gateway.example/OperationDefinition/Task-referral-pack"
)

// taskConfirmDefinition publishes $confirm's contract (docs/referrals.md).
func taskConfirmDefinition() []byte {
	return operationDefinition("Task-confirm", TaskConfirmURL, "Confirm", "Confirm one accepted referral offer", "confirm", true,
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
	return operationDefinition("Task-referral-pack", ReferralPackURL, "ReferralPack", "Referral pack of an offer", "referral-pack", false,
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

// DischargeCaseURL is the canonical URL of $discharge-case's
// OperationDefinition.
const DischargeCaseURL = "https://fhir.discharge-gateway.example/OperationDefinition/Encounter-discharge-case"

// dischargeCaseDefinition publishes $discharge-case's contract
// (docs/cases.md).
func dischargeCaseDefinition() []byte {
	return encounterOperationDefinition("Encounter-discharge-case", DischargeCaseURL, "DischargeCase", "A discharge case as FHIR",
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

// ProcessMessageURL is the canonical URL of the gateway's
// $process-message OperationDefinition.
const ProcessMessageURL = "https://fhir.discharge-gateway.example/OperationDefinition/BaRS-process-message"

// barsReceived are the BaRS MessageDefinitions whose messages the gateway
// receives: both name the referral event, servicerequest-request.
var barsReceived = []string{
	"https://fhir.nhs.uk/MessageDefinition/bars-message-servicerequest-request-referral",
	"https://fhir.nhs.uk/MessageDefinition/bars-message-servicerequest-request-validation",
}

// Messaging is the CapabilityStatement's messaging section and
// the system-level operation that serves it.
func Messaging() (messaging []any, operations []any) {
	var supported []any
	for _, d := range barsReceived {
		supported = append(supported, map[string]any{"mode": "receiver", "definition": d})
	}
	messaging = []any{map[string]any{
		"documentation": "BaRS (NHS Booking and Referral Standard v1.4.0) referrals: POST [base]/$process-message with a Bundle of " +
			"type message whose MessageHeader event is " + mappings.BaRSEventSystem + "|" + mappings.BaRSEventReferral +
			". Synchronous only; the answer is a response message. See the OperationDefinition.",
		"supportedMessage": supported,
	}}
	operations = []any{map[string]any{"name": "process-message", "definition": ProcessMessageURL}}
	return messaging, operations
}

// processMessageDefinition publishes $process-message's contract.
func processMessageDefinition() []byte {
	od := map[string]any{
		"resourceType": "OperationDefinition", "id": "BaRS-process-message", "url": ProcessMessageURL,
		"name": "ProcessMessage", "title": "Take a BaRS referral message", "status": "active",
		"kind": "operation", "code": "process-message", "base": "http://hl7.org/fhir/OperationDefinition/MessageHeader-process-message",
		"system": true, "type": false, "instance": false, "affectsState": true,
		"description": "Takes a BaRS v1.4.0 referral: a Bundle of type message (the request body) whose first entry is a MessageHeader " +
			"with eventCoding " + mappings.BaRSEventSystem + "|" + mappings.BaRSEventReferral + " and reason new, focused on the " +
			"ServiceRequest, whose subject (Patient) and encounter (Encounter) are entries of the message. Those three are stored in " +
			"the caller's organisation exactly as a transaction of three conditional creates (on the Patient's NHS number, the " +
			"Encounter's and the ServiceRequest's first identifier) would store them: all or nothing, the same validation and " +
			"mapping. References to other entries become logical references (type and identifier). The answer is a response " +
			"message: MessageHeader.response.identifier is the request's MessageHeader id (or, when it has none, the UUID of its " +
			"urn:uuid fullUrl), code ok, transient-error or fatal-error, and details an OperationOutcome entry: what was stored, " +
			"or each problem with its FHIRPath in the request. A refused message answers under the error's HTTP status (400, 403, " +
			"412, 422, 503) and stores nothing; a body with no MessageHeader to answer gets a plain OperationOutcome. A message " +
			"whose id the caller's organisation has sent before is not processed again: the first answer is returned, byte for " +
			"byte. Headers: X-Request-Id and X-Correlation-Id are echoed; NHSD-Target-Identifier (base64 JSON of an Identifier), " +
			"when sent, must name one of MessageHeader.destination.endpoint (system|value).",
		"parameter": []any{
			map[string]any{"name": "content", "use": "in", "min": 1, "max": "1", "type": "Bundle",
				"documentation": "The message (the request body)."},
			map[string]any{"name": "async", "use": "in", "min": 0, "max": "1", "type": "boolean",
				"documentation": "Not supported: messages are processed synchronously."},
			map[string]any{"name": "return", "use": "out", "min": 0, "max": "1", "type": "Bundle",
				"documentation": "The response message."},
		},
	}
	b, _ := json.Marshal(od)
	return b
}
