package gateway

import (
	"bytes"
	"context"
	"mime"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/dischargegateway/gateway/auth"
	"github.com/dischargegateway/gateway/directory"
	"github.com/dischargegateway/gateway/discharge"
)

// importDirectory is POST /api/v1/directory/import (text/csv). A care
// provider imports its own locations (rows of other providers are rejected
// with the reason); the admin role imports the whole directory.
func (s *Server) importDirectory(c echo.Context) error {
	owner, err := directory.ImportOwner(principal(c)) // the route table has admitted the caller
	if err != nil {
		return err
	}
	if mt, _, _ := mime.ParseMediaType(c.Request().Header.Get(echo.HeaderContentType)); mt != "text/csv" {
		return discharge.E(discharge.KindUnsupportedMedia, "", "The directory import takes text/csv.")
	}
	body, err := s.readBody(c, "")
	if err != nil {
		return err
	}
	rep, err := s.directory.ImportCSV(c.Request().Context(), bytes.NewReader(body), owner)
	if err != nil {
		return err
	}
	return writeJSON(c, http.StatusOK, toWireImportReport(rep))
}

// ImportDirectory writes listings into the directory (directory.Service.
// Import) and reports it in the /api/v1 shape. With owner set, only that
// provider's listings are accepted.
func (s *Server) ImportDirectory(ctx context.Context, listings []discharge.Listing, owner string) (ImportReport, error) {
	rep, err := s.directory.Import(ctx, listings, owner)
	return toWireImportReport(rep), err
}

// mayImportDirectory is the directory import's caller rule
// (directory.ImportOwner), for the route table.
func mayImportDirectory(p *auth.Principal) error {
	_, err := directory.ImportOwner(p)
	return err
}
