package gateway

import (
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/fhir"
)

// read is the FHIR read interaction.
func (s *Server) read(c echo.Context) error {
	typ := endpointType(c)
	r, _, err := s.readAcross(c, typ, c.Param("id"))
	if err != nil {
		return notFoundAt(err, typ)
	}
	s.writeHeaders(c, typ, r.ID, r.VersionID, r.LastUpdated, false)
	if v, ok := parseETag(c.Request().Header.Get("If-None-Match")); ok && v == r.VersionID {
		return c.NoContent(http.StatusNotModified)
	}
	return respond(c, http.StatusOK, r.JSON)
}

// vread is the FHIR vread interaction.
func (s *Server) vread(c echo.Context) error {
	typ := endpointType(c)
	v, err := strconv.ParseInt(c.Param("vid"), 10, 64)
	if err != nil || v < 1 {
		return discharge.E(discharge.KindNotFound, typ+".meta.versionId", "No such version.")
	}
	_, part, err := s.readAcross(c, typ, c.Param("id"))
	if err != nil {
		return notFoundAt(err, typ)
	}
	r, err := s.store.ReadVersion(c.Request().Context(), part, typ, c.Param("id"), v)
	if err != nil {
		return notFoundAt(err, typ)
	}
	s.writeHeaders(c, typ, r.ID, r.VersionID, r.LastUpdated, false)
	return respond(c, http.StatusOK, r.JSON)
}

// notFoundAt gives a store's not-found an issue naming the resource type.
func notFoundAt(err error, typ string) error {
	if discharge.ErrorKind(err) == discharge.KindNotFound {
		return discharge.E(discharge.KindNotFound, typ, "No "+typ+" with that id.")
	}
	return err
}

// readAcross reads typ/id from the first organisation the caller may read
// that holds it. A resource held for any other organisation is not found:
// its existence does not leak.
func (s *Server) readAcross(c echo.Context, typ, id string) (fhir.Resource, string, error) {
	for _, part := range s.readPartitions(c, typ) {
		r, err := s.store.Read(c.Request().Context(), part, typ, id)
		if err == nil {
			return r, part, nil
		}
		if discharge.ErrorKind(err) != discharge.KindNotFound {
			return fhir.Resource{}, "", err
		}
	}
	return fhir.Resource{}, "", discharge.KindOf(discharge.KindNotFound)
}
