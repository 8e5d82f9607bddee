package main

import (
	"context"
	"errors"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetrichttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
)

// setupTelemetry installs the global tracer and meter providers.
//
// Spans are always created, so every log line and every 5xx can quote a
// trace id; they are recorded and exported only when
// OTEL_EXPORTER_OTLP_ENDPOINT is set (the exporters then also read the
// signal-specific OTEL_EXPORTER_OTLP_*_ENDPOINT, which override it). Without an exporter the sampler
// drops every span: the SDK still gives each a trace id (a caller's
// traceparent is continued), but no span records attributes or events
// only to be thrown away at its end, which cost each request its span
// allocations for nothing; the Redis client then gets no tracing hook at
// all (storeSettings), nor pool metrics without a reader. Metrics are pushed
// over OTLP when an endpoint is set and served for Prometheus on
// GATEWAY_METRICS_ADDR when that is set; with neither they stay in the
// no-op provider. The exporters read the standard OTEL_* variables
// themselves.
func setupTelemetry(ctx context.Context, cfg config, version string) (shutdown func(context.Context) error, err error) {
	res, err := resource.Merge(resource.Default(), resource.NewWithAttributes(semconv.SchemaURL,
		semconv.ServiceName(cfg.ServiceName), semconv.ServiceVersion(version)))
	if err != nil {
		// A schema clash between resource.Default and ours is not worth
		// failing start-up for; fall back to ours alone.
		res = resource.NewWithAttributes(semconv.SchemaURL, semconv.ServiceName(cfg.ServiceName))
	}
	topts := []sdktrace.TracerProviderOption{sdktrace.WithResource(res)}
	if cfg.OTLPEndpoint == "" {
		topts = append(topts, sdktrace.WithSampler(sdktrace.NeverSample()))
	}
	var readers []sdkmetric.Option
	if cfg.OTLPEndpoint != "" {
		texp, err := otlptracehttp.New(ctx)
		if err != nil {
			return nil, err
		}
		topts = append(topts, sdktrace.WithBatcher(texp))
		mexp, err := otlpmetrichttp.New(ctx)
		if err != nil {
			return nil, err
		}
		readers = append(readers, sdkmetric.WithReader(sdkmetric.NewPeriodicReader(mexp)))
	}
	// The Prometheus endpoint is a second reader of the same instruments,
	// on its own listener so /metrics is never on the public API port.
	var metricsSrv *http.Server
	if cfg.MetricsAddr != "" {
		reg := prometheus.NewRegistry()
		pexp, err := otelprom.New(otelprom.WithRegisterer(reg))
		if err != nil {
			return nil, err
		}
		readers = append(readers, sdkmetric.WithReader(pexp))
		ln, err := net.Listen("tcp", cfg.MetricsAddr)
		if err != nil {
			return nil, err
		}
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
		metricsSrv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
		go func() { _ = metricsSrv.Serve(ln) }()
	}
	var mp *sdkmetric.MeterProvider
	if len(readers) > 0 {
		mp = sdkmetric.NewMeterProvider(append(readers, sdkmetric.WithResource(res))...)
		otel.SetMeterProvider(mp)
	}
	tp := sdktrace.NewTracerProvider(topts...)
	otel.SetTracerProvider(tp)
	otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}))
	return func(ctx context.Context) error {
		err := tp.Shutdown(ctx)
		if metricsSrv != nil {
			err = errors.Join(err, metricsSrv.Shutdown(ctx))
		}
		if mp != nil {
			err = errors.Join(err, mp.Shutdown(ctx))
		}
		return err
	}, nil
}
