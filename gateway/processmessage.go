package gateway

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"
	"go.opentelemetry.io/otel/trace"

	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/fhir"
	"github.com/dischargegateway/gateway/mappings"
	"github.com/dischargegateway/gateway/messaging"
)

// headerTarget is BaRS's NHSD-Target-Identifier: base64 JSON of the
// Identifier of the service a message is for.
const headerTarget = "NHSD-Target-Identifier"

// processMessage is $process-message (messaging.Service.Process): a BaRS
// referral message creates the case, and the answer is a response message
// (docs/bars.md). A message the gateway refuses is answered with a
// response message too (fatal-error, or transient-error when a retry may
// succeed) carrying the OperationOutcome, under the error's HTTP status;
// a body with no MessageHeader to answer gets the plain OperationOutcome.
// X-Request-Id and X-Correlation-Id are echoed by requestIDs.
func (s *Server) processMessage(c echo.Context) error {
	body, err := s.readBody(c, "Bundle")
	if err != nil {
		return err
	}
	res, err := s.messages.Process(c.Request().Context(), principal(c), messaging.Request{
		Body: body, Base: s.baseURL(c), Target: c.Request().Header.Get(headerTarget)})
	if err != nil {
		de := toError(err)
		status := statusOf(de.Kind)
		for _, a := range res.Record.Refused {
			s.audit(c, "operation", a.Action, a.Type, a.ID, status)
		}
		if res.Header.ID == "" || status == http.StatusUnauthorized || status == http.StatusForbidden {
			return err
		}
		return s.refuseMessage(c, res.Header, de, status)
	}
	for _, r := range res.Record.Entries {
		if !r.SameAs && r.Access.Type != "" {
			s.audit(c, "operation", r.Access.Action, r.Access.Type, r.Access.ID, entryStatus(r))
		}
	}
	return respond(c, http.StatusOK, res.Response)
}

// refuseMessage answers a refused message with a response message whose
// details are the error's OperationOutcome, logged as errorHandler logs.
func (s *Server) refuseMessage(c echo.Context, h mappings.BaRSHeader, de *discharge.Error, status int) error {
	traceID := ""
	if sc := trace.SpanFromContext(c.Request().Context()).SpanContext(); sc.HasTraceID() {
		traceID = sc.TraceID().String()
	}
	code := mappings.ResponseFatalError
	switch de.Kind {
	case discharge.KindUnavailable, discharge.KindTimeout:
		code = mappings.ResponseTransientError
		c.Response().Header().Set("Retry-After", strconv.Itoa(s.cfg.RetryAfterSeconds))
	}
	if status >= 500 {
		s.log.LogAttrs(c.Request().Context(), slog.LevelError, "message failed",
			slog.String("kind", de.Kind.String()), slog.String("error", de.Error()),
			slog.String("route", c.Path()), slog.String("request_id", requestID(c)), slog.String("trace_id", traceID))
	}
	return respond(c, status, mappings.BaRSResponse(mappings.BaRSReply{ID: newID(), BundleID: newID(), OutcomeID: newID(),
		Time: s.now(), Request: h, Code: code, Source: s.baseURL(c) + "/$process-message",
		Outcome: fhir.OperationOutcome(outcomeIssues(de, traceID))}))
}

// processMessageURL is the canonical URL of the gateway's
// $process-message OperationDefinition.
const processMessageURL = "https://fhir.discharge-gateway.example/OperationDefinition/BaRS-process-message"

// barsReceived are the BaRS MessageDefinitions whose messages the gateway
// receives: both name the referral event, servicerequest-request.
var barsReceived = []string{
	"https://fhir.nhs.uk/MessageDefinition/bars-message-servicerequest-request-referral",
	"https://fhir.nhs.uk/MessageDefinition/bars-message-servicerequest-request-validation",
}

// messagingCapability is the CapabilityStatement's messaging section and
// the system-level operation that serves it.
func messagingCapability() (messaging []any, operations []any) {
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
	operations = []any{map[string]any{"name": "process-message", "definition": processMessageURL}}
	return messaging, operations
}

// processMessageDefinition publishes $process-message's contract.
func processMessageDefinition() []byte {
	od := map[string]any{
		"resourceType": "OperationDefinition", "id": "BaRS-process-message", "url": processMessageURL,
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
