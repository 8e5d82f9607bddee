// Package audittrail is the application service behind the audit trail's
// search (GET /fhir/AuditEvent, admin only): its parameter rules, the page
// it asks the audit log for, and the page's links and total. Rendering an
// entry as a FHIR AuditEvent is mappings.AuditEvent; the route table
// decides who may search.
//
// The service speaks neither HTTP nor Redis: the log is an interface
// declared here (auth.AuditLog, kept by adapters/rediscache or
// adapters/sqlstore, satisfies it).
package audittrail

import (
	"context"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/dischargegateway/gateway/auth"
	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/fhir"
)

// Log is the audit log the trail is read from.
type Log interface {
	// Search returns one page of the entries matching q, newest first, and
	// how many match in all (auth.AuditLog.Search).
	Search(ctx context.Context, q auth.AuditQuery) (auth.AuditPage, error)
}

// Service searches the audit trail.
type Service struct{ log Log }

// New returns the service reading log.
func New(log Log) *Service { return &Service{log: log} }

// Page is one page of an audit search.
type Page struct {
	// Entries are the matches, newest first, each with its ID set: the
	// log's own, or one derived from the request id and the position when
	// the log has none.
	Entries []auth.AuditEntry
	// Total counts every match; nil when the log stopped at its bound and
	// could not count them (auth.AuditPage.Total -1).
	Total *int
	// Paging is the page asked for (fhir.ParsePaging with the plain search
	// bounds).
	Paging fhir.Paging
	// Applied holds the filters applied, for the paging links.
	Applied url.Values
}

// Search reads the page of the audit trail vals ask for, newest first.
//
// The filters are agent (client id or organisation), entity ("Type/id" or
// "Type") and date (eq, ge, gt, le or lt a FHIR date or dateTime, repeatable);
// _count, _offset and _total are every searchset's paging rule. Any other
// parameter is refused when strict (Prefer: handling=strict) and otherwise
// ignored with a warning. A search that stopped at the log's bound is
// answered, with a KindTooLarge warning at date.
func (s *Service) Search(ctx context.Context, vals url.Values, strict bool) (Page, discharge.Issues, error) {
	if s.log == nil {
		return Page{}, nil, discharge.E(discharge.KindNotSupported, "AuditEvent", "This gateway keeps no audit log to search.")
	}
	paging, err := fhir.ParsePaging(vals, fhir.DefaultCount, fhir.MaxCount)
	if err != nil {
		return Page{}, nil, err
	}
	q, applied, warns, err := parseQuery(vals, strict)
	if err != nil {
		return Page{}, nil, err
	}
	q.Offset, q.Count = paging.Offset, paging.Count
	res, err := s.log.Search(ctx, q)
	if err != nil {
		return Page{}, nil, err
	}
	for i := range res.Entries {
		if res.Entries[i].ID == "" {
			res.Entries[i].ID = "audit-" + res.Entries[i].RequestID + "-" + strconv.Itoa(paging.Offset+i)
		}
	}
	page := Page{Entries: res.Entries, Paging: paging, Applied: applied}
	if res.Total >= 0 {
		total := res.Total
		page.Total = &total
	}
	if res.Truncated {
		// Not an error: the newest matches are right, and the bound keeps one
		// admin query from reading a month of stream.
		msg := "The audit search read its limit of entries before the start of the date range: older entries are not shown"
		if page.Total == nil {
			msg += " or counted, so the Bundle has no total"
		}
		warns.Warn(discharge.KindTooLarge, "date", msg+". Narrow the search with date=ge and date=le.")
	}
	return page, warns, nil
}

// parseQuery reads the filters of vals, in the order of their names so
// that the first problem reported does not depend on map order.
func parseQuery(vals url.Values, strict bool) (q auth.AuditQuery, applied url.Values, warns discharge.Issues, err error) {
	applied = url.Values{}
	names := make([]string, 0, len(vals))
	for name := range vals {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		vs := vals[name]
		if len(vs) == 0 {
			continue
		}
		switch name {
		case "agent":
			q.Agent, applied[name] = vs[0], vs[:1]
		case "entity":
			q.Entity, applied[name] = vs[0], vs[:1]
		case "date":
			for _, d := range vs {
				if err := dateBound(&q, d); err != nil {
					return q, nil, nil, err
				}
			}
			applied[name] = vs
		case "_count", "_offset", "_total", "_format":
			// fhir.ParsePaging read and checked them; a total is always
			// counted. _format is content negotiation's.
		default:
			msg := "Unknown or unsupported search parameter '" + name + "' for AuditEvent; it was not applied."
			if strict {
				return q, nil, nil, discharge.E(discharge.KindNotSupported, name, msg)
			}
			warns.Warn(discharge.KindNotSupported, name, msg)
		}
	}
	return q, applied, warns, nil
}

// dateBound narrows q by one date parameter value: an optional prefix (eq
// when none) and a FHIR date or dateTime, whose range is its precision.
func dateBound(q *auth.AuditQuery, d string) error {
	prefix, val := "eq", d
	if len(d) > 2 && d[0] >= 'a' && d[0] <= 'z' {
		prefix, val = d[:2], d[2:]
	}
	lo, hi, err := fhir.ParseFHIRDateRange(val)
	if err != nil {
		return discharge.E(discharge.KindValue, "date", "Not a FHIR date.")
	}
	// Whole seconds: nanoseconds since 1970 overflow int64 after 2262.
	from, to := time.Unix(int64(lo), 0), time.Unix(int64(hi)+1, 0)
	switch prefix {
	case "eq":
		q.From, q.To = from, to
	case "ge", "gt":
		q.From = from
	case "le", "lt":
		q.To = to
	default:
		return discharge.E(discharge.KindNotSupported, "date", "Use eq, ge, gt, le or lt.")
	}
	return nil
}

// LinkTotal is the number of matches the paging links are built over: the
// total when it is known; otherwise the matches up to this page, and one
// more while the page is full, so that there is a next link.
func (p Page) LinkTotal() int {
	if p.Total != nil {
		return *p.Total
	}
	known := p.Paging.Offset + len(p.Entries)
	if p.Paging.Count > 0 && len(p.Entries) == p.Paging.Count {
		known++
	}
	return known
}

// Links are the page's self, first, previous and next links
// (fhir.PageLinks) under base, the search's URL without a query, and a
// last link only when the total is known.
func (p Page) Links(base string) []fhir.Link {
	links := fhir.PageLinks(base, p.Applied, p.Paging, p.LinkTotal())
	if p.Total == nil {
		links = slices.DeleteFunc(links, func(l fhir.Link) bool { return l.Relation == "last" })
	}
	return links
}
