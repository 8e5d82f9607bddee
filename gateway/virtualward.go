package gateway

import (
	"net/http"
	"net/url"
	"sort"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/mappings"
	"github.com/dischargegateway/gateway/sitrep"
)

// Virtual-ward occupancy (docs/sitrep.md): MeasureReport search by the
// virtual-ward Measure, dispatched by searchMeasureReports under
// sitrep.MayReadVirtualWards, and GET /api/v1/virtual-wards.csv.
// sitrep.VirtualWards holds the rules.

// isVirtualWardMeasure reports whether a measure parameter names the
// virtual-ward Measure (its canonical URL, Measure/{id} or its id).
func isVirtualWardMeasure(m string) bool {
	return m == mappings.VirtualWardMeasureURL || strings.TrimPrefix(m, "Measure/") == mappings.VirtualWardMeasureID
}

// wardParams are the parameters a virtual-ward request reads.
var wardParams = map[string]bool{"measure": true, "subject": true, "period": true, "periodStart": true, "periodEnd": true,
	"reportType": true, "_format": true}

// wardRequest reads subject and period; other parameters are refused with
// strict handling, and otherwise ignored with a warning, in name order.
func wardRequest(q url.Values, strict bool) (sitrep.WardRequest, discharge.Issues, error) {
	var warns discharge.Issues
	names := make([]string, 0, len(q))
	for name := range q {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if !wardParams[name] {
			msg := "Unknown or unsupported parameter '" + name + "' for virtual-ward occupancy; it was not applied."
			if strict {
				return sitrep.WardRequest{}, nil, discharge.E(discharge.KindNotSupported, name, msg)
			}
			warns.Warn(discharge.KindNotSupported, name, msg)
		}
	}
	icb, loc, err := sitrep.ParseWardSubject(q)
	if err != nil {
		return sitrep.WardRequest{}, nil, err
	}
	from, to, err := sitrep.ParsePeriod(q)
	if err != nil {
		return sitrep.WardRequest{}, nil, err
	}
	return sitrep.WardRequest{ICB: icb, Location: loc, From: from, To: to}, warns, nil
}

// wardReport computes the report the request's query asks for.
func (s *Server) wardReport(c echo.Context) (sitrep.WardReport, discharge.Issues, error) {
	if s.virtualWards == nil {
		return sitrep.WardReport{}, nil, discharge.E(discharge.KindNotSupported, "", "This gateway keeps no virtual-ward figures.")
	}
	req, warns, err := wardRequest(c.QueryParams(), preferStrict(c))
	if err != nil {
		return sitrep.WardReport{}, nil, err
	}
	rep, err := s.virtualWards.Report(c.Request().Context(), principal(c), req)
	return rep, warns, err
}

func wardReportID(r sitrep.WardReport) string {
	subject := strings.ReplaceAll(r.Subject, "/", "-")
	if subject == "" {
		subject = "all"
	}
	return "virtual-wards-" + subject + "-" + r.From.String() + "-" + r.To.String()
}

// searchVirtualWards is MeasureReport?measure={virtual wards}[&subject]
// [&period]: one report, computed now, in a searchset (total 1).
func (s *Server) searchVirtualWards(c echo.Context) error {
	rep, warns, err := s.wardReport(c)
	if err != nil {
		return err
	}
	id := wardReportID(rep)
	return s.oneReport(c, id, mappings.VirtualWardsToMeasureReport(id, rep.Subject, rep.Generated, rep.VirtualWardReport), warns)
}

// virtualWardsCSV is GET /api/v1/virtual-wards.csv[?subject][&period]:
// the report one row per day and ward, ICB, district and total.
func (s *Server) virtualWardsCSV(c echo.Context) error {
	rep, _, err := s.wardReport(c)
	if err != nil {
		return err
	}
	c.Response().Header().Set("Content-Disposition", `attachment; filename="`+wardReportID(rep)+`.csv"`)
	return c.Blob(http.StatusOK, "text/csv; charset=utf-8", mappings.VirtualWardsCSV(rep.VirtualWardReport))
}

// evaluateVirtualWards is Measure/virtual-ward-occupancy/$evaluate-measure
// ?periodStart&periodEnd[&subject]: the MeasureReport itself. The route
// declares sitrep.MayRead (trusts and hubs, the same callers as
// sitrep.MayReadVirtualWards); the service checks its own rule too.
func (s *Server) evaluateVirtualWards(c echo.Context) error {
	rep, _, err := s.wardReport(c)
	if err != nil {
		return err
	}
	return respond(c, http.StatusOK, mappings.VirtualWardsToMeasureReport(wardReportID(rep), rep.Subject, rep.Generated, rep.VirtualWardReport))
}
