package gateway

import (
	"context"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/fhir"
)

// healthz says the process is alive. It never touches Redis, so a store
// outage does not make an orchestrator restart healthy processes.
func (s *Server) healthz(c echo.Context) error {
	return c.Blob(http.StatusOK, plainJSON, []byte(`{"status":"pass"}`))
}

// Pinger says whether a store answers (fhir.Store's Ping).
type Pinger interface {
	Ping(ctx context.Context) error
}

// readyz says whether the store answers; a load balancer stops sending
// traffic while it fails, and resumes by itself once Redis is back.
func (s *Server) readyz(c echo.Context) error {
	ctx, cancel := context.WithTimeout(c.Request().Context(), 2*time.Second)
	defer cancel()
	if err := s.ready.Ping(ctx); err != nil {
		de := toError(err)
		if statusOf(de.Kind) < 500 {
			de = discharge.Wrap(discharge.KindUnavailable, "readyz", err)
		}
		c.Response().Header().Set("Retry-After", "5")
		body := fhir.OperationOutcome([]fhir.OutcomeIssue{{Severity: "error", Code: issueCode(de.Kind),
			Diagnostics: "The store does not answer."}})
		return c.Blob(http.StatusServiceUnavailable, fhirJSON, body)
	}
	return c.Blob(http.StatusOK, plainJSON, []byte(`{"status":"pass","store":"pass"}`))
}

// endpointType is the FHIR resource type of the matched route, e.g.
// "Encounter" for /fhir/Encounter/:id, or "Bundle" for POST /fhir.
func endpointType(c echo.Context) string {
	p := c.Path()
	const prefix = "/fhir/"
	if len(p) <= len(prefix) || p[:len(prefix)] != prefix {
		if p == "/fhir" {
			return "Bundle"
		}
		return ""
	}
	rest := p[len(prefix):]
	for i := 0; i < len(rest); i++ {
		if rest[i] == '/' {
			return rest[:i]
		}
	}
	return rest
}
