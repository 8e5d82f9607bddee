package gateway

import (
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/fhir"
	"github.com/dischargegateway/gateway/mappings"
	"github.com/dischargegateway/gateway/sitrep"
)

// Unmet demand by postcode district (docs/sitrep.md): weekly
// MeasureReports of the unmet-demand Measure and a CSV. sitrep.Service
// holds the rules; these handlers decode, call and encode.

// isUnmetMeasure reports whether a measure parameter names the
// unmet-demand Measure (its canonical URL, Measure/{id} or its id).
func isUnmetMeasure(m string) bool {
	return m == mappings.UnmetMeasureURL || strings.TrimPrefix(m, "Measure/") == mappings.UnmetMeasureID
}

// unmetReport computes the report the request's query asks for (the
// sitrep's parameters: subject, period).
func (s *Server) unmetReport(c echo.Context) (sitrep.UnmetReport, discharge.Issues, error) {
	if s.sitrep == nil {
		return sitrep.UnmetReport{}, nil, discharge.E(discharge.KindNotSupported, "", "This gateway keeps no unmet-demand counters.")
	}
	req, warns, err := sitrepRequest(c.QueryParams(), preferStrict(c))
	if err != nil {
		return sitrep.UnmetReport{}, nil, err
	}
	rep, err := s.sitrep.UnmetDemand(c.Request().Context(), principal(c), req)
	return rep, warns, err
}

// searchUnmet is MeasureReport?measure={unmet-demand}[&subject][&period]:
// one MeasureReport per week the period touches, computed now.
func (s *Server) searchUnmet(c echo.Context) error {
	rep, warns, err := s.unmetReport(c)
	if err != nil {
		return err
	}
	base := s.baseURL(c)
	entries := make([]fhir.BundleEntryOut, 0, len(rep.Weeks)+1)
	for _, w := range rep.Weeks {
		id := "unmet-demand-" + rep.Subject + "-" + w.Week.String()
		entries = append(entries, fhir.BundleEntryOut{FullURL: base + "/MeasureReport/" + id,
			Resource: mappings.UnmetToMeasureReport(id, rep.Subject, rep.Generated, w), SearchMode: "match"})
	}
	total := len(entries)
	if len(warns) > 0 {
		entries = append(entries, warningsEntry(warns))
	}
	self := []fhir.Link{{Relation: "self", URL: base + "/MeasureReport?" + c.QueryParams().Encode()}}
	return respond(c, http.StatusOK, fhir.MarshalBundle("searchset", &total, self, entries))
}

// evaluateUnmet is Measure/unmet-demand/$evaluate-measure?periodStart
// [&periodEnd][&subject]: the MeasureReport of one week (the week of
// periodStart); a period over several weeks is refused, since one
// MeasureReport covers one week: search MeasureReport for a series.
func (s *Server) evaluateUnmet(c echo.Context) error {
	rep, _, err := s.unmetReport(c)
	if err != nil {
		return err
	}
	if len(rep.Weeks) != 1 {
		return discharge.E(discharge.KindValue, "periodEnd", "The unmet-demand Measure is evaluated a week at a time: give a period within one week (Monday to Sunday), or search MeasureReport?measure="+mappings.UnmetMeasureURL+" for several.")
	}
	w := rep.Weeks[0]
	return respond(c, http.StatusOK, mappings.UnmetToMeasureReport("unmet-demand-"+rep.Subject+"-"+w.Week.String(), rep.Subject, rep.Generated, w))
}

// unmetCSV is GET /api/v1/unmet-demand.csv[?subject][&period]: one row per
// week, district and need (mappings.UnmetCSV).
func (s *Server) unmetCSV(c echo.Context) error {
	rep, _, err := s.unmetReport(c)
	if err != nil {
		return err
	}
	name := "unmet-demand-" + rep.Subject
	if len(rep.Weeks) > 0 {
		name += "-" + rep.Weeks[0].Week.String()
	}
	c.Response().Header().Set("Content-Disposition", `attachment; filename="`+name+`.csv"`)
	return c.Blob(http.StatusOK, "text/csv; charset=utf-8", mappings.UnmetCSV(rep.Subject, rep.Weeks))
}
