package gateway_test

import (
	"net/http"
	"strings"
	"testing"

	"go.opentelemetry.io/otel"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// TestSpansNamedByRouteWithRedisChildren checks the server span carries the
// route pattern (not the URL, so no ids or query values) and that Redis
// commands (the rate limiter's, on every request; the record is SQL)
// appear as child spans without their arguments; the server span
// carries the request and correlation ids, and no span carries patient data.
func TestSpansNamedByRouteWithRedisChildren(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	prev := otel.GetTracerProvider()
	otel.SetTracerProvider(tp)
	t.Cleanup(func() { otel.SetTracerProvider(prev) })

	e := newEnv(t)
	r := e.do("POST", "/fhir/Patient", fixture(t, "patient.json")).mustStatus(t, http.StatusCreated)
	read := e.do("GET", "/fhir/Patient/"+str(r.json, "id"), nil, "X-Correlation-Id", "corr-4711").mustStatus(t, http.StatusOK)
	e.do("GET", "/fhir/Patient?identifier=https://fhir.nhs.uk/Id/nhs-number|9476719931", nil).mustStatus(t, http.StatusOK)

	var server, redisSpans int
	for _, s := range rec.Ended() {
		name := s.Name()
		if strings.Contains(name, "9476719931") || strings.Contains(name, str(r.json, "id")) {
			t.Fatalf("span name carries data: %q", name)
		}
		for _, a := range s.Attributes() {
			v := a.Value.Emit()
			if strings.Contains(v, "9476719931") || strings.Contains(v, "Testpatient") || strings.Contains(v, "1941-03-02") {
				t.Fatalf("span %q attribute %s carries patient data", name, a.Key)
			}
		}
		if name == "GET /fhir/Patient/:id" {
			// The read's span carries the ids the caller saw, so support can
			// find it from either.
			got := map[string]string{}
			for _, a := range s.Attributes() {
				got[string(a.Key)] = a.Value.Emit()
			}
			if got["dg.correlation_id"] != "corr-4711" || got["dg.request_id"] == "" || got["dg.request_id"] != read.header.Get("X-Request-Id") {
				t.Fatalf("read span ids %v, response request id %q", got, read.header.Get("X-Request-Id"))
			}
		}
		switch {
		case name == "GET /fhir/Patient/:id" || name == "POST /fhir/Patient" || name == "GET /fhir/Patient":
			server++
		case s.Parent().IsValid() && (strings.HasPrefix(name, "hmget") || strings.HasPrefix(name, "evalsha") || strings.HasPrefix(name, "eval") || strings.HasPrefix(name, "pipeline") || strings.HasPrefix(name, "redis.pipeline")):
			redisSpans++
		}
	}
	if server != 3 || redisSpans == 0 {
		var names []string
		for _, s := range rec.Ended() {
			names = append(names, s.Name())
		}
		t.Fatalf("server spans %d, redis spans %d: %v", server, redisSpans, names)
	}
}
