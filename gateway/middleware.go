package gateway

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"runtime/debug"
	"time"

	"github.com/labstack/echo/v4"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/dischargegateway/gateway/discharge"
)

const (
	headerRequestID     = "X-Request-Id"
	headerCorrelationID = "X-Correlation-Id"
	ctxRequestID        = "dg.request_id"
)

// instrument wraps the whole handler in an OpenTelemetry server span and the
// standard HTTP server metrics (request count and duration). echo-otel/v4 is
// not served by the module proxy, so this uses the maintained otelhttp
// handler; routeTelemetry then names the span after the Echo route, so
// neither span names nor metrics carry ids from the URL.
func instrument(h http.Handler) http.Handler {
	return otelhttp.NewHandler(h, "http.server",
		otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string { return r.Method }))
}

// routeTelemetry records the matched route (a pattern such as
// /fhir/Encounter/:id, never the concrete URL) on the span and metrics.
func (s *Server) routeTelemetry(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		route := c.Path()
		ctx := c.Request().Context()
		span := trace.SpanFromContext(ctx)
		span.SetName(c.Request().Method + " " + route)
		attrs := []attribute.KeyValue{
			attribute.String("http.route", route),
			attribute.String("dg.request_id", requestID(c)),
			attribute.String("dg.correlation_id", c.Response().Header().Get(headerCorrelationID)),
		}
		span.SetAttributes(attrs...)
		interaction := fhirInteraction(c.Request().Method, route)
		span.SetAttributes(attribute.String("fhir.interaction", interaction))
		if l, ok := otelhttp.LabelerFromContext(ctx); ok {
			l.Add(attribute.String("http.route", route), attribute.String("fhir.interaction", interaction))
		}
		return next(c)
	}
}

// requestIDs accepts X-Request-Id and X-Correlation-Id, replacing any that
// is absent or not a plain token, and echoes both on the response.
func (s *Server) requestIDs(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		rid := cleanID(c.Request().Header.Get(headerRequestID))
		cid := cleanID(c.Request().Header.Get(headerCorrelationID))
		if cid == "" {
			cid = newID()
		}
		if rid == "" {
			rid = newID()
		}
		c.Set(ctxRequestID, rid)
		h := c.Response().Header()
		h.Set(headerRequestID, rid)
		h.Set(headerCorrelationID, cid)
		return next(c)
	}
}

func requestID(c echo.Context) string {
	v, _ := c.Get(ctxRequestID).(string)
	return v
}

// cleanID keeps an id only if it is 1..128 characters of [A-Za-z0-9._:-],
// so a header can never inject text into logs.
func cleanID(v string) string {
	if v == "" || len(v) > 128 {
		return ""
	}
	for _, r := range v {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' ||
			r == '.' || r == '_' || r == ':' || r == '-'
		if !ok {
			return ""
		}
	}
	return v
}

// newID returns a random UUID (version 4).
func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	var out [36]byte
	hex.Encode(out[0:8], b[0:4])
	out[8] = '-'
	hex.Encode(out[9:13], b[4:6])
	out[13] = '-'
	hex.Encode(out[14:18], b[6:8])
	out[18] = '-'
	hex.Encode(out[19:23], b[8:10])
	out[23] = '-'
	hex.Encode(out[24:], b[10:])
	return string(out[:])
}

// accessLog writes one JSON line per request. It logs the route pattern,
// never the URL: query strings carry NHS numbers.
func (s *Server) accessLog(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		err := next(c)
		if err != nil {
			c.Error(err)
		}
		ctx := c.Request().Context()
		traceID := ""
		if sc := trace.SpanFromContext(ctx).SpanContext(); sc.HasTraceID() {
			traceID = sc.TraceID().String()
		}
		s.log.LogAttrs(ctx, slog.LevelInfo, "request",
			slog.String("method", c.Request().Method),
			slog.String("route", c.Path()),
			slog.Int("status", c.Response().Status),
			slog.Float64("duration_ms", float64(time.Since(start).Microseconds())/1000),
			slog.String("request_id", requestID(c)),
			slog.String("trace_id", traceID))
		return nil
	}
}

// recoverPanics turns a panic into a 500 OperationOutcome; the stack goes to
// the log, never to the caller.
func (s *Server) recoverPanics(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) (err error) {
		defer func() {
			if r := recover(); r != nil {
				if r == http.ErrAbortHandler {
					panic(r)
				}
				s.log.Error("panic", slog.String("route", c.Path()),
					slog.String("panic", fmt.Sprint(r)), slog.String("stack", string(debug.Stack())))
				err = discharge.Wrap(discharge.KindInternal, "panic", fmt.Errorf("%v", r))
			}
		}()
		return next(c)
	}
}

// deadline bounds every request's work with a context deadline (echo's
// Timeout middleware warns against itself).
func (s *Server) deadline(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if s.cfg.RequestTimeout <= 0 {
			return next(c)
		}
		ctx, cancel := context.WithTimeout(c.Request().Context(), s.cfg.RequestTimeout)
		defer cancel()
		c.SetRequest(c.Request().WithContext(ctx))
		return next(c)
	}
}

// readBody reads the request body up to the configured limit. A larger body
// is KindTooLarge whatever Content-Length claimed.
func (s *Server) readBody(c echo.Context, expression string) ([]byte, error) {
	r := c.Request()
	if r.ContentLength > s.cfg.BodyLimit {
		return nil, tooLarge(expression, s.cfg.BodyLimit)
	}
	body, err := io.ReadAll(http.MaxBytesReader(c.Response(), r.Body, s.cfg.BodyLimit))
	if err != nil {
		var mbe *http.MaxBytesError
		if asMaxBytes(err, &mbe) {
			return nil, tooLarge(expression, s.cfg.BodyLimit)
		}
		return nil, discharge.Wrap(discharge.KindInvalid, "read body", err)
	}
	if len(body) == 0 {
		return nil, discharge.E(discharge.KindRequired, expression, "The request has no body; a FHIR resource is required.")
	}
	return body, nil
}

func tooLarge(expression string, limit int64) error {
	return discharge.E(discharge.KindTooLarge, expression,
		fmt.Sprintf("The request body is over the limit of %d bytes.", limit))
}
