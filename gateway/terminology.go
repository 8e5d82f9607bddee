package gateway

import (
	"net/http"
	"net/url"
	"sort"

	"github.com/labstack/echo/v4"

	"github.com/dischargegateway/gateway/conformance"
	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/fhir"
)

// The gateway publishes the codes it understands: its own CodeSystems and
// the ConceptMaps loaded from configs/conceptmaps, readable and searchable
// by url, and ConceptMap/$translate so a trust can check its local codes
// before it goes live.

func (s *Server) searchCodeSystems(c echo.Context) error {
	return s.searchCanonical(c, conformance.CodeSystem)
}

func (s *Server) readCodeSystem(c echo.Context) error {
	return s.readCanonical(c, conformance.CodeSystem)
}

func (s *Server) searchConceptMaps(c echo.Context) error {
	return s.searchCanonical(c, conformance.ConceptMap)
}

func (s *Server) readConceptMap(c echo.Context) error {
	return s.readCanonical(c, conformance.ConceptMap)
}

func (s *Server) readCanonical(c echo.Context, typ string) error {
	out, err := s.conformance.Read(typ, c.Param("id"))
	if err != nil {
		return err
	}
	return respond(c, http.StatusOK, out)
}

// searchCanonical searches published terminology by url. Paging follows
// the generic search: total counts every match, the links page through
// them.
func (s *Server) searchCanonical(c echo.Context, typ string) error {
	vals := c.QueryParams()
	page, err := fhir.ParsePaging(vals, defaultCount, maxCount)
	if err != nil {
		return err
	}
	// An unknown parameter is a warning entry, or with Prefer:
	// handling=strict an error (the search is refused, not run unfiltered).
	var warns discharge.Issues
	strict := preferStrict(c)
	names := make([]string, 0, len(vals))
	for name := range vals {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		switch name {
		case "url", "_format", "_count", "_offset", "_total":
		default:
			msg := "Unknown or unsupported search parameter '" + name + "' for " + typ
			if strict {
				warns.Add(discharge.KindNotSupported, name, msg+".")
			} else {
				warns.Warn(discharge.KindNotSupported, name, msg+"; it was not applied.")
			}
		}
	}
	if err := warns.Err(discharge.KindNotSupported, "search"); err != nil {
		return err
	}
	used := url.Values{}
	if vs, ok := vals["url"]; ok {
		used["url"] = vs
	}
	base := s.baseURL(c)
	matches := s.conformance.Search(typ, vals["url"])
	total := len(matches)
	var entries []fhir.BundleEntryOut
	if page.Offset < total {
		for _, r := range matches[page.Offset:min(addSat(page.Offset, page.Count), total)] {
			entries = append(entries, fhir.BundleEntryOut{FullURL: base + "/" + typ + "/" + r.ID, Resource: r.JSON, SearchMode: "match"})
		}
	}
	if len(warns) > 0 {
		entries = append(entries, warningsEntry(warns))
	}
	links := fhir.PageLinks(base+"/"+typ, used, page, total)
	return respond(c, http.StatusOK, fhir.MarshalBundle("searchset", &total, links, entries))
}
