package gateway

import (
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
	s.auditEntries(c, "operation", res.Record.Entries)
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
