package gateway

import (
	"encoding/json"
	"net/http"
	"net/url"
	"sort"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/fhir"
)

// The gateway publishes the codes it understands: its own CodeSystems and
// the ConceptMaps loaded from configs/conceptmaps, readable and searchable
// by url, and ConceptMap/$translate so a trust can check its local codes
// before it goes live.

func (s *Server) searchCodeSystems(c echo.Context) error {
	return s.searchCanonical(c, "CodeSystem", s.codeSystems)
}

func (s *Server) readCodeSystem(c echo.Context) error {
	return s.readCanonical(c, "CodeSystem", s.codeSystems)
}

func (s *Server) searchConceptMaps(c echo.Context) error {
	return s.searchCanonical(c, "ConceptMap", s.conceptMaps)
}

func (s *Server) readConceptMap(c echo.Context) error {
	return s.readCanonical(c, "ConceptMap", s.conceptMaps)
}

// canonical is a published terminology resource with its id and url.
type canonical struct {
	ID, URL string
	JSON    []byte
}

// publish indexes terminology resources by id and url. A resource without
// an id is served under the last segment of its url.
func publish(docs [][]byte) []canonical {
	out := make([]canonical, 0, len(docs))
	for _, d := range docs {
		var head struct{ ID, URL string }
		if json.Unmarshal(d, &head) != nil || head.URL == "" {
			continue
		}
		id := head.ID
		if id == "" {
			id = head.URL[strings.LastIndexByte(head.URL, '/')+1:]
		}
		out = append(out, canonical{ID: id, URL: head.URL, JSON: d})
	}
	return out
}

func (s *Server) readCanonical(c echo.Context, typ string, all []canonical) error {
	id := c.Param("id")
	for _, r := range all {
		if r.ID == id {
			return respond(c, http.StatusOK, r.JSON)
		}
	}
	return discharge.E(discharge.KindNotFound, typ, "No "+typ+" with that id.")
}

// searchCanonical searches published terminology by url. Paging follows
// the generic search: total counts every match, the links page through
// them.
func (s *Server) searchCanonical(c echo.Context, typ string, all []canonical) error {
	vals := c.QueryParams()
	page, err := fhir.ParsePaging(vals, defaultCount, maxCount)
	if err != nil {
		return err
	}
	var warns discharge.Issues
	names := make([]string, 0, len(vals))
	for name := range vals {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		switch name {
		case "url", "_format", "_count", "_offset", "_total":
		default:
			warns.Warn(discharge.KindNotSupported, name, "Unknown or unsupported search parameter '"+name+"' for "+typ+"; it was not applied.")
		}
	}
	if len(warns) > 0 && preferStrict(c) {
		return warns.Err(discharge.KindNotSupported, "search")
	}
	used := url.Values{}
	if vs, ok := vals["url"]; ok {
		used["url"] = vs
	}
	base := s.baseURL(c)
	var matches []canonical
	for _, r := range all {
		if matchesAll(r.URL, vals["url"]) {
			matches = append(matches, r)
		}
	}
	total := len(matches)
	var entries []fhir.BundleEntryOut
	if page.Offset < total {
		for _, r := range matches[page.Offset:min(addSat(page.Offset, page.Count), total)] {
			entries = append(entries, fhir.BundleEntryOut{FullURL: base + "/" + typ + "/" + r.ID, Resource: r.JSON, SearchMode: "match"})
		}
	}
	if len(warns) > 0 {
		entries = append(entries, fhir.BundleEntryOut{SearchMode: "outcome",
			Resource: fhir.OperationOutcome(issuesToOutcome(warns, discharge.KindNotSupported))})
	}
	links := fhir.PageLinks(base+"/"+typ, used, page, total)
	return respond(c, http.StatusOK, fhir.MarshalBundle("searchset", &total, links, entries))
}

// matchesAll reports whether a canonical url equals every url= value given
// (repeated parameters AND; an empty list matches everything).
func matchesAll(u string, want []string) bool {
	for _, w := range want {
		if w != "" && u != w {
			return false
		}
	}
	return true
}
