package gateway

import (
	"bytes"
	"context"
	"encoding/json"
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

// maxRetries bounds the optimistic-concurrency retry loops: a write that
// loses a race re-reads and tries again this many times before giving up.
const maxRetries = 8

// candidate is one resource on its way into the store.
type candidate struct {
	typ, id  string
	doc      map[string]any
	expect   int64 // version that must be current; 0 = must not exist
	version  int64
	json     []byte
	index    []fhir.IndexEntry
	warnings discharge.Issues
	path     string // FHIRPath prefix of the resource: "Encounter" or "Bundle.entry[2].resource"
	now      time.Time
}

// decodeDoc decodes validated JSON keeping numbers exact (FHIR decimals keep
// their precision: 1.50 stays 1.50).
func decodeDoc(raw []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var doc map[string]any
	if err := dec.Decode(&doc); err != nil {
		return nil, discharge.E(discharge.KindStructure, "", "The body is not a JSON object.")
	}
	return doc, nil
}

// encodeDoc writes a resource with resourceType, id and meta first, the way
// people expect to read FHIR JSON, and without HTML escaping.
func encodeDoc(doc map[string]any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	keys := make([]string, 0, len(doc))
	for k := range doc {
		keys = append(keys, k)
	}
	rank := func(k string) int {
		switch k {
		case "resourceType":
			return 0
		case "id":
			return 1
		case "meta":
			return 2
		}
		return 3
	}
	sort.Slice(keys, func(i, j int) bool {
		ri, rj := rank(keys[i]), rank(keys[j])
		if ri != rj {
			return ri < rj
		}
		return keys[i] < keys[j]
	})
	out := []byte{'{'}
	for i, k := range keys {
		if i > 0 {
			out = append(out, ',')
		}
		kb, _ := json.Marshal(k)
		out = append(out, kb...)
		out = append(out, ':')
		buf.Reset()
		if err := enc.Encode(doc[k]); err != nil {
			return nil, discharge.Wrap(discharge.KindInternal, "encode", err)
		}
		out = append(out, bytes.TrimRight(buf.Bytes(), "\n")...)
	}
	return append(out, '}'), nil
}

// finish stamps id, meta.versionId and meta.lastUpdated on the candidate,
// encodes it and computes its index entries.
func (cd *candidate) finish() error {
	now := cd.now
	cd.doc["id"] = cd.id
	meta, _ := cd.doc["meta"].(map[string]any)
	if meta == nil {
		meta = map[string]any{}
	}
	meta["versionId"] = strconv.FormatInt(cd.version, 10)
	meta["lastUpdated"] = now.UTC().Format(time.RFC3339Nano)
	cd.doc["meta"] = meta
	raw, err := encodeDoc(cd.doc)
	if err != nil {
		return err
	}
	cd.json = raw
	cd.index = fhir.IndexEntries(cd.typ, cd.doc)
	return nil
}

func (cd *candidate) write() fhir.Write {
	return fhir.Write{
		Resource:      fhir.Resource{Type: cd.typ, ID: cd.id, VersionID: cd.version, LastUpdated: cd.now, JSON: cd.json},
		ExpectVersion: cd.expect,
		Index:         cd.index,
	}
}

// baseURL is the absolute base of the FHIR endpoint, for fullUrl and Location.
func (s *Server) baseURL(c echo.Context) string {
	if s.cfg.BaseURL != "" {
		return strings.TrimRight(s.cfg.BaseURL, "/")
	}
	return c.Scheme() + "://" + c.Request().Host + "/fhir"
}

// incoming reads, validates and decodes the resource a create or update
// sends, and names the partition it will be written to.
func (s *Server) incoming(c echo.Context) (typ string, doc map[string]any, part string, err error) {
	typ = endpointType(c)
	body, err := s.readBody(c, typ)
	if err != nil {
		return "", nil, "", err
	}
	if doc, err = s.validate(body, typ); err != nil {
		return "", nil, "", err
	}
	part, err = s.writePartition(c, typ)
	return typ, doc, part, err
}

// validate runs the FHIR validator on one resource body of an expected type.
func (s *Server) validate(raw []byte, typ string) (map[string]any, error) {
	if _, err := fhir.Validate(raw, typ, s.cfg.Limits); err != nil {
		return nil, err
	}
	return decodeDoc(raw)
}

// local holds the resources of one transaction by their final reference
// ("Patient/abc"), so references between entries resolve before commit.
type local map[string]map[string]any

// lookup finds a referenced resource in the transaction or the store.
func (s *Server) lookup(ctx context.Context, part, ref string, loc local) (map[string]any, error) {
	if d, ok := loc[ref]; ok {
		return d, nil
	}
	typ, id, ok := splitRef(ref)
	if !ok || !s.types[typ] {
		return nil, discharge.KindOf(discharge.KindNotFound)
	}
	r, err := s.store.Read(ctx, part, typ, id)
	if err != nil {
		return nil, err
	}
	return decodeDoc(r.JSON)
}

// splitRef splits a relative reference "Type/id" (any base URL stripped,
// _history ignored).
func splitRef(ref string) (typ, id string, ok bool) {
	if i := strings.Index(ref, "/_history/"); i >= 0 {
		ref = ref[:i]
	}
	parts := strings.Split(ref, "/")
	if len(parts) < 2 {
		return "", "", false
	}
	typ, id = parts[len(parts)-2], parts[len(parts)-1]
	if typ == "" || id == "" {
		return "", "", false
	}
	return typ, id, true
}

// checkRefs makes sure the subject and encounter references of a resource
// resolve, in the transaction or in the store.
func (s *Server) checkRefs(ctx context.Context, part string, cd *candidate, loc local) error {
	var issues discharge.Issues
	for _, el := range []string{"subject", "encounter"} {
		ref, ok := refString(cd.doc[el])
		if !ok {
			continue
		}
		expr := cd.path + "." + el
		if strings.HasPrefix(ref, "#") {
			continue // contained: validated with the resource
		}
		if strings.HasPrefix(ref, "urn:uuid:") || strings.HasPrefix(ref, "urn:oid:") {
			issues = append(issues, discharge.Issue{Kind: discharge.KindNotFound, Expression: expr + ".reference",
				Message: "The reference names a fullUrl that is not in this Bundle."})
			continue
		}
		if strings.Contains(ref, "://") {
			if s.cfg.BaseURL == "" || !strings.HasPrefix(ref, s.cfg.BaseURL+"/") {
				issues = append(issues, discharge.Issue{Kind: discharge.KindNotFound, Expression: expr + ".reference",
					Message: "The reference points to another server; the gateway needs the referenced resource itself (a relative reference)."})
				continue
			}
			ref = strings.TrimPrefix(ref, s.cfg.BaseURL+"/")
		}
		if _, err := s.lookup(ctx, part, ref, loc); err != nil {
			if discharge.ErrorKind(err) != discharge.KindNotFound {
				return err
			}
			issues = append(issues, discharge.Issue{Kind: discharge.KindNotFound, Expression: expr + ".reference",
				Message: "The referenced resource does not exist on this server."})
		}
	}
	return issues.Err(discharge.KindBusinessRule, "references")
}

// refString returns a Reference's reference string.
func refString(v any) (string, bool) {
	m, ok := v.(map[string]any)
	if !ok {
		return "", false
	}
	r, ok := m["reference"].(string)
	return r, ok && r != ""
}

// commit stores candidates atomically.
func (s *Server) commit(ctx context.Context, part string, cds []*candidate, guards []fhir.Guard) error {
	ws := make([]fhir.Write, len(cds))
	for i, cd := range cds {
		ws[i] = cd.write()
	}
	if err := s.store.Commit(ctx, part, ws, guards); err != nil {
		return err
	}
	s.indexLocations(ctx, cds) // directory Locations go into the geo index behind near
	return nil
}

// writeHeaders sets the ETag, Location and Last-Modified of a stored version.
func (s *Server) writeHeaders(c echo.Context, typ, id string, version int64, lastUpdated time.Time, location bool) {
	h := c.Response().Header()
	h.Set("ETag", etag(version))
	h.Set("Last-Modified", lastUpdated.UTC().Format(http.TimeFormat))
	if location {
		h.Set("Location", fmt.Sprintf("%s/%s/%s/_history/%d", s.baseURL(c), typ, id, version))
	}
}

func etag(v int64) string { return `W/"` + strconv.FormatInt(v, 10) + `"` }

// parseETag reads W/"3" or "3" as version 3.
func parseETag(v string) (int64, bool) {
	v = strings.TrimSpace(v)
	v = strings.TrimPrefix(v, "W/")
	v = strings.Trim(v, `"`)
	n, err := strconv.ParseInt(v, 10, 64)
	return n, err == nil && n > 0
}

// reply writes a stored resource honouring Prefer: return=.
func (s *Server) reply(c echo.Context, status int, cd *candidate) error {
	if len(cd.warnings) > 0 {
		c.Response().Header().Set("Warning", warningHeader(cd.warnings))
	}
	switch preferReturn(c) {
	case "minimal":
		return c.NoContent(status)
	case "OperationOutcome":
		issues := issuesToOutcome(cd.warnings, discharge.KindInternal)
		if len(issues) == 0 {
			issues = []fhir.OutcomeIssue{{Severity: "information", Code: "informational", Diagnostics: "All OK"}}
		}
		return respond(c, status, fhir.OperationOutcome(issues))
	}
	return respond(c, status, cd.json)
}

func preferReturn(c echo.Context) string {
	for _, p := range strings.Split(c.Request().Header.Get("Prefer"), ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
		if strings.EqualFold(k, "return") {
			return strings.Trim(v, `"`)
		}
	}
	return ""
}

func preferStrict(c echo.Context) bool { return preferHandling(c) == "strict" }

// preferHandling is the Prefer header's handling preference in lower case
// ("strict", "lenient"), or "" when the request states none.
func preferHandling(c echo.Context) string {
	for _, p := range strings.Split(c.Request().Header.Get("Prefer"), ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
		if strings.EqualFold(k, "handling") {
			return strings.ToLower(strings.Trim(v, `"`))
		}
	}
	return ""
}

// warningHeader summarises warnings in an RFC 7234 Warning header, for
// clients that did not ask for an OperationOutcome.
func warningHeader(ws discharge.Issues) string {
	parts := make([]string, 0, len(ws))
	for _, w := range ws {
		msg := strings.ReplaceAll(w.Message, `"`, "'")
		parts = append(parts, `199 discharge-gateway "`+w.Expression+": "+msg+`"`)
	}
	return strings.Join(parts, ", ")
}

func itoa(i int) string { return strconv.Itoa(i) }
