package gateway

import (
	"encoding/json"

	"github.com/labstack/echo/v4"

	"github.com/dischargegateway/gateway/discharge"
)

// writeJSON answers an /api/v1 request with a wire value as plain JSON
// (the FHIR endpoints answer through respond instead).
func writeJSON(c echo.Context, status int, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return discharge.Wrap(discharge.KindInternal, "api json", err)
	}
	return c.Blob(status, plainJSON, b)
}
