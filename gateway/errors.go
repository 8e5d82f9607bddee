package gateway

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/fhir"
)

// kindTable is the one table that turns an error Kind into an HTTP status
// and a FHIR IssueType code (http://hl7.org/fhir/R4/valueset-issue-type.html).
// Nothing else in the gateway decides either.
var kindTable = map[discharge.Kind]struct {
	status int
	code   fhir.IssueType
}{
	discharge.KindInternal:        {http.StatusInternalServerError, fhir.IssueException},
	discharge.KindInvalid:         {http.StatusBadRequest, fhir.IssueInvalid},
	discharge.KindStructure:       {http.StatusBadRequest, fhir.IssueStructure},
	discharge.KindRequired:        {http.StatusBadRequest, fhir.IssueRequired},
	discharge.KindValue:           {http.StatusBadRequest, fhir.IssueValue},
	discharge.KindCodeInvalid:     {http.StatusBadRequest, fhir.IssueCodeInvalid},
	discharge.KindBusinessRule:    {http.StatusUnprocessableEntity, fhir.IssueBusinessRule},
	discharge.KindNotFound:        {http.StatusNotFound, fhir.IssueNotFound},
	discharge.KindConflict:        {http.StatusConflict, fhir.IssueConflict},
	discharge.KindDuplicate:       {http.StatusConflict, fhir.IssueDuplicate},
	discharge.KindPrecondition:    {http.StatusPreconditionFailed, fhir.IssueConflict},
	discharge.KindMultipleMatches: {http.StatusPreconditionFailed, fhir.IssueMultipleMatches},
	discharge.KindTooLarge:        {http.StatusRequestEntityTooLarge, fhir.IssueTooLong},
	discharge.KindUnsupportedMedia: {
		http.StatusUnsupportedMediaType, fhir.IssueNotSupported},
	discharge.KindNotAcceptable:    {http.StatusNotAcceptable, fhir.IssueNotSupported},
	discharge.KindNotSupported:     {http.StatusBadRequest, fhir.IssueNotSupported},
	discharge.KindMethodNotAllowed: {http.StatusMethodNotAllowed, fhir.IssueNotSupported},
	discharge.KindUnauthorized:     {http.StatusUnauthorized, fhir.IssueLogin},
	discharge.KindForbidden:        {http.StatusForbidden, fhir.IssueForbidden},
	discharge.KindThrottled:        {http.StatusTooManyRequests, fhir.IssueThrottled},
	discharge.KindUnavailable:      {http.StatusServiceUnavailable, fhir.IssueTransient},
	discharge.KindTimeout:          {http.StatusServiceUnavailable, fhir.IssueTimeout},
	// A lost optimistic race that escaped the retry loops is a conflict the
	// client may retry.
	discharge.KindRetry: {http.StatusConflict, fhir.IssueConflict},
}

// statusOf returns the HTTP status for a Kind.
func statusOf(k discharge.Kind) int {
	if e, ok := kindTable[k]; ok {
		return e.status
	}
	return http.StatusInternalServerError
}

// issueCode returns the FHIR IssueType code for a Kind.
func issueCode(k discharge.Kind) fhir.IssueType {
	if e, ok := kindTable[k]; ok {
		return e.code
	}
	return fhir.IssueException
}

// genericText is what the caller is told when the error has no issues of its
// own: never the cause, which may name internals.
var genericText = map[discharge.Kind]string{
	discharge.KindInternal:         "The gateway could not complete the request. Quote the trace id to support.",
	discharge.KindUnavailable:      "The gateway's store is unavailable. Retry later.",
	discharge.KindTimeout:          "The request did not complete within its deadline. Retry later.",
	discharge.KindNotFound:         "No such resource.",
	discharge.KindMethodNotAllowed: "This HTTP method is not supported on this path.",
	discharge.KindUnsupportedMedia: "Only JSON is supported: send Content-Type application/fhir+json or application/json.",
	discharge.KindNotAcceptable:    "Only JSON is supported: accept application/fhir+json or application/json.",
	discharge.KindTooLarge:         "The request body is larger than the gateway accepts.",
	discharge.KindRetry:            "The resource changed while the request was processed. Retry.",
}

