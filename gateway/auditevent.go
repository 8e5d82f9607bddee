package gateway

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/dischargegateway/gateway/auth"
	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/fhir"
)

// searchAuditEvents is GET /fhir/AuditEvent?agent=&entity=&date=, for the
// admin role only (the route table's requireRole), paged with _count and _offset like every search. Entries
// are rendered as FHIR AuditEvents: who, what (type and id), when, the
// outcome and the request id; never content. total counts every match (see
// rediscache.Audit.Search for what that costs, and its bound).
func (s *Server) searchAuditEvents(c echo.Context) error {
	vals := c.QueryParams()
	count, offset, err := pageParams(vals)
	if err != nil {
		return err
	}
	q := auth.AuditQuery{Offset: offset, Count: count}
	used := url.Values{} // the filters applied, for the paging links
	var warns discharge.Issues
	for name, vals := range vals {
		v := vals[0]
		switch name {
		case "agent":
			q.Agent = v
			used[name] = vals[:1]
		case "entity":
			q.Entity = v
			used[name] = vals[:1]
		case "date":
			for _, d := range vals {
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
			}
			used[name] = vals
		case "_count", "_offset", "_total", "_format":
			// pageParams read and checked them; a total is always counted.
		default:
			msg := "Unknown or unsupported search parameter '" + name + "' for AuditEvent; it was not applied."
			if preferStrict(c) {
				return discharge.E(discharge.KindNotSupported, name, msg)
			}
			warns.Warn(discharge.KindNotSupported, name, msg)
		}
	}
	page, err := s.sec.Audit.Search(c.Request().Context(), q)
	if err != nil {
		return err
	}
	base := s.baseURL(c)
	out := make([]fhir.BundleEntryOut, 0, len(page.Entries)+1)
	for i, e := range page.Entries {
		id := e.ID
		if id == "" {
			id = "audit-" + e.RequestID + "-" + strconv.Itoa(offset+i)
		}
		out = append(out, fhir.BundleEntryOut{FullURL: base + "/AuditEvent/" + id, Resource: auditEvent(id, e), SearchMode: "match"})
	}
	if page.Truncated {
		// Not an error: the newest matches are right, and the bound keeps one
		// admin query from reading a month of stream.
		msg := "The audit search read its limit of entries before the start of the date range: older entries are not shown"
		if page.Total < 0 {
			msg += " or counted, so the Bundle has no total"
		}
		warns.Warn(discharge.KindTooLarge, "date", msg+". Narrow the search with date=ge and date=le.")
	}
	if len(warns) > 0 {
		out = append(out, warningsEntry(warns))
	}
	var total *int
	known := page.Total
	if known >= 0 {
		total = &known
	} else {
		// Not known: a next link while the page is full.
		known = offset + len(page.Entries)
		if count > 0 && len(page.Entries) == count {
			known++
		}
	}
	links := pageLinks(base+"/AuditEvent", used, count, offset, known)
	if total == nil {
		links = slices.DeleteFunc(links, func(l fhir.Link) bool { return l.Relation == "last" })
	}
	return respond(c, http.StatusOK, fhir.MarshalBundle("searchset", total, links, out))
}

func auditEvent(id string, e auth.AuditEntry) []byte {
	outcome := "0"
	switch {
	case e.Status >= 500:
		outcome = "8"
	case e.Status >= 400:
		outcome = "4"
	}
	entity := map[string]any{"what": map[string]any{"reference": e.ResourceType}}
	if e.ResourceID != "" {
		entity["what"] = map[string]any{"reference": e.ResourceType + "/" + e.ResourceID}
	}
	ev := map[string]any{
		"resourceType": "AuditEvent",
		"id":           id,
		"type":         map[string]any{"system": "http://terminology.hl7.org/CodeSystem/audit-event-type", "code": "rest", "display": "RESTful Operation"},
		"subtype":      []any{map[string]any{"system": "http://hl7.org/fhir/restful-interaction", "code": e.Interaction}},
		"action":       e.Action,
		"recorded":     e.Time.UTC().Format(time.RFC3339Nano),
		"outcome":      outcome,
		"outcomeDesc":  "HTTP " + strconv.Itoa(e.Status),
		"agent": []any{map[string]any{
			"who":       map[string]any{"identifier": map[string]any{"system": "urn:discharge-gateway:client-id", "value": e.ClientID}},
			"requestor": true,
			"role":      []any{map[string]any{"text": string(e.Role)}},
			"name":      e.Org,
		}},
		"source": map[string]any{"observer": map[string]any{"display": "Discharge Gateway"},
			"type": []any{map[string]any{"system": "http://terminology.hl7.org/CodeSystem/security-source-type", "code": "3"}}},
		"entity": []any{entity, map[string]any{"what": map[string]any{"identifier": map[string]any{
			"system": "urn:discharge-gateway:request-id", "value": e.RequestID}}}},
	}
	b, _ := json.Marshal(ev)
	return b
}
