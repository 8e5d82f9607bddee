package gateway

import (
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/fhir"
	"github.com/dischargegateway/gateway/mappings"
	"github.com/dischargegateway/gateway/placement"
)

// placementOptions is GET or POST /fhir/ServiceRequest/{id}/$placement-options:
// the providers that can take this patient, ranked and explained, as a
// searchset Bundle. The route table has authorized the caller;
// placement.Service does the rest.
func (s *Server) placementOptions(c echo.Context) error {
	if c.Param("id") == "" {
		return discharge.E(discharge.KindNotFound, "ServiceRequest", "No ServiceRequest with that id.")
	}
	return s.place(c, c.Param("id"))
}

// placementWhatIf is POST /fhir/ServiceRequest/$placement-options with a
// Parameters resource holding the ServiceRequest (and its Patient) inline:
// nothing is stored, for "what if" questions and testers.
func (s *Server) placementWhatIf(c echo.Context) error { return s.place(c, "") }

// place asks placement.Service once, for the stored ServiceRequest id or,
// with id "", the one inline in the body, and writes the Bundle. A POST's
// Parameters body is validated and read here, by mappings, like any other
// body the HTTP layer decodes.
func (s *Server) place(c echo.Context, id string) error {
	req := placement.Request{Principal: principal(c), ServiceRequestID: id,
		Query: c.QueryParams(), Lenient: preferHandling(c) == "lenient"}
	if c.Request().Method == http.MethodPost && c.Request().ContentLength != 0 {
		body, err := s.readBody(c, "Parameters")
		if err != nil {
			return err
		}
		if req.Parameters, err = mappings.DecodeParameters(body, s.cfg.Limits); err != nil {
			return err
		}
	}
	ctx := c.Request().Context()
	a, err := s.placement.Options(ctx, req)
	if err != nil {
		return err
	}
	s.metrics.placementReturned(ctx, len(a.Options))
	// The answer is rendered into a pooled buffer (40 kB and more, a
	// third of the path's allocation), given back once respond has
	// returned: the body is written to the connection, or copied into its
	// buffer, by then.
	buf := fhir.Buffer()
	body := s.placementBundle(*buf, c, a)
	err = respond(c, http.StatusOK, body)
	fhir.ReleaseBuffer(buf, body)
	return err
}

// placementBundle renders an answer. Its links are the operation's own URL
// below the base, with the parameters that shaped the answer, a POST
// body's primitive ones included: the instance-level links are GETs of the
// same question; at the type level, POST the same resources to them.
func (s *Server) placementBundle(dst []byte, c echo.Context, a placement.Answer) []byte {
	base := s.baseURL(c)
	self := base + strings.TrimPrefix(c.Request().URL.Path, "/fhir")
	return mappings.AppendPlacementBundle(dst, mappings.PlacementPage{Base: base, Options: a.Options, Total: a.Total,
		Resources: a.Resources, LeftOut: a.LeftOut, Excluded: a.Excluded, Warnings: a.Warnings,
		Links: pageLinks(self, a.Used, a.Count, a.Offset, a.Total)},
		func(is discharge.Issues) []fhir.OutcomeIssue { return issuesToOutcome(is, discharge.KindBusinessRule) })
}
