package gateway

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/dischargegateway/gateway/fhir"
	"github.com/dischargegateway/gateway/mappings"
)

// searchAuditEvents is GET /fhir/AuditEvent?agent=&entity=&date=, for the
// admin role only (the route table's requireRole): audittrail.Service.Search
// applies the parameters and reads the page; each entry is rendered by
// mappings.AuditEvent (who, what, when, the outcome and the request id;
// never content). total counts every match (see rediscache.Audit.Search for
// what that costs, and its bound).
func (s *Server) searchAuditEvents(c echo.Context) error {
	page, warns, err := s.auditTrail.Search(c.Request().Context(), c.QueryParams(), preferStrict(c))
	if err != nil {
		return err
	}
	base := s.baseURL(c)
	out := make([]fhir.BundleEntryOut, 0, len(page.Entries)+1)
	for _, e := range page.Entries {
		out = append(out, fhir.BundleEntryOut{FullURL: base + "/AuditEvent/" + e.ID, Resource: mappings.AuditEvent(e.ID, e), SearchMode: "match"})
	}
	if len(warns) > 0 {
		out = append(out, warningsEntry(warns))
	}
	return respond(c, http.StatusOK, fhir.MarshalBundle("searchset", page.Total, page.Links(base+"/AuditEvent"), out))
}
