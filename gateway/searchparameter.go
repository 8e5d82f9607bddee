package gateway

import (
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/fhir"
	"github.com/dischargegateway/gateway/mappings"
)

// readSearchParameter answers GET /fhir/SearchParameter/{Type}-{name}: the
// SearchParameter resources of the parameters the gateway defines itself
// (the CapabilityStatement names them by their canonical URLs).
func (s *Server) readSearchParameter(c echo.Context) error {
	typ, name, _ := strings.Cut(c.Param("id"), "-")
	for _, p := range fhir.SearchParams(typ) {
		if p.Name == name && p.GatewayDefined() {
			return respond(c, http.StatusOK, mappings.SearchParameterJSON(typ, p))
		}
	}
	return discharge.E(discharge.KindNotFound, "SearchParameter", "No SearchParameter with that id.")
}
