package gateway

import (
	"github.com/labstack/echo/v4"

	"github.com/dischargegateway/gateway/records"
)

// create is the FHIR create interaction, with conditional create when the
// request carries If-None-Exist (records.Service.Create).
func (s *Server) create(c echo.Context) error {
	typ := endpointType(c)
	body, err := s.readBody(c, typ)
	if err != nil {
		return err
	}
	o, err := s.records.Create(c.Request().Context(), principal(c), typ, body, c.Request().Header.Get("If-None-Exist"))
	if err != nil {
		return err
	}
	c.Set(ctxCreatedID, o.Resource.ID)
	return s.replyWritten(c, o)
}

// replyWritten answers a create or update: the version's ETag,
// Last-Modified and Location, then the resource, honouring Prefer: return=
// (a conditional create that matched always returns the match).
func (s *Server) replyWritten(c echo.Context, o records.Outcome) error {
	r := o.Resource
	s.writeHeaders(c, r.Type, r.ID, r.VersionID, r.LastUpdated, true)
	if o.Matched {
		return respond(c, o.Status, r.JSON)
	}
	return s.reply(c, o.Status, r.JSON, o.Warnings)
}
