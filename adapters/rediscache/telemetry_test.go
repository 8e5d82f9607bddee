package rediscache_test

import (
	"context"
	"testing"

	"go.opentelemetry.io/otel"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/dischargegateway/gateway/adapters/rediscache"
)

// The client is instrumented only as Config asks: with Traces its commands
// and pipelines are spans, with Metrics its pool reports to the meter
// provider, and with neither there is no hook to pay for. Not parallel: it
// sets the global providers.
func TestInstrumentedOnlyWhenAsked(t *testing.T) {
	ctx := context.Background()
	prevT, prevM := otel.GetTracerProvider(), otel.GetMeterProvider()
	t.Cleanup(func() { otel.SetTracerProvider(prevT); otel.SetMeterProvider(prevM) })
	for _, c := range []struct {
		name            string
		traces, metrics bool
	}{{"neither", false, false}, {"traces", true, false}, {"metrics", false, true}, {"both", true, true}} {
		t.Run(c.name, func(t *testing.T) {
			spans := tracetest.NewSpanRecorder()
			otel.SetTracerProvider(sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans)))
			reader := sdkmetric.NewManualReader()
			otel.SetMeterProvider(sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader)))

			conn, err := rediscache.Open(ctx, rediscache.Config{Traces: c.traces, Metrics: c.metrics})
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			if err := conn.Client.Set(ctx, "k", "v", 0).Err(); err != nil {
				t.Fatal(err)
			}
			pipe := conn.Client.Pipeline()
			pipe.Get(ctx, "k")
			pipe.Get(ctx, "k")
			if _, err := pipe.Exec(ctx); err != nil {
				t.Fatal(err)
			}
			if got := len(spans.Ended()) > 0; got != c.traces {
				t.Errorf("spans recorded: %v (%d), want %v", got, len(spans.Ended()), c.traces)
			}
			var rm metricdata.ResourceMetrics
			if err := reader.Collect(ctx, &rm); err != nil {
				t.Fatal(err)
			}
			n := 0
			for _, sm := range rm.ScopeMetrics {
				n += len(sm.Metrics)
			}
			if got := n > 0; got != c.metrics {
				t.Errorf("metrics reported: %v (%d), want %v", got, n, c.metrics)
			}
		})
	}
}
