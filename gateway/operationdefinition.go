package gateway

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/dischargegateway/gateway/conformance"
)

// readOperationDefinition serves the OperationDefinitions the gateway
// publishes (conformance/operations.go renders them, once).
func (s *Server) readOperationDefinition(c echo.Context) error {
	def, err := s.conformance.Read(conformance.OperationDefinition, c.Param("id"))
	if err != nil {
		return err
	}
	return respond(c, http.StatusOK, def)
}
