package gateway

import (
	_ "embed"
	"net/http"

	"github.com/labstack/echo/v4"
)

// openAPI describes the JSON API (capacity, imports, cases). A test checks
// that every /api/v1 route is in it and nothing else.
//
//go:embed openapi/openapi.json
var openAPI []byte

func (s *Server) openapi(c echo.Context) error {
	return c.Blob(http.StatusOK, "application/vnd.oai.openapi+json", openAPI)
}
