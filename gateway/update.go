package gateway

import (
	"github.com/labstack/echo/v4"
)

// update is the FHIR update interaction (records.Service.Update): If-Match
// makes it a compare-and-set (412 when stale); updating an id that does
// not exist creates it.
func (s *Server) update(c echo.Context) error {
	typ := endpointType(c)
	body, err := s.readBody(c, typ)
	if err != nil {
		return err
	}
	o, err := s.records.Update(c.Request().Context(), principal(c), typ, c.Param("id"), body, c.Request().Header.Get("If-Match"))
	if err != nil {
		return err
	}
	return s.replyWritten(c, o)
}
