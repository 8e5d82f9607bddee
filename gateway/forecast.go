package gateway

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/mappings"
	"github.com/dischargegateway/gateway/sitrep"
)

// The 14-day discharge demand forecast (docs/sitrep.md, Forecast):
// MeasureReport?measure={forecast}, Measure/discharge-forecast/
// $evaluate-measure and GET /api/v1/forecast.csv. sitrep.Forecast holds
// the rules; these handlers decode, call and encode.

// isForecastMeasure reports whether a measure parameter names the forecast
// Measure (its canonical URL, Measure/{id} or its id).
func isForecastMeasure(m string) bool {
	return m == mappings.ForecastMeasureURL || strings.TrimPrefix(m, "Measure/") == mappings.ForecastMeasureID
}

// forecastParams are the parameters a forecast request reads: it is
// always made today, so period is not one of them.
var forecastParams = map[string]bool{"measure": true, "subject": true, "reportType": true, "_format": true, "_count": true}

// forecastRequest reads subject; other parameters are refused with strict
// handling, and otherwise ignored with a warning.
func forecastRequest(q url.Values, strict bool) (sitrep.ForecastRequest, discharge.Issues, error) {
	var warns discharge.Issues
	for name := range q {
		if !forecastParams[name] {
			msg := "Unknown or unsupported parameter '" + name + "' for the forecast (always made today); it was not applied."
			if strict {
				return sitrep.ForecastRequest{}, nil, discharge.E(discharge.KindNotSupported, name, msg)
			}
			warns.Warn(discharge.KindNotSupported, name, msg)
		}
	}
	subject, err := sitrep.ParseSubject(q)
	return sitrep.ForecastRequest{Subject: subject}, warns, err
}

// forecastReport computes the forecast the request's query asks for.
func (s *Server) forecastReport(c echo.Context) (sitrep.ForecastReport, discharge.Issues, error) {
	if s.forecast == nil {
		return sitrep.ForecastReport{}, nil, discharge.E(discharge.KindNotSupported, "", "This gateway keeps no forecast counters.")
	}
	req, warns, err := forecastRequest(c.QueryParams(), preferStrict(c))
	if err != nil {
		return sitrep.ForecastReport{}, nil, err
	}
	rep, err := s.forecast.Forecast(c.Request().Context(), principal(c), req)
	return rep, warns, err
}

func forecastReportID(r sitrep.ForecastReport) string {
	return "forecast-" + r.Subject + "-" + r.Made.String()
}

// searchForecast is MeasureReport?measure={forecast}[&subject]: one
// report, computed now, in a searchset (total 1).
func (s *Server) searchForecast(c echo.Context) error {
	rep, warns, err := s.forecastReport(c)
	if err != nil {
		return err
	}
	id := forecastReportID(rep)
	return s.oneReport(c, id, mappings.ForecastToMeasureReport(id, rep.Subject, rep.Generated, rep.Forecast), warns)
}

// evaluateForecast is Measure/discharge-forecast/$evaluate-measure
// [?subject]: the MeasureReport itself. periodStart and periodEnd, if
// sent, must be today and the forecast's last day.
func (s *Server) evaluateForecast(c echo.Context) error {
	q := c.QueryParams()
	start, end := q.Get("periodStart"), q.Get("periodEnd")
	q.Del("periodStart")
	q.Del("periodEnd")
	rep, _, err := s.forecastReport(c)
	if err != nil {
		return err
	}
	if start != "" && start != rep.Made.String() {
		return discharge.E(discharge.KindNotSupported, "periodStart", "The forecast is made today: periodStart is "+rep.Made.String()+" or absent.")
	}
	if last := rep.Day(discharge.ForecastDays - 1).String(); end != "" && end != last {
		return discharge.E(discharge.KindNotSupported, "periodEnd", "The forecast covers 14 days: periodEnd is "+last+" or absent.")
	}
	return respond(c, http.StatusOK, mappings.ForecastToMeasureReport(forecastReportID(rep), rep.Subject, rep.Generated, rep.Forecast))
}

// forecastCSV is GET /api/v1/forecast.csv[?subject]: one row per setting
// and district (mappings.ForecastCSV).
func (s *Server) forecastCSV(c echo.Context) error {
	rep, _, err := s.forecastReport(c)
	if err != nil {
		return err
	}
	c.Response().Header().Set("Content-Disposition", `attachment; filename="`+forecastReportID(rep)+`.csv"`)
	return c.Blob(http.StatusOK, "text/csv; charset=utf-8", mappings.ForecastCSV(rep.Subject, rep.Forecast))
}
