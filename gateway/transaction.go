package gateway

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/dischargegateway/gateway/auth"
	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/fhir"
)

// transaction handles POST /fhir with a transaction or batch Bundle.
//
// A transaction is all-or-nothing: every entry is validated, references
// between entries (urn:uuid fullUrls) are resolved and rewritten, and all
// resources are committed by the store in one atomic step. If any entry
// fails, nothing is stored and the caller gets one OperationOutcome naming
// each failing element by its Bundle path. A batch runs each entry on its
// own and reports each entry's status. A refused Bundle is audited entry
// by entry, like the entries of one that ran.
func (s *Server) transaction(c echo.Context) error {
	body, err := s.readBody(c, "Bundle")
	if err != nil {
		return err
	}
	if err := s.runBundle(c, body); err != nil {
		s.auditRefused(c, body, statusOf(toError(err).Kind))
		return err
	}
	return nil
}

// runBundle validates, authorizes and runs a transaction or batch Bundle
// and writes the response Bundle.
func (s *Server) runBundle(c echo.Context, body []byte) error {
	doc, failed, err := s.validateBundle(body)
	if err != nil {
		return err
	}
	entries, err := fhir.ParseBundleEntries(doc)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	// One Bundle writes one partition: patient data or directory entries.
	part := ""
	for i, e := range entries {
		if failed[i] != nil {
			continue
		}
		typ, _, op := entryAccess(e)
		at := fmt.Sprintf("Bundle.entry[%d].request", i)
		if err := s.allow(c, typ, op); err != nil {
			return atExpression(err, at)
		}
		if op == 'r' || op == 's' {
			continue // reads: each entry reads where the caller may read
		}
		p, err := s.writePartition(c, typ)
		if err != nil {
			return atExpression(err, at)
		}
		if part != "" && p != part {
			return discharge.E(discharge.KindNotSupported, at+".url",
				"A Bundle holds patient data or provider directory entries, not both.")
		}
		part = p
	}
	switch bt, _ := doc["type"].(string); bt {
	case "transaction":
		for attempt := 0; ; attempt++ {
			out, err := s.runTransaction(ctx, part, entries)
			if discharge.ErrorKind(err) == discharge.KindRetry && attempt < maxRetries {
				continue // a concurrent write changed what we read: plan again
			}
			if err != nil {
				return err
			}
			s.auditEntries(c, "transaction", entries, out)
			return respond(c, http.StatusOK, s.responseBundle(c, "transaction-response", out))
		}
	case "batch":
		out := s.runBatch(ctx, principal(c), part, entries, failed, s.baseURL(c))
		s.auditEntries(c, "batch", entries, out)
		return respond(c, http.StatusOK, s.responseBundle(c, "batch-response", out))
	default:
		return discharge.E(discharge.KindValue, "Bundle.type",
			"POST /fhir takes a Bundle of type transaction or batch.")
	}
}

// validateBundle validates a transaction or batch Bundle. In a batch each
// entry stands alone: when every problem lies within entries, the Bundle
// is taken, and each entry with a problem gets its own error (at its place
// in the Bundle) instead of failing the others. A transaction, and a batch
// whose Bundle itself is at fault, fail whole.
func (s *Server) validateBundle(body []byte) (map[string]any, map[int]error, error) {
	doc, err := s.validate(body, "Bundle")
	if err == nil {
		return doc, nil, nil
	}
	var de *discharge.Error
	// At the cap, issues may have been left out: there is no telling which
	// entries are sound.
	if !asError(err, &de) || statusOf(de.Kind) != http.StatusBadRequest || len(de.Issues) == 0 || len(de.Issues) >= fhir.MaxIssues {
		return nil, nil, err
	}
	d, derr := decodeDoc(body)
	if derr != nil || d["type"] != "batch" {
		return nil, nil, err
	}
	es, _ := d["entry"].([]any)
	byEntry := map[int]discharge.Issues{}
	for _, is := range de.Issues {
		n, ok := entryIndex(is.Expression)
		if !ok || n >= len(es) {
			return nil, nil, err
		}
		byEntry[n] = append(byEntry[n], is)
	}
	failed := make(map[int]error, len(byEntry))
	for n, issues := range byEntry {
		failed[n] = &discharge.Error{Kind: issues[0].Kind, Op: "batch entry", Issues: issues}
	}
	return d, failed, nil
}

