package capacity

import (
	"net/url"
	"slices"

	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/fhir"
)

// HistorySearch is a search of one location's postings, the capacity
// history that MeasureReport search returns:
// MeasureReport?subject=Location/{id}[&_sort=-date], paged.
type HistorySearch struct {
	// LocationID is the subject Location's id.
	LocationID string
	// Paging is every searchset's paging (fhir.ParsePaging).
	Paging fhir.Paging
	// Used are the parameters applied, for the page links.
	Used url.Values
	// Warnings name the parameters that were not applied.
	Warnings discharge.Issues
}

// ParseHistorySearch reads a MeasureReport search: subject=Location/{id}
// (required; any reference form fhir.SplitRef reads), _sort, which may only
// be -date (the history's one order, newest first), and the paging
// parameters. Any other parameter is refused with strict (Prefer:
// handling=strict), and otherwise ignored with a warning naming it, in
// name order. Errors are *discharge.Error naming the parameter.
func ParseHistorySearch(q url.Values, strict bool) (HistorySearch, error) {
	page, err := fhir.ParsePaging(q, fhir.DefaultCount, fhir.MaxCount)
	if err != nil {
		return HistorySearch{}, err
	}
	hs := HistorySearch{Paging: page, Used: url.Values{}}
	names := make([]string, 0, len(q))
	for name := range q {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		switch name {
		case "subject", "_sort":
			hs.Used[name] = q[name]
		case "_count", "_offset", "_total", "_format":
		default:
			msg := "Unknown or unsupported search parameter '" + name + "' for MeasureReport; it was not applied."
			if strict {
				return HistorySearch{}, discharge.E(discharge.KindNotSupported, name, msg)
			}
			hs.Warnings.Warn(discharge.KindNotSupported, name, msg)
		}
	}
	if v := q.Get("_sort"); v != "" && v != "-date" {
		return HistorySearch{}, discharge.E(discharge.KindNotSupported, "_sort", "MeasureReport results are sorted newest first (_sort=-date).")
	}
	typ, id, ok := fhir.SplitRef(q.Get("subject"))
	if !ok || typ != "Location" {
		return HistorySearch{}, discharge.E(discharge.KindRequired, "subject", "subject=Location/{id} is required.")
	}
	hs.LocationID = id
	return hs, nil
}
