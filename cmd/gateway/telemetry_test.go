package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"

	"github.com/dischargegateway/gateway/internal/redistest"
)

// TestPrometheusMetrics runs the gateway with GATEWAY_METRICS_ADDR, makes
// it do some work, and scrapes /metrics: request metrics per route and FHIR
// interaction, Redis client metrics, capacity freshness and placement
// options are there, and no patient identifier is.
func TestPrometheusMetrics(t *testing.T) {
	rs := redistest.Open(t)
	env := withDataDir(t, rs.Env())
	metricsAddr := fmt.Sprintf("127.0.0.1:%d", redistest.FreePort(t))
	env["GATEWAY_METRICS_ADDR"] = metricsAddr
	env["GATEWAY_OUTCODES_CSV"] = filepath.Join("..", "..", "configs", "geo", "uk-outcode-centroids.csv")
	// A location of the demo care provider, to post capacity for.
	csvPath := filepath.Join(t.TempDir(), "dir.csv")
	_ = os.WriteFile(csvPath, []byte("name,cqcLocationId,providerId,services,postcode\nA Home,1-100000001,1-000000001,nursing,M14 6AB\n"), 0o600)
	if err := run(context.Background(), []string{"import", "directory", csvPath}, func(k string) string { return env[k] }, io.Discard, io.Discard, nil); err != nil {
		t.Fatal(err)
	}
	base, stop, done, logs := startRun(t, env)
	defer func() { stop(); <-done }()
	do := func(method, path, token, ctype string, body []byte) int {
		req, _ := http.NewRequest(method, base+path, bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		if ctype != "" {
			req.Header.Set("Content-Type", ctype)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return res.StatusCode
	}
	trust := mint(t, "demo-trust-rxa")
	bundle, _ := os.ReadFile(filepath.Join("..", "..", "gateway", "testdata", "bundle.json"))
	if st := do("POST", "/fhir", trust, "application/fhir+json", bundle); st != 200 {
		t.Fatalf("transaction: %d\n%s", st, logs)
	}
	do("GET", "/fhir/Patient?identifier=https://fhir.nhs.uk/Id/nhs-number|9476719931", trust, "", nil)
	home := mint(t, "demo-care-home-1")
	posting := fmt.Sprintf(`{"asOf":%q,"beds":[{"type":"nursing","maxCapacity":10,"occupied":8,"reserved":0,"acceptingAdmissions":2}]}`,
		time.Now().UTC().Format(time.RFC3339))
	if st := do("PUT", "/api/v1/capacity/cqc-1-100000001", home, "application/json", []byte(posting)); st != 200 {
		t.Fatalf("capacity: %d", st)
	}
	sr := `{"resourceType":"Parameters","parameter":[{"name":"serviceRequest","resource":{"resourceType":"ServiceRequest","status":"active","intent":"order",` +
		`"subject":{"reference":"Patient/inline"},"code":{"coding":[{"system":"https://fhir.discharge-gateway.example/CodeSystem/care-setting","code":"nursing"}]}}},` +
		`{"name":"patient","resource":{"resourceType":"Patient","id":"inline","address":[{"use":"home","postalCode":"M14 6AB"}]}}]}`
	if st := do("POST", "/fhir/ServiceRequest/$placement-options", trust, "application/fhir+json", []byte(sr)); st != 200 {
		t.Fatalf("placement: %d", st)
	}

	var scrape string
	deadline := time.Now().Add(10 * time.Second)
	for {
		res, err := http.Get("http://" + metricsAddr + "/metrics")
		if err == nil {
			b, _ := io.ReadAll(res.Body)
			res.Body.Close()
			scrape = string(b)
			if strings.Contains(scrape, "dg_placement_options") {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no placement metric scraped: %v\n%s", err, scrape)
		}
		time.Sleep(200 * time.Millisecond)
	}
	for _, want := range []string{
		`http_server_request_duration_seconds_count\{[^}]*fhir_interaction="transaction"[^}]*http_route="/fhir"`,
		`http_server_request_duration_seconds_count\{[^}]*fhir_interaction="search-type"[^}]*http_route="/fhir/Patient"`,
		`http_server_request_duration_seconds_count\{[^}]*fhir_interaction="operation"`,
		`http_response_status_code="200"`,
		`dg_capacity_locations\{[^}]*freshness="fresh"[^}]*\} 1`,
		`dg_capacity_locations\{[^}]*freshness="stale"[^}]*\} 0`,
		`dg_placement_options_count\{[^}]*\} 1`,
		`dg_placement_options_bucket\{[^}]*le="1"[^}]*\} 1`, // the one nursing home, one option
		`db_client_connections_use_time`,
	} {
		if !regexp.MustCompile(want).MatchString(scrape) {
			t.Errorf("scrape lacks %s", want)
		}
	}
	for _, secret := range []string{"9476719931", "cqc-1-100000001"} {
		if strings.Contains(scrape, secret) {
			t.Errorf("the scrape carries %q", secret)
		}
	}
	if t.Failed() {
		t.Logf("scrape:\n%s\nlogs:\n%s", scrape, logs)
	}
}

// TestSpansRecordOnlyWithAnExporter: without an OTLP endpoint a span is
// not recorded but still has a trace id (for logs and 5xx outcomes) and
// continues a caller's trace; with one, spans are recorded.
func TestSpansRecordOnlyWithAnExporter(t *testing.T) {
	ctx := context.Background()
	for _, endpoint := range []string{"", "http://127.0.0.1:1"} {
		t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint)
		shutdown, err := setupTelemetry(ctx, config{ServiceName: "test", OTLPEndpoint: endpoint}, "test")
		if err != nil {
			t.Fatal(err)
		}
		_, span := otel.Tracer("test").Start(ctx, "request")
		if span.IsRecording() != (endpoint != "") {
			t.Errorf("endpoint %q: recording %v", endpoint, span.IsRecording())
		}
		if !span.SpanContext().HasTraceID() {
			t.Errorf("endpoint %q: no trace id", endpoint)
		}
		span.End()
		parent := propagation.TraceContext{}.Extract(ctx, propagation.MapCarrier{
			"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"})
		_, child := otel.Tracer("test").Start(parent, "request")
		if got := child.SpanContext().TraceID().String(); got != "4bf92f3577b34da6a3ce929d0e0e4736" {
			t.Errorf("endpoint %q: the caller's trace is not continued: %s", endpoint, got)
		}
		child.End()
		sctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		_ = shutdown(sctx)
		cancel()
	}
}