// entryIndex reads n from an expression within Bundle.entry[n].
func entryIndex(expr string) (int, bool) {
	const prefix = "Bundle.entry["
	if !strings.HasPrefix(expr, prefix) {
		return 0, false
	}
	rest := expr[len(prefix):]
	end := strings.IndexByte(rest, ']')
	if end <= 0 {
		return 0, false
	}
	n, err := strconv.Atoi(rest[:end])
	if err != nil || n < 0 || (len(rest) > end+1 && rest[end+1] != '.') {
		return 0, false
	}
	return n, true
}

// entryAccess is what an entry asks of the resource its request.url names:
// its type, its id when the url names one, and the scope operation (c for
// POST, u for PUT, r for a GET of one resource, s for a GET search).
func entryAccess(e fhir.InEntry) (typ, id string, op byte) {
	u, _, hasQuery := strings.Cut(strings.TrimPrefix(e.URL, "/"), "?")
	parts := strings.Split(u, "/")
	typ = parts[0]
	if len(parts) > 1 {
		id = parts[1]
	}
	switch e.Method {
	case http.MethodPost:
		return typ, "", 'c'
	case http.MethodPut:
		return typ, id, 'u'
	case http.MethodGet, http.MethodHead:
		if len(parts) == 1 || hasQuery {
			return typ, "", 's'
		}
		return typ, id, 'r'
	}
	return typ, id, 'c'
}

// entryResult is one entry's outcome for the response Bundle.
type entryResult struct {
	o   outcome
	err error
	// read is the resource a GET entry of a batch read; searchset is the
	// Bundle a GET search entry found.
	read      *fhir.Resource
	searchset []byte
	// sameAs is set on a conditional create whose ifNoneExist repeats an
	// earlier entry's: it names that resource and is not audited again.
	sameAs bool
}