// toError converts any error, echo's own included, into a *discharge.Error.
func toError(err error) *discharge.Error {
	var de *discharge.Error
	if errors.As(err, &de) {
		return de
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return discharge.Wrap(discharge.KindTimeout, "request", err)
	}
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return discharge.Wrap(discharge.KindTooLarge, "body", err)
	}
	var he *echo.HTTPError
	if errors.As(err, &he) {
		switch he.Code {
		case http.StatusNotFound:
			return discharge.Wrap(discharge.KindNotFound, "route", err)
		case http.StatusMethodNotAllowed:
			return discharge.Wrap(discharge.KindMethodNotAllowed, "route", err)
		case http.StatusRequestEntityTooLarge:
			return discharge.Wrap(discharge.KindTooLarge, "body", err)
		case http.StatusUnsupportedMediaType:
			return discharge.Wrap(discharge.KindUnsupportedMedia, "body", err)
		case http.StatusNotAcceptable:
			return discharge.Wrap(discharge.KindNotAcceptable, "accept", err)
		case http.StatusUnauthorized:
			return discharge.Wrap(discharge.KindUnauthorized, "auth", err)
		case http.StatusForbidden:
			return discharge.Wrap(discharge.KindForbidden, "auth", err)
		case http.StatusTooManyRequests:
			return discharge.Wrap(discharge.KindThrottled, "limit", err)
		case http.StatusServiceUnavailable:
			return discharge.Wrap(discharge.KindUnavailable, "echo", err)
		}
		if he.Code >= 400 && he.Code < 500 {
			return discharge.Wrap(discharge.KindInvalid, "echo", err)
		}
	}
	return discharge.Wrap(discharge.KindInternal, "unknown", err)
}

// outcomeIssues turns an error's issues into OperationOutcome issues.
func outcomeIssues(e *discharge.Error, traceID string) []fhir.OutcomeIssue {
	status := statusOf(e.Kind)
	if status >= 500 || len(e.Issues) == 0 {
		text := genericText[e.Kind]
		if text == "" {
			text = e.Message
		}
		if text == "" {
			text = http.StatusText(status)
		}
		iss := fhir.OutcomeIssue{Severity: "error", Code: issueCode(e.Kind), Diagnostics: text}
		if status >= 500 {
			iss.Severity = "fatal"
			if traceID != "" {
				iss.Diagnostics = text + " Trace id: " + traceID
			}
		} else if e.Message != "" && e.Message != text {
			iss.Diagnostics = text + " " + e.Message
		}
		return []fhir.OutcomeIssue{iss}
	}
	return issuesToOutcome(e.Issues, e.Kind)
}

// issuesToOutcome renders issues (errors or warnings) with the table's codes.
func issuesToOutcome(issues []discharge.Issue, fallback discharge.Kind) []fhir.OutcomeIssue {
	out := make([]fhir.OutcomeIssue, 0, len(issues))
	for _, is := range issues {
		k := is.Kind
		if k == discharge.KindInternal {
			k = fallback
		}
		oi := fhir.OutcomeIssue{
			Severity:    severityCode(is.Severity),
			Code:        issueCode(k),
			Expression:  is.Expression,
			Diagnostics: is.Message,
		}
		if is.Detail != "" {
			oi.DetailCode = is.Detail
			oi.DetailSystem = detailSystem(is.Detail)
		}
		if is.Severity == discharge.SeverityWarning || is.Severity == discharge.SeverityInformation {
			// A warning's kind says what it is about; "informational" is
			// the honest code when it is only a remark.
			if k == discharge.KindInternal {
				oi.Code = fhir.IssueInformational
			}
		}
		out = append(out, oi)
	}
	return out
}

func severityCode(s discharge.Severity) string {
	switch s {
	case discharge.SeverityFatal:
		return "fatal"
	case discharge.SeverityWarning:
		return "warning"
	case discharge.SeverityInformation:
		return "information"
	default:
		return "error"
	}
}

// errorHandler renders every error, echo's own 404/405/413/415 included, as
// an OperationOutcome, and logs 5xx causes (which never reach the caller).
func (s *Server) errorHandler(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	de := toError(err)
	status := statusOf(de.Kind)
	span := trace.SpanFromContext(c.Request().Context())
	traceID := ""
	if sc := span.SpanContext(); sc.HasTraceID() {
		traceID = sc.TraceID().String()
	}
	if status >= 500 {
		span.SetStatus(codes.Error, de.Kind.String())
		// The cause may carry internals but never patient data: errors are
		// built from element paths and codes, not values.
		s.log.LogAttrs(c.Request().Context(), slog.LevelError, "request failed",
			slog.String("kind", de.Kind.String()),
			slog.String("error", de.Error()),
			slog.String("route", c.Path()),
			slog.String("request_id", requestID(c)),
			slog.String("trace_id", traceID))
	}
	h := c.Response().Header()
	switch de.Kind {
	case discharge.KindUnavailable, discharge.KindTimeout:
		h.Set("Retry-After", strconv.Itoa(s.cfg.RetryAfterSeconds))
	case discharge.KindUnauthorized:
		h.Set("WWW-Authenticate", wwwAuthenticate(de))
	case discharge.KindMethodNotAllowed:
		if allow := c.Get(echo.ContextKeyHeaderAllow); allow != nil {
			if v, ok := allow.(string); ok && v != "" {
				h.Set("Allow", v)
			}
		}
	}
	if c.Path() == tokenPath {
		oauthError(c, de, traceID) // OAuth 2.0 errors, not OperationOutcomes
		return
	}
	body := fhir.OperationOutcome(outcomeIssues(de, traceID))
	if c.Request().Method == http.MethodHead {
		_ = c.NoContent(status)
		return
	}
	_ = c.Blob(status, fhirJSON, body)
}
