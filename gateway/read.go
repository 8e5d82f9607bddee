package gateway

import (
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/fhir"
)

// read is the FHIR read interaction, with conditional read: If-None-Match
// and If-Modified-Since answer 304 when the caller's copy is current.
// HEAD is routed here too; net/http sends its headers without the body.
func (s *Server) read(c echo.Context) error {
	r, _, err := s.records.Read(c.Request().Context(), principal(c), endpointType(c), c.Param("id"))
	if err != nil {
		return err
	}
	return s.replyRead(c, r)
}

// vread is the FHIR vread interaction. A version never changes, so the
// same conditional headers apply.
func (s *Server) vread(c echo.Context) error {
	r, err := s.records.VRead(c.Request().Context(), principal(c), endpointType(c), c.Param("id"), c.Param("vid"))
	if err != nil {
		return err
	}
	return s.replyRead(c, r)
}

// replyRead answers a read or vread: 304 when the caller's copy is
// current, else the version with its ETag and Last-Modified.
func (s *Server) replyRead(c echo.Context, r fhir.Resource) error {
	s.writeHeaders(c, r.Type, r.ID, r.VersionID, r.LastUpdated, false)
	if notModified(c.Request(), r) {
		return c.NoContent(http.StatusNotModified)
	}
	return respond(c, http.StatusOK, r.JSON)
}

// notModified evaluates a read's preconditions as RFC 7232 §6 orders them:
// If-None-Match, when present, decides alone (weak comparison against the
// version's ETag; "*" matches any current representation); otherwise
// If-Modified-Since is true when the resource has not changed since that
// date, compared at the one-second precision of HTTP dates. A date that
// does not parse is ignored (RFC 7232 §3.3).
func notModified(req *http.Request, r fhir.Resource) bool {
	if inm := req.Header.Get("If-None-Match"); inm != "" {
		for _, tag := range strings.Split(inm, ",") {
			tag = strings.TrimSpace(tag)
			if tag == "*" {
				return true
			}
			if v, ok := fhir.ParseETag(tag); ok && v == r.VersionID {
				return true
			}
		}
		return false
	}
	ims := req.Header.Get("If-Modified-Since")
	if ims == "" || r.LastUpdated.IsZero() {
		return false
	}
	since, err := http.ParseTime(ims)
	if err != nil {
		return false
	}
	return !r.LastUpdated.Truncate(time.Second).After(since)
}

// history is the FHIR history-instance interaction
// (records.Service.History): a history Bundle of every version of one
// resource, newest first, read like read is.
func (s *Server) history(c echo.Context) error {
	body, err := s.records.History(c.Request().Context(), principal(c), endpointType(c), c.Param("id"), c.QueryParams(), s.baseURL(c))
	if err != nil {
		return err
	}
	return respond(c, http.StatusOK, body)
}

// historyNotSupported answers type-level and system-level history: the
// store keeps each resource's versions but no timeline across resources,
// so these are 405 (not-supported), never a misleading 404.
func (s *Server) historyNotSupported(c echo.Context) error {
	c.Response().Header().Set("Allow", "")
	return discharge.E(discharge.KindMethodNotAllowed, "",
		"History is supported per resource only: GET [type]/[id]/_history.")
}