// runTransaction plans, checks and commits every entry atomically.
func (s *Server) runTransaction(ctx context.Context, part string, entries []fhir.InEntry) ([]entryResult, error) {
	results := make([]entryResult, len(entries))
	alias := map[string]string{} // fullUrl -> Type/id
	cds := make([]*candidate, 0, len(entries))
	var guards []fhir.Guard
	var problems discharge.Issues
	seen := map[string]int{}
	now := s.now()
	// Conditional creates with the same type and ifNoneExist resolve to one
	// resource: the first such entry matches or creates it, and each later
	// one refers to that result (200 OK, as a conditional create that found
	// its match). Creating one per entry would store duplicates that every
	// later conditional create then refuses as multiple matches (412). The
	// key is the type and the condition's parsed query, so spelling and
	// parameter order do not matter.
	conds := map[string]int{}       // "Type?query" -> first entry
	var sameAs [][2]int             // {entry, the earlier entry it resolves to}
	refPaths := map[string]string{} // "Type/id" -> Bundle.entry[n].resource
	entryRef := map[int]string{}    // entry -> the "Type/id" it writes or matched

	// Plan: decide every entry's id and version first, so references can be
	// rewritten before anything is validated against the store.
	type planned struct {
		i  int
		cd *candidate
	}
	var plan []planned
	for i, e := range entries {
		path := fmt.Sprintf("Bundle.entry[%d]", i)
		typ, id, err := s.entryTarget(e, path)
		if err != nil {
			return nil, err
		}
		rpath := path + ".resource"
		var doc map[string]any
		if len(e.Resource) > 0 {
			if doc, err = decodeDoc(e.Resource); err != nil {
				return nil, err
			}
		}
		switch e.Method {
		case http.MethodPost:
			if e.IfNoneExist != "" {
				key := conditionKey(typ, e.IfNoneExist)
				if j, dup := conds[key]; dup {
					sameAs = append(sameAs, [2]int{i, j})
					if e.FullURL != "" {
						alias[e.FullURL] = entryRef[j]
					}
					continue
				}
				conds[key] = i
				existing, g, err := s.conditionalMatch(ctx, part, typ, e.IfNoneExist)
				if err != nil {
					return nil, atExpression(err, path+".request.ifNoneExist")
				}
				if existing != nil {
					results[i].o = outcome{status: http.StatusOK, existing: existing}
					entryRef[i] = typ + "/" + existing.ID
					if e.FullURL != "" {
						alias[e.FullURL] = typ + "/" + existing.ID
					}
					continue
				}
				guards = append(guards, g...)
			}
			id = newID()
			cd := &candidate{typ: typ, id: id, doc: doc, version: 1, path: rpath, now: now}
			plan = append(plan, planned{i, cd})
		case http.MethodPut:
			if docID, _ := doc["id"].(string); docID != id {
				problems.Add(discharge.KindInvalid, rpath+".id", "The resource id does not match the id in request.url.")
				continue
			}
			current, err := s.currentVersion(ctx, part, typ, id)
			if err != nil {
				return nil, err
			}
			if e.IfMatch != "" {
				v, ok := parseETag(e.IfMatch)
				if !ok || v != current {
					return nil, discharge.E(discharge.KindPrecondition, path+".request.ifMatch",
						"If-Match names a version that is not the current one.")
				}
			}
			cd := &candidate{typ: typ, id: id, doc: doc, expect: current, version: current + 1, path: rpath, now: now}
			plan = append(plan, planned{i, cd})
		}
		ref := typ + "/" + id
		if j, dup := seen[ref]; dup {
			problems.Add(discharge.KindInvalid, path, fmt.Sprintf("Entry %d writes the same resource as entry %d.", i, j))
		}
		seen[ref] = i
		refPaths[ref] = rpath
		entryRef[i] = ref
		if e.FullURL != "" {
			alias[e.FullURL] = ref
		}
	}
	if err := problems.Err(discharge.KindInvalid, "transaction"); err != nil {
		return nil, err
	}
	// Rewrite references between entries, then check and map each resource
	// with the whole transaction visible.
	loc := local{}
	for _, p := range plan {
		fhir.RewriteReferences(p.cd.doc, alias)
		loc[p.cd.typ+"/"+p.cd.id] = p.cd.doc
		// A urn:uuid reference has a type only now: check it like a literal one.
		problems = append(problems, fhir.CheckReferenceTypes(p.cd.doc, p.cd.typ, p.cd.path)...)
	}
	if err := problems.Err(discharge.KindValue, "transaction"); err != nil {
		return nil, err
	}
	var failures discharge.Issues
	reported := map[discharge.Issue]bool{}
	kind := discharge.KindInvalid
	for _, p := range plan {
		if err := s.intake(ctx, part, p.cd, loc); err != nil {
			var de *discharge.Error
			if !asError(err, &de) || statusOf(de.Kind) >= 500 {
				return nil, err
			}
			if len(failures) == 0 {
				kind = de.Kind
			}
			// Each issue once, at its place in the Bundle: a problem with a
			// Patient that two entries refer to is the Patient entry's, not
			// once per entry that reached it.
			for _, is := range entryIssues(de.Issues, p.cd, refPaths) {
				if !reported[is] {
					reported[is] = true
					failures = append(failures, is)
				}
			}
			continue
		}
		if err := p.cd.finish(); err != nil {
			return nil, err
		}
		cds = append(cds, p.cd)
		results[p.i].o = outcome{status: http.StatusCreated, cd: p.cd}
		if p.cd.expect > 0 {
			results[p.i].o.status = http.StatusOK
		}
	}
	if len(failures) > 0 {
		return nil, &discharge.Error{Kind: kind, Op: "transaction", Issues: failures}
	}
	if err := s.commit(ctx, part, cds, guards); err != nil {
		return nil, err
	}
	for _, d := range sameAs {
		results[d[0]] = entryResult{o: results[d[1]].o, sameAs: true}
		results[d[0]].o.status = http.StatusOK
	}
	return results, nil
}

