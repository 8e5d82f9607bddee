package gateway

import (
	"math"
	"net/http"
	"net/url"

	"github.com/labstack/echo/v4"

	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/fhir"
	"github.com/dischargegateway/gateway/records"
)

const (
	// defaultCount and maxCount are the paging bounds of plain searches
	// (fhir.ParsePaging documents them).
	defaultCount = fhir.DefaultCount
	maxCount     = fhir.MaxCount
)

// search is the FHIR search-type interaction (records.Service.Search).
func (s *Server) search(c echo.Context) error {
	ss, err := s.records.Search(c.Request().Context(), principal(c), endpointType(c), c.QueryParams(), preferStrict(c), s.baseURL(c))
	if err != nil {
		return err
	}
	return respond(c, http.StatusOK, searchsetBundle(ss))
}

// searchsetBundle renders a search's answer, its warnings as the outcome
// entry.
func searchsetBundle(ss records.Searchset) []byte {
	entries := ss.Entries
	if len(ss.Warnings) > 0 {
		entries = append(entries, warningsEntry(ss.Warnings))
	}
	return fhir.MarshalBundle("searchset", &ss.Total, ss.Links, entries)
}

// warningsEntry is a searchset's outcome entry (fhir.OutcomeEntry) of
// warnings, with the table's issue codes: every searchset of the gateway
// renders its warnings here.
func warningsEntry(warns discharge.Issues) fhir.BundleEntryOut {
	return fhir.OutcomeEntry(issuesToOutcome(warns, discharge.KindNotSupported))
}

// addSat is a+b for non-negative ints, saturating instead of overflowing
// (an _offset may be as large as fhir.MaxOffset).
func addSat(a, b int) int {
	if a > math.MaxInt-b {
		return math.MaxInt
	}
	return a + b
}

// pageLinks builds self, first, previous, next and last links
// (fhir.PageLinks).
func pageLinks(base string, used url.Values, count, offset int, total int) []fhir.Link {
	return fhir.PageLinks(base, used, fhir.Paging{Count: count, Offset: offset}, total)
}
