package gateway

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/dischargegateway/gateway/mappings"
)

// dischargeCase answers GET and POST /fhir/Encounter/{id}/$discharge-case
// (cases.Service.FHIR): the case of GET /api/v1/cases/{id} as FHIR, a
// collection Bundle of its timeline (Provenance) and measures
// (MeasureReport), under the same tenancy. POST takes no parameters, so a
// body is ignored unread.
func (s *Server) dischargeCase(c echo.Context) error {
	body, err := s.cases.FHIR(c.Request().Context(), principal(c), c.Param("id"))
	if err != nil {
		return err
	}
	return respond(c, http.StatusOK, body)
}

// readCaseMeasure serves the Measure a case's MeasureReport reports; any
// other id falls to the capacity Measure's reader.
func (s *Server) readCaseMeasure(c echo.Context) error {
	if c.Param("id") == "discharge-case" {
		return respond(c, http.StatusOK, mappings.CaseMeasure())
	}
	return s.readMeasure(c)
}