// conditionKey identifies a conditional create's condition: its type and
// its query, parsed and re-encoded in a canonical order.
func conditionKey(typ, cond string) string {
	vals, err := url.ParseQuery(cond)
	if err != nil {
		return typ + "?" + cond
	}
	return typ + "?" + vals.Encode()
}

// entryIssues places an entry's intake issues in the Bundle. Issues about
// the entry's own resource already carry its path (rebaseError). Issues
// about a resource it refers to (the subject Patient, rooted "Patient.")
// point at that resource's entry when the Bundle holds it, otherwise at
// the entry's reference to it; an issue with no element points at the
// entry's resource.
func entryIssues(issues discharge.Issues, cd *candidate, refPaths map[string]string) discharge.Issues {
	out := make(discharge.Issues, len(issues))
	for i, is := range issues {
		out[i] = is
		ex := is.Expression
		if ex == "" {
			out[i].Expression = cd.path
			continue
		}
		if strings.HasPrefix(ex, cd.path) {
			continue
		}
		root := ex
		if j := strings.IndexAny(ex, ".["); j >= 0 {
			root = ex[:j]
		}
		if root == "" || root[0] < 'A' || root[0] > 'Z' || root == "Bundle" {
			continue
		}
		for _, el := range []string{"subject", "encounter", "patient"} {
			ref, ok := refString(cd.doc[el])
			if !ok || !strings.HasPrefix(ref, root+"/") {
				continue
			}
			if p, ok := refPaths[ref]; ok {
				out[i].Expression = p + ex[len(root):]
			} else {
				out[i].Expression = cd.path + "." + el
			}
			break
		}
	}
	return out
}

// runBatch runs each entry independently: entries already failed (by
// validation) keep their error, GET entries are read or searched where the
// caller may read, and the rest are created or updated in part.
func (s *Server) runBatch(ctx context.Context, p *auth.Principal, part string, entries []fhir.InEntry, failed map[int]error, base string) []entryResult {
	results := make([]entryResult, len(entries))
	for i, e := range entries {
		if err := failed[i]; err != nil {
			results[i].err = err
			continue
		}
		path := fmt.Sprintf("Bundle.entry[%d]", i)
		if e.Method == http.MethodGet {
			results[i] = s.batchRead(ctx, p, e, path, base)
			continue
		}
		typ, id, err := s.entryTarget(e, path)
		if err != nil {
			results[i].err = err
			continue
		}
		doc, err := decodeDoc(e.Resource)
		if err != nil {
			results[i].err = err
			continue
		}
		rpath := path + ".resource"
		switch e.Method {
		case http.MethodPost:
			results[i].o, results[i].err = s.doCreate(ctx, part, typ, doc, e.IfNoneExist, rpath)
		case http.MethodPut:
			results[i].o, results[i].err = s.doUpdate(ctx, part, typ, id, doc, e.IfMatch, rpath)
		}
	}
	return results
}

// batchRead runs a batch's GET entry: Type/id is a read, Type/id/_history/n
// a vread, and Type or Type?query a search, each as the REST interaction
// would answer it for the caller.
func (s *Server) batchRead(ctx context.Context, p *auth.Principal, e fhir.InEntry, path, base string) entryResult {
	u, query, _ := strings.Cut(strings.TrimPrefix(e.URL, "/"), "?")
	parts := strings.Split(u, "/")
	typ := parts[0]
	bad := func() entryResult {
		return entryResult{err: discharge.E(discharge.KindNotSupported, path+".request.url",
			"A GET entry's url is Type/id, Type/id/_history/version or a search: Type?parameters.")}
	}
	if !s.types[typ] {
		return entryResult{err: discharge.E(discharge.KindNotSupported, path+".request.url",
			"This server does not serve "+strconv.Quote(typ)+".")}
	}
	switch {
	case len(parts) == 1:
		vals, err := url.ParseQuery(query)
		if err != nil {
			return entryResult{err: discharge.E(discharge.KindValue, path+".request.url", "The search query does not parse.")}
		}
		b, err := s.searchBundle(ctx, p, typ, vals, false, base)
		return entryResult{searchset: b, err: err}
	case query != "":
		return bad()
	case len(parts) == 2 && parts[1] != "":
		r, _, err := s.readFor(ctx, p, typ, parts[1])
		if err != nil {
			return entryResult{err: notFoundAt(err, typ)}
		}
		return entryResult{read: &r}
	case len(parts) == 4 && parts[1] != "" && parts[2] == "_history":
		v, err := strconv.ParseInt(parts[3], 10, 64)
		if err != nil || v < 1 {
			return entryResult{err: discharge.E(discharge.KindNotFound, typ+".meta.versionId", "No such version.")}
		}
		_, part, err := s.readFor(ctx, p, typ, parts[1])
		if err != nil {
			return entryResult{err: notFoundAt(err, typ)}
		}
		r, err := s.store.ReadVersion(ctx, part, typ, parts[1], v)
		if err != nil {
			return entryResult{err: notFoundAt(err, typ)}
		}
		return entryResult{read: &r}
	}
	return bad()
}

