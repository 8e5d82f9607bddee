package gateway

import (
	"context"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// FreshnessCounter counts locations by the freshness of their current
// capacity posting, for the dg.capacity.locations gauge
// (adapters/rediscache.CapacityStore). It is a dependency of its own
// (Deps.CapacityCounts), not something the capacity store is asked
// whether it offers: without it there is no gauge.
type FreshnessCounter interface {
	FreshnessCounts(ctx context.Context, now time.Time, staleAfter, expireAfter time.Duration) (fresh, stale, unknown int64, err error)
}

// metrics are the gateway's own instruments, beside otelhttp's request
// count and duration (labelled with route and FHIR interaction) and
// redisotel's client metrics. Attributes are bounded sets: route patterns,
// interaction names, freshness states; never ids or codes.
type metrics struct {
	placementOptions metric.Int64Histogram

	mu        sync.Mutex
	counted   time.Time
	freshness [3]int64
}

func (s *Server) newMetrics(fc FreshnessCounter) *metrics {
	m := &metrics{}
	meter := otel.Meter("github.com/dischargegateway/gateway/gateway")
	var err error
	m.placementOptions, err = meter.Int64Histogram("dg.placement.options", metric.WithUnit("{option}"),
		metric.WithDescription("Options returned per $placement-options request."),
		metric.WithExplicitBucketBoundaries(0, 1, 2, 3, 5, 10, 20, 50))
	if err != nil {
		s.log.Warn("metric dg.placement.options: " + err.Error())
	}
	s.escalationGauge(meter)
	if fc == nil {
		return m
	}
	gauge, err := meter.Int64ObservableGauge("dg.capacity.locations", metric.WithUnit("{location}"),
		metric.WithDescription("Locations by the freshness of their current capacity posting."))
	if err != nil {
		s.log.Warn("metric dg.capacity.locations: " + err.Error())
		return m
	}
	// RegisterCallback, not WithInt64Callback: a second Server in one
	// process (tests, `gateway import`) gets the same instrument back, and
	// only a registered callback is sure to be called for each.
	_, err = meter.RegisterCallback(func(ctx context.Context, o metric.Observer) error {
		counts, ok := m.freshnessCounts(ctx, fc, s)
		if !ok {
			return nil
		}
		for i, state := range []string{"fresh", "stale", "unknown"} {
			o.ObserveInt64(gauge, counts[i], metric.WithAttributes(attribute.String("freshness", state)))
		}
		return nil
	}, gauge)
	if err != nil {
		s.log.Warn("metric dg.capacity.locations callback: " + err.Error())
	}
	return m
}

// freshnessCounts asks the store at most every 15 s, whatever the scrape
// interval, and never for longer than 2 s.
func (m *metrics) freshnessCounts(ctx context.Context, fc FreshnessCounter, s *Server) ([3]int64, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.counted.IsZero() && time.Since(m.counted) < 15*time.Second {
		return m.freshness, true
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	f, st, u, err := fc.FreshnessCounts(ctx, s.now(), s.cfg.Freshness.StaleAfter, s.cfg.Freshness.ExpireAfter)
	if err != nil {
		s.log.Warn("capacity freshness counts for metrics failed", "error", err.Error())
		return m.freshness, !m.counted.IsZero()
	}
	m.freshness, m.counted = [3]int64{f, st, u}, time.Now()
	return m.freshness, true
}

func (m *metrics) placementReturned(ctx context.Context, n int) {
	if m != nil && m.placementOptions != nil {
		m.placementOptions.Record(ctx, int64(n))
	}
}

// fhirInteraction names the FHIR interaction of a route pattern and method,
// for the fhir.interaction attribute of request metrics.
func fhirInteraction(method, route string) string {
	switch {
	case route == "/fhir" && method == "POST":
		return "transaction"
	case route == "/fhir/metadata":
		return "capabilities"
	case strings.Contains(route, "$"):
		return "operation"
	case strings.HasPrefix(route, "/oauth2/"), strings.HasPrefix(route, "/.well-known/"):
		return "auth"
	case route == "/healthz" || route == "/readyz":
		return "health"
	case strings.HasPrefix(route, "/api/"):
		return "api"
	case !strings.HasPrefix(route, "/fhir/"):
		return "other"
	}
	parts := strings.Split(strings.TrimPrefix(route, "/fhir/"), "/")
	switch {
	case len(parts) == 1 && method == "GET":
		return "search-type"
	case len(parts) == 1 && method == "POST":
		return "create"
	case len(parts) == 2 && method == "GET":
		return "read"
	case len(parts) == 2 && method == "PUT":
		return "update"
	case len(parts) == 2 && method == "DELETE":
		return "delete"
	case len(parts) == 3 && parts[2] == "_history":
		return "history-instance"
	case len(parts) == 4 && parts[2] == "_history":
		return "vread"
	}
	return "other"
}

// escalationGauge registers dg.cases.escalated: the open cases flagged for
// escalation (no acceptance N hours after the first offer, or NCTR days
// past the threshold), as the latest worklist read of each trust counted
// them (cases.Service.EscalatedCases). No attributes: a trust's code is
// an id.
func (s *Server) escalationGauge(meter metric.Meter) {
	if s.cases == nil {
		return
	}
	gauge, err := meter.Int64ObservableGauge("dg.cases.escalated", metric.WithUnit("{case}"),
		metric.WithDescription("Open cases flagged for escalation, as each trust's latest worklist read counted them."))
	if err != nil {
		s.log.Warn("metric dg.cases.escalated: " + err.Error())
		return
	}
	cs := s.cases
	if _, err := meter.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		o.ObserveInt64(gauge, cs.EscalatedCases())
		return nil
	}, gauge); err != nil {
		s.log.Warn("metric dg.cases.escalated callback: " + err.Error())
	}
}
