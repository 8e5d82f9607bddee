package gateway

import (
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/dischargegateway/gateway/auth"
	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/fhir"
	"github.com/dischargegateway/gateway/mappings"
)

// createMeasureReport is POST /fhir/MeasureReport: a capacity posting in
// the HL7 SANER shape. It is not stored as a resource of its own: it updates
// the location's capacity, whose history is what MeasureReport search
// returns, whatever shape each posting came in.
func (s *Server) createMeasureReport(c echo.Context) error {
	p := principal(c)
	if p == nil || p.Role != auth.RoleCareProvider {
		return discharge.E(discharge.KindForbidden, "", "Only a care provider posts capacity.")
	}
	body, err := s.readBody(c, "MeasureReport")
	if err != nil {
		return err
	}
	if _, err := s.validate(body, "MeasureReport"); err != nil {
		return err
	}
	posting, err := mappings.MeasureReportToCapacity(body)
	if err != nil {
		return err
	}
	cur, applied, err := s.postCapacity(c.Request().Context(), p, posting, mappings.MeasureReportPath)
	if err != nil {
		if discharge.ErrorKind(err) == discharge.KindNotFound || discharge.ErrorKind(err) == discharge.KindForbidden {
			return atExpression(err, "MeasureReport.subject")
		}
		return err
	}
	if !applied {
		c.Response().Header().Set("Warning", `199 discharge-gateway "MeasureReport.date: `+olderMessage(cur)+`"`)
	}
	id := cur.LocationID + "-v" + strconv.FormatInt(cur.Version, 10)
	c.Response().Header().Set("Location", s.baseURL(c)+"/MeasureReport/"+id)
	status := http.StatusCreated
	if !applied {
		status = http.StatusOK
	}
	return respond(c, status, mappings.CapacityToMeasureReport(cur, s.cfg.Freshness.Of(cur.AsOf, s.now())))
}

// searchMeasureReports is MeasureReport?subject=Location/{id}[&_sort=-date][&_count=n]:
// the location's capacity postings as MeasureReports, newest first, each
// tagged with its freshness.
func (s *Server) searchMeasureReports(c echo.Context) error {
	q := c.QueryParams()
	var warns discharge.Issues
	for name := range q {
		switch name {
		case "subject", "_sort", "_count", "_format":
		default:
			msg := "Unknown or unsupported search parameter '" + name + "' for MeasureReport; it was not applied."
			if preferStrict(c) {
				return discharge.E(discharge.KindNotSupported, name, msg)
			}
			warns.Warn(discharge.KindNotSupported, name, msg)
		}
	}
	if v := q.Get("_sort"); v != "" && v != "-date" {
		return discharge.E(discharge.KindNotSupported, "_sort", "MeasureReport results are sorted newest first (_sort=-date).")
	}
	subject := q.Get("subject")
	typ, id, ok := splitRef(subject)
	if !ok || typ != "Location" {
		return discharge.E(discharge.KindRequired, "subject", "subject=Location/{id} is required.")
	}
	count := 10
	if v := q.Get("_count"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return discharge.E(discharge.KindValue, "_count", "_count must be a whole number of 1 or more.")
		}
		count = min(n, 500)
	}
	hist, err := s.capacity.History(c.Request().Context(), id, int64(count))
	if err != nil {
		return err
	}
	now := s.now()
	base := s.baseURL(c)
	entries := make([]fhir.BundleEntryOut, 0, len(hist)+1)
	for _, h := range hist {
		h.LocationID = id
		entries = append(entries, fhir.BundleEntryOut{FullURL: base + "/MeasureReport/" + id + "-v" + strconv.FormatInt(h.Version, 10),
			Resource: mappings.CapacityToMeasureReport(h, s.cfg.Freshness.Of(h.AsOf, now)), SearchMode: "match"})
	}
	total := len(hist)
	if len(warns) > 0 {
		entries = append(entries, fhir.BundleEntryOut{SearchMode: "outcome", Resource: fhir.OperationOutcome(issuesToOutcome(warns, discharge.KindNotSupported))})
	}
	return respond(c, http.StatusOK, fhir.MarshalBundle("searchset", &total, nil, entries))
}

// readMeasure serves the Measure capacity reports conform to.
func (s *Server) readMeasure(c echo.Context) error {
	if c.Param("id") != "care-home-capacity" {
		return discharge.E(discharge.KindNotFound, "Measure", "No Measure with that id.")
	}
	return respond(c, http.StatusOK, mappings.CapacityMeasure())
}