// entryTarget reads an entry's request.url: "Type" for POST, "Type/id" for
// PUT, and checks it against the resource it carries.
func (s *Server) entryTarget(e fhir.InEntry, path string) (typ, id string, err error) {
	u := strings.TrimPrefix(e.URL, "/")
	if i := strings.IndexByte(u, '?'); i >= 0 {
		u = u[:i]
	}
	parts := strings.Split(u, "/")
	typ = parts[0]
	if !s.types[typ] {
		return "", "", discharge.E(discharge.KindNotSupported, path+".request.url",
			"This server does not accept "+strconv.Quote(typ)+" in a transaction.")
	}
	switch {
	case e.Method != http.MethodPost && e.Method != http.MethodPut:
		return "", "", discharge.E(discharge.KindNotSupported, path+".request.method",
			"Transactions here support POST and PUT entries only; batches also GET.")
	case e.Method == http.MethodPost && len(parts) != 1:
		return "", "", discharge.E(discharge.KindValue, path+".request.url", "A POST entry's url is the resource type alone.")
	case e.Method == http.MethodPut && len(parts) != 2:
		return "", "", discharge.E(discharge.KindValue, path+".request.url", "A PUT entry's url is Type/id.")
	}
	if len(parts) == 2 {
		id = parts[1]
	}
	if len(e.Resource) == 0 {
		return "", "", discharge.E(discharge.KindRequired, path+".resource", "The entry has no resource.")
	}
	if rt := fhir.ResourceType(e.Resource); rt != typ {
		return "", "", discharge.E(discharge.KindInvalid, path+".resource.resourceType",
			"The resource type does not match request.url.")
	}
	return typ, id, nil
}

// responseBundle renders a transaction-response or batch-response.
func (s *Server) responseBundle(c echo.Context, typ string, results []entryResult) []byte {
	base := s.baseURL(c)
	entries := make([]fhir.BundleEntryOut, len(results))
	for i, r := range results {
		if r.err != nil {
			de := toError(r.err)
			entries[i].Response = &fhir.EntryResponse{
				Status:  strconv.Itoa(statusOf(de.Kind)) + " " + http.StatusText(statusOf(de.Kind)),
				Outcome: fhir.OperationOutcome(outcomeIssues(de, "")),
			}
			continue
		}
		if r.searchset != nil {
			entries[i] = fhir.BundleEntryOut{Resource: r.searchset, Response: &fhir.EntryResponse{Status: "200 OK"}}
			continue
		}
		if r.read != nil {
			entries[i] = fhir.BundleEntryOut{FullURL: base + "/" + r.read.Type + "/" + r.read.ID, Resource: r.read.JSON,
				Response: &fhir.EntryResponse{Status: "200 OK", Etag: etag(r.read.VersionID),
					Location:     fmt.Sprintf("%s/%s/_history/%d", r.read.Type, r.read.ID, r.read.VersionID),
					LastModified: r.read.LastUpdated.UTC().Format("2006-01-02T15:04:05.000Z07:00")}}
			continue
		}
		rt, id, v, _ := r.o.resource()
		resp := &fhir.EntryResponse{
			Status:   strconv.Itoa(r.o.status) + " " + http.StatusText(r.o.status),
			Location: fmt.Sprintf("%s/_history/%d", rt+"/"+id, v),
			Etag:     etag(v),
		}
		if r.o.existing != nil {
			resp.LastModified = r.o.existing.LastUpdated.UTC().Format("2006-01-02T15:04:05.000Z07:00")
		} else {
			resp.LastModified = r.o.cd.now.UTC().Format("2006-01-02T15:04:05.000Z07:00")
			if len(r.o.cd.warnings) > 0 {
				resp.Outcome = fhir.OperationOutcome(issuesToOutcome(r.o.cd.warnings, discharge.KindInternal))
			}
		}
		entries[i] = fhir.BundleEntryOut{FullURL: base + "/" + rt + "/" + id, Response: resp}
	}
	return fhir.MarshalBundle(typ, nil, nil, entries)
}

