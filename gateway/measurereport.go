package gateway

import (
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/dischargegateway/gateway/capacity"
	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/fhir"
	"github.com/dischargegateway/gateway/mappings"
	"github.com/dischargegateway/gateway/records"
	"github.com/dischargegateway/gateway/sitrep"
)

// createMeasureReport is POST /fhir/MeasureReport: a capacity posting in
// the HL7 SANER shape. It is not stored as a resource of its own: it updates
// the location's capacity, whose history is what MeasureReport search
// returns, whatever shape each posting came in.
func (s *Server) createMeasureReport(c echo.Context) error {
	p := principal(c)
	body, err := s.readBody(c, "MeasureReport")
	if err != nil {
		return err
	}
	if _, err := fhir.Validate(body, "MeasureReport", s.cfg.Limits); err != nil {
		return err
	}
	posting, err := mappings.MeasureReportToCapacity(body)
	if err != nil {
		return err
	}
	posted, err := s.capacities.Post(c.Request().Context(), p, posting, mappings.MeasureReportPath)
	if err != nil {
		if k := discharge.ErrorKind(err); k == discharge.KindNotFound || k == discharge.KindForbidden {
			return records.AtExpression(err, "MeasureReport.subject")
		}
		return err
	}
	status := http.StatusCreated
	if !posted.Applied {
		status = http.StatusOK
		c.Response().Header().Set("Warning", `199 discharge-gateway "MeasureReport.date: `+posted.OlderMessage()+`"`)
	}
	c.Response().Header().Set("Location", s.baseURL(c)+"/MeasureReport/"+measureReportID(posted.View))
	return respond(c, status, mappings.CapacityToMeasureReport(posted.Capacity, posted.Freshness))
}

// measureReportID names one posting of a location's history.
func measureReportID(v capacity.View) string {
	return v.LocationID + "-v" + strconv.FormatInt(v.Version, 10)
}

// searchMeasureReports is MeasureReport?subject=Location/{id}[&_sort=-date]:
// the location's capacity postings as MeasureReports, newest first, each
// tagged with its freshness. capacity.ParseHistorySearch holds the search's
// rules; total counts every posting of the location the record applied.
//
// A search with measure= naming the sitrep Measure is the sitrep's
// (searchSitrep, under sitrep.MayRead); one naming the capacity Measure,
// or none, is the capacity history's.
func (s *Server) searchMeasureReports(c echo.Context) error {
	switch m := c.QueryParam("measure"); {
	case isSitrepMeasure(m):
		if err := sitrep.MayRead(principal(c)); err != nil {
			return err
		}
		return s.searchSitrep(c)
	case isVirtualWardMeasure(m):
		if err := sitrep.MayReadVirtualWards(principal(c)); err != nil {
			return err
		}
		return s.searchVirtualWards(c)
	case isUnmetMeasure(m):
		if err := sitrep.MayReadAggregates(principal(c)); err != nil {
			return err
		}
		return s.searchUnmet(c)
	case isForecastMeasure(m):
		if err := sitrep.MayRead(principal(c)); err != nil {
			return err
		}
		return s.searchForecast(c)
	case m == mappings.CapacityMeasureURL:
		c.QueryParams().Del("measure")
	case m != "":
		return discharge.E(discharge.KindNotFound, "measure", "measure is "+mappings.SitrepMeasureURL+", "+mappings.VirtualWardMeasureURL+", "+mappings.UnmetMeasureURL+", "+mappings.ForecastMeasureURL+" or "+mappings.CapacityMeasureURL+".")
	case c.QueryParams().Has("period"):
		return discharge.E(discharge.KindRequired, "measure", "period selects sitrep days: add measure="+mappings.SitrepMeasureURL+".")
	}
	hs, err := capacity.ParseHistorySearch(c.QueryParams(), preferStrict(c))
	if err != nil {
		return err
	}
	hist, total, err := s.capacities.History(c.Request().Context(), hs.LocationID, hs.Paging.Offset, hs.Paging.Count)
	if err != nil {
		return err
	}
	base := s.baseURL(c)
	entries := make([]fhir.BundleEntryOut, 0, len(hist)+1)
	for _, h := range hist {
		entries = append(entries, fhir.BundleEntryOut{FullURL: base + "/MeasureReport/" + measureReportID(h),
			Resource: mappings.CapacityToMeasureReport(h.Capacity, h.Freshness), SearchMode: "match"})
	}
	if len(hs.Warnings) > 0 {
		entries = append(entries, warningsEntry(hs.Warnings))
	}
	links := fhir.PageLinks(base+"/MeasureReport", hs.Used, hs.Paging, total)
	return respond(c, http.StatusOK, fhir.MarshalBundle("searchset", &total, links, entries))
}

// readMeasure serves the Measure capacity reports conform to.
func (s *Server) readMeasure(c echo.Context) error {
	switch c.Param("id") {
	case "care-home-capacity":
		return respond(c, http.StatusOK, mappings.CapacityMeasure())
	case mappings.SitrepMeasureID:
		return respond(c, http.StatusOK, mappings.SitrepMeasure())
	case mappings.VirtualWardMeasureID:
		return respond(c, http.StatusOK, mappings.VirtualWardMeasure())
	case mappings.UnmetMeasureID:
		return respond(c, http.StatusOK, mappings.UnmetMeasure())
	case mappings.ForecastMeasureID:
		return respond(c, http.StatusOK, mappings.ForecastMeasure())
	}
	return discharge.E(discharge.KindNotFound, "Measure", "No Measure with that id.")
}
