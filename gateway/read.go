package gateway

import (
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/fhir"
)

// read is the FHIR read interaction, with conditional read: If-None-Match
// and If-Modified-Since answer 304 when the caller's copy is current.
// HEAD is routed here too; net/http sends its headers without the body.
func (s *Server) read(c echo.Context) error {
	typ := endpointType(c)
	r, _, err := s.readAcross(c, typ, c.Param("id"))
	if err != nil {
		return notFoundAt(err, typ)
	}
	s.writeHeaders(c, typ, r.ID, r.VersionID, r.LastUpdated, false)
	if notModified(c.Request(), r) {
		return c.NoContent(http.StatusNotModified)
	}
	return respond(c, http.StatusOK, r.JSON)
}

// vread is the FHIR vread interaction. A version never changes, so the
// same conditional headers apply.
func (s *Server) vread(c echo.Context) error {
	typ := endpointType(c)
	v, err := strconv.ParseInt(c.Param("vid"), 10, 64)
	if err != nil || v < 1 {
		return discharge.E(discharge.KindNotFound, typ+".meta.versionId", "No such version.")
	}
	_, part, err := s.readAcross(c, typ, c.Param("id"))
	if err != nil {
		return notFoundAt(err, typ)
	}
	r, err := s.store.ReadVersion(c.Request().Context(), part, typ, c.Param("id"), v)
	if err != nil {
		return notFoundAt(err, typ)
	}
	s.writeHeaders(c, typ, r.ID, r.VersionID, r.LastUpdated, false)
	if notModified(c.Request(), r) {
		return c.NoContent(http.StatusNotModified)
	}
	return respond(c, http.StatusOK, r.JSON)
}

// notModified evaluates a read's preconditions as RFC 7232 §6 orders them:
// If-None-Match, when present, decides alone (weak comparison against the
// version's ETag; "*" matches any current representation); otherwise
// If-Modified-Since is true when the resource has not changed since that
// date, compared at the one-second precision of HTTP dates. A date that
// does not parse is ignored (RFC 7232 §3.3).
func notModified(req *http.Request, r fhir.Resource) bool {
	if inm := req.Header.Get("If-None-Match"); inm != "" {
		for _, tag := range strings.Split(inm, ",") {
			tag = strings.TrimSpace(tag)
			if tag == "*" {
				return true
			}
			if v, ok := parseETag(tag); ok && v == r.VersionID {
				return true
			}
		}
		return false
	}
	ims := req.Header.Get("If-Modified-Since")
	if ims == "" || r.LastUpdated.IsZero() {
		return false
	}
	since, err := http.ParseTime(ims)
	if err != nil {
		return false
	}
	return !r.LastUpdated.Truncate(time.Second).After(since)
}

// notFoundAt gives a store's not-found an issue naming the resource type.
func notFoundAt(err error, typ string) error {
	if discharge.ErrorKind(err) == discharge.KindNotFound {
		return discharge.E(discharge.KindNotFound, typ, "No "+typ+" with that id.")
	}
	return err
}

// readAcross reads typ/id from the first organisation the caller may read
// that holds it. A resource held for any other organisation is not found:
// its existence does not leak.
func (s *Server) readAcross(c echo.Context, typ, id string) (fhir.Resource, string, error) {
	for _, part := range s.readPartitions(c, typ) {
		r, err := s.store.Read(c.Request().Context(), part, typ, id)
		if err == nil {
			return r, part, nil
		}
		if discharge.ErrorKind(err) != discharge.KindNotFound {
			return fhir.Resource{}, "", err
		}
	}
	return fhir.Resource{}, "", discharge.KindOf(discharge.KindNotFound)
}

// historyParams are the parameters instance history accepts. A history
// Bundle has no place for a search outcome entry, so anything else (_since,
// _at, _list) is refused rather than silently ignored.
var historyParams = map[string]bool{"_count": true, "_offset": true, "_format": true}

// history is the FHIR history-instance interaction: a history Bundle of
// every version of one resource, newest first, paged with _count and
// _offset. It is read like read is (same partitions, same scope, same
// audit), so a resource another organisation holds is not found.
func (s *Server) history(c echo.Context) error {
	typ, id := endpointType(c), c.Param("id")
	vals := c.QueryParams()
	names := make([]string, 0, len(vals))
	for name := range vals {
		if !historyParams[name] {
			names = append(names, name)
		}
	}
	if len(names) > 0 {
		sort.Strings(names)
		var errs discharge.Issues
		for _, n := range names {
			errs.Add(discharge.KindNotSupported, n, "History here supports _count and _offset only; '"+n+"' is not supported.")
		}
		return errs.Err(discharge.KindNotSupported, "history")
	}
	page, err := fhir.ParsePaging(vals, defaultCount, maxCount)
	if err != nil {
		return err
	}
	_, part, err := s.readAcross(c, typ, id)
	if err != nil {
		return notFoundAt(err, typ)
	}
	versions, total, err := s.store.History(c.Request().Context(), part, typ, id, page.Offset, page.Count)
	if err != nil {
		return notFoundAt(err, typ)
	}
	base := s.baseURL(c)
	entries := make([]fhir.BundleEntryOut, len(versions))
	for i, r := range versions {
		entries[i] = historyEntry(base, r)
	}
	links := fhir.PageLinks(fmt.Sprintf("%s/%s/%s/_history", base, typ, id), nil, page, total)
	return respond(c, http.StatusOK, fhir.MarshalBundle("history", &total, links, entries))
}

// historyEntry is one version in a history Bundle, with the request and
// response FHIR requires of history entries (Bundle.entry.request,
// Bundle.entry.response). The store keeps versions, not how each was
// made, so version 1 is shown as the create (POST Type, 201) and every
// later one as an update (PUT Type/id, 200).
func historyEntry(base string, r fhir.Resource) fhir.BundleEntryOut {
	req := &fhir.EntryRequest{Method: http.MethodPut, URL: r.Type + "/" + r.ID}
	status := http.StatusOK
	if r.VersionID == 1 {
		req = &fhir.EntryRequest{Method: http.MethodPost, URL: r.Type}
		status = http.StatusCreated
	}
	return fhir.BundleEntryOut{
		FullURL:  base + "/" + r.Type + "/" + r.ID,
		Resource: r.JSON,
		Request:  req,
		Response: &fhir.EntryResponse{
			Status:       strconv.Itoa(status) + " " + http.StatusText(status),
			Location:     fmt.Sprintf("%s/%s/_history/%d", r.Type, r.ID, r.VersionID),
			Etag:         etag(r.VersionID),
			LastModified: r.LastUpdated.UTC().Format(time.RFC3339Nano),
		},
	}
}

// historyNotSupported answers type-level and system-level history: the
// store keeps each resource's versions but no timeline across resources,
// so these are 405 (not-supported), never a misleading 404.
func (s *Server) historyNotSupported(c echo.Context) error {
	c.Response().Header().Set("Allow", "")
	return discharge.E(discharge.KindMethodNotAllowed, "",
		"History is supported per resource only: GET [type]/[id]/_history.")
}