// atExpression points every issue of err at one element.
func atExpression(err error, expression string) error {
	var de *discharge.Error
	if !asError(err, &de) || len(de.Issues) == 0 {
		return err
	}
	cp := *de
	cp.Issues = make([]discharge.Issue, len(de.Issues))
	for i, is := range de.Issues {
		is.Expression = expression
		cp.Issues[i] = is
	}
	return &cp
}

// auditEntries records one audit entry per entry of a Bundle that ran: the
// resource written, matched or read, or, for an entry that failed, the
// resource its request named, with the entry's status.
func (s *Server) auditEntries(c echo.Context, interaction string, entries []fhir.InEntry, results []entryResult) {
	for i, r := range results {
		switch {
		case r.sameAs:
		case r.err != nil:
			if i < len(entries) {
				typ, id, action := s.entryAudit(entries[i].Method, entries[i].URL)
				if typ != "" {
					s.audit(c, interaction, action, typ, id, statusOf(toError(r.err).Kind))
				}
			}
		case r.searchset != nil:
			typ, _, _ := entryAccess(entries[i])
			s.audit(c, interaction, "E", typ, "", http.StatusOK)
		case r.read != nil:
			s.audit(c, interaction, "R", r.read.Type, r.read.ID, http.StatusOK)
		case r.o.cd != nil || r.o.existing != nil:
			typ, id, _, _ := r.o.resource()
			action := "C"
			if r.o.status == http.StatusOK {
				action = "U"
				if r.o.existing != nil {
					action = "R"
				}
			}
			s.audit(c, interaction, action, typ, id, r.o.status)
		}
	}
}

// auditRefused records a refused transaction or batch: one entry per entry
// of the Bundle whose request names a resource type the gateway serves,
// each with the Bundle's status. A body that is not a Bundle names nothing
// and is not recorded.
func (s *Server) auditRefused(c echo.Context, body []byte, status int) {
	doc, err := decodeDoc(body)
	if err != nil {
		return
	}
	interaction, _ := doc["type"].(string)
	if interaction != "batch" {
		interaction = "transaction"
	}
	es, _ := doc["entry"].([]any)
	for _, e := range es {
		em, _ := e.(map[string]any)
		req, _ := em["request"].(map[string]any)
		method, _ := req["method"].(string)
		u, _ := req["url"].(string)
		if typ, id, action := s.entryAudit(method, u); typ != "" {
			s.audit(c, interaction, action, typ, id, status)
		}
	}
}

// entryAudit is what an entry's request names for the audit trail: a type
// the gateway serves (else nothing), an id when the url names a well-formed
// one, and the action its method asks for.
func (s *Server) entryAudit(method, u string) (typ, id, action string) {
	typ, id, op := entryAccess(fhir.InEntry{Method: method, URL: u})
	if !s.types[typ] {
		return "", "", ""
	}
	if !fhirID.MatchString(id) {
		id = ""
	}
	action = map[byte]string{'c': "C", 'u': "U", 'r': "R", 's': "E"}[op]
	return typ, id, action
}

// fhirID is the FHIR id syntax.
var fhirID = regexp.MustCompile(`^[A-Za-z0-9.-]{1,64}$`)
