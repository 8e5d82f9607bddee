package gateway

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/fhir"
	"github.com/dischargegateway/gateway/mappings"
	"github.com/dischargegateway/gateway/sitrep"
)

// The discharge sitrep (docs/sitrep.md): MeasureReport search by measure,
// Measure/$evaluate-measure and the national return's CSV. sitrep.Service
// holds the rules; these handlers decode, call and encode.

// isSitrepMeasure reports whether a measure parameter names the sitrep
// Measure (its canonical URL, or Measure/{id} or its id).
func isSitrepMeasure(m string) bool {
	return m == mappings.SitrepMeasureURL || strings.TrimPrefix(m, "Measure/") == mappings.SitrepMeasureID
}

// sitrepParams are the parameters a sitrep request reads.
var sitrepParams = map[string]bool{"measure": true, "subject": true, "period": true, "periodStart": true, "periodEnd": true,
	"reportType": true, "_format": true, "_count": true}

// sitrepRequest reads subject and period; other parameters are refused
// with strict handling, and otherwise ignored with a warning.
func sitrepRequest(q url.Values, strict bool) (sitrep.Request, discharge.Issues, error) {
	var warns discharge.Issues
	for name := range q {
		if !sitrepParams[name] {
			msg := "Unknown or unsupported parameter '" + name + "' for the sitrep; it was not applied."
			if strict {
				return sitrep.Request{}, nil, discharge.E(discharge.KindNotSupported, name, msg)
			}
			warns.Warn(discharge.KindNotSupported, name, msg)
		}
	}
	subject, err := sitrep.ParseSubject(q)
	if err != nil {
		return sitrep.Request{}, nil, err
	}
	from, to, err := sitrep.ParsePeriod(q)
	if err != nil {
		return sitrep.Request{}, nil, err
	}
	return sitrep.Request{Subject: subject, From: from, To: to}, warns, nil
}

// sitrepReport computes the report the request's query asks for.
func (s *Server) sitrepReport(c echo.Context) (sitrep.Report, discharge.Issues, error) {
	if s.sitrep == nil {
		return sitrep.Report{}, nil, discharge.E(discharge.KindNotSupported, "", "This gateway keeps no sitrep counters.")
	}
	req, warns, err := sitrepRequest(c.QueryParams(), preferStrict(c))
	if err != nil {
		return sitrep.Report{}, nil, err
	}
	rep, err := s.sitrep.Sitrep(c.Request().Context(), principal(c), req)
	return rep, warns, err
}

func sitrepReportID(r sitrep.Report) string {
	return "sitrep-" + r.Subject + "-" + r.From.String() + "-" + r.To.String()
}

// searchSitrep is MeasureReport?measure={sitrep}[&subject][&period]: one
// report, computed now, in a searchset (total 1).
func (s *Server) searchSitrep(c echo.Context) error {
	rep, warns, err := s.sitrepReport(c)
	if err != nil {
		return err
	}
	id := sitrepReportID(rep)
	return s.oneReport(c, id, mappings.SitrepToMeasureReport(id, rep.Subject, rep.Generated, rep.Sitrep), warns)
}

// oneReport answers a MeasureReport search whose answer is one report
// computed now (the sitrep, virtual wards, the forecast): a searchset of
// total 1 holding report (its id id), and the search's warnings.
func (s *Server) oneReport(c echo.Context, id string, report json.RawMessage, warns discharge.Issues) error {
	base := s.baseURL(c)
	entries := []fhir.BundleEntryOut{{FullURL: base + "/MeasureReport/" + id, Resource: report, SearchMode: "match"}}
	if len(warns) > 0 {
		entries = append(entries, warningsEntry(warns))
	}
	total := 1
	self := []fhir.Link{{Relation: "self", URL: base + "/MeasureReport?" + c.QueryParams().Encode()}}
	return respond(c, http.StatusOK, fhir.MarshalBundle("searchset", &total, self, entries))
}

// evaluateMeasure is Measure/{id}/$evaluate-measure?periodStart&periodEnd
// [&subject]: the MeasureReport itself, for any period.
func (s *Server) evaluateMeasure(c echo.Context) error {
	switch c.Param("id") {
	case mappings.VirtualWardMeasureID:
		return s.evaluateVirtualWards(c) // virtualward.go
	case mappings.UnmetMeasureID:
		return s.evaluateUnmet(c) // unmet.go
	case mappings.ForecastMeasureID:
		return s.evaluateForecast(c) // forecast.go
	}
	if c.Param("id") != mappings.SitrepMeasureID {
		return discharge.E(discharge.KindNotFound, "Measure", "$evaluate-measure evaluates the "+mappings.SitrepMeasureID+", "+mappings.VirtualWardMeasureID+", "+mappings.UnmetMeasureID+" or "+mappings.ForecastMeasureID+" Measure.")
	}
	rep, _, err := s.sitrepReport(c)
	if err != nil {
		return err
	}
	return respond(c, http.StatusOK, mappings.SitrepToMeasureReport(sitrepReportID(rep), rep.Subject, rep.Generated, rep.Sitrep))
}

// sitrepCSV is GET /api/v1/sitrep.csv?[subject][&period]: the report in
// the national return's columns (mappings.SitrepCSV).
func (s *Server) sitrepCSV(c echo.Context) error {
	rep, _, err := s.sitrepReport(c)
	if err != nil {
		return err
	}
	c.Response().Header().Set("Content-Disposition", `attachment; filename="`+sitrepReportID(rep)+`.csv"`)
	return c.Blob(http.StatusOK, "text/csv; charset=utf-8", mappings.SitrepCSV(rep.Subject, rep.Sitrep))
}
