package gateway

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

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
// own and reports each entry's status.
func (s *Server) transaction(c echo.Context) error {
	body, err := s.readBody(c, "Bundle")
	if err != nil {
		return err
	}
	doc, err := s.validate(body, "Bundle")
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
		op := byte('c')
		if e.Method == http.MethodPut {
			op = 'u'
		}
		typ, _, _ := strings.Cut(strings.TrimPrefix(e.URL, "/"), "/")
		at := fmt.Sprintf("Bundle.entry[%d].request", i)
		if err := s.allow(c, typ, op); err != nil {
			return atExpression(err, at)
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
			s.auditEntries(c, "transaction", out)
			return respond(c, http.StatusOK, s.responseBundle(c, "transaction-response", out))
		}
	case "batch":
		out := s.runBatch(ctx, part, entries)
		s.auditEntries(c, "batch", out)
		return respond(c, http.StatusOK, s.responseBundle(c, "batch-response", out))
	default:
		return discharge.E(discharge.KindValue, "Bundle.type",
			"POST /fhir takes a Bundle of type transaction or batch.")
	}
}

// entryResult is one entry's outcome for the response Bundle.
type entryResult struct {
	o   outcome
	err error
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
		default:
			problems.Add(discharge.KindNotSupported, path+".request.method",
				"Transactions here support POST and PUT entries only.")
			continue
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

// runBatch runs each entry independently.
func (s *Server) runBatch(ctx context.Context, part string, entries []fhir.InEntry) []entryResult {
	results := make([]entryResult, len(entries))
	for i, e := range entries {
		path := fmt.Sprintf("Bundle.entry[%d]", i)
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
		default:
			results[i].err = discharge.E(discharge.KindNotSupported, path+".request.method",
				"Batches here support POST and PUT entries only.")
		}
	}
	return results
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

// auditEntries records one audit entry per written or matched resource.
func (s *Server) auditEntries(c echo.Context, interaction string, results []entryResult) {
	for _, r := range results {
		if r.err != nil || r.sameAs || (r.o.cd == nil && r.o.existing == nil) {
			continue
		}
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
