package records

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/dischargegateway/gateway/auth"
	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/fhir"
	"github.com/dischargegateway/gateway/mappings"
)

// Access is what one Bundle entry touched, for the audit trail: the action
// (C create, R read, U update, E search or operation), the resource type,
// and the id where one is known.
type Access struct {
	Action, Type, ID string
}

// EntryResult is one entry's outcome in a transaction or batch: a write
// (Outcome), a read (Read with Outcome.Resource), a search (Searchset), or
// a failure (Err, rendered by the gateway as the entry's status and
// OperationOutcome).
type EntryResult struct {
	Outcome
	Read      bool
	Searchset *Searchset
	Err       error
	// Access is what the entry touched or asked for.
	Access Access
	// SameAs is set on a conditional create whose ifNoneExist repeats an
	// earlier entry's: it names that resource and is not audited again.
	SameAs bool
}

// BundleResult is what a transaction or batch did.
type BundleResult struct {
	// Interaction is "transaction" or "batch".
	Interaction string
	// Entries holds each entry's result, in the Bundle's order.
	Entries []EntryResult
	// Refused names what each entry asked for when the Bundle was refused
	// whole (an error returned), for the audit trail: the served types
	// the entries' request.url name. Empty for a body that is no Bundle.
	// Access.Type is "" on an entry of Entries that names no served type.
	Refused []Access
}

// Bundle handles a transaction or batch Bundle (POST [base]).
//
// A transaction is all-or-nothing: every entry is validated, references
// between entries (urn:uuid fullUrls) are resolved and rewritten, and all
// resources are committed by the store in one atomic step. If any entry
// fails, nothing is stored and the error names each failing element by its
// Bundle path. A batch runs each entry on its own, a GET entry as a read or
// search, and reports each entry's result; an entry that is not valid FHIR
// fails alone.
func (s *Service) Bundle(ctx context.Context, p *auth.Principal, body []byte, base string) (BundleResult, error) {
	res, err := s.bundle(ctx, p, body, base)
	if err != nil {
		res.Interaction, res.Refused = s.refused(body)
	}
	return res, err
}

func (s *Service) bundle(ctx context.Context, p *auth.Principal, body []byte, base string) (BundleResult, error) {
	doc, failed, err := s.validateBundle(body)
	if err != nil {
		return BundleResult{}, err
	}
	entries, err := fhir.BundleEntries(doc)
	if err != nil {
		return BundleResult{}, err
	}
	// One Bundle writes one partition: patient data or directory entries.
	part := ""
	for i, e := range entries {
		if failed[i] != nil {
			continue
		}
		typ, _, op := entryAccess(e)
		at := fmt.Sprintf("Bundle.entry[%d].request", i)
		if err := Allow(p, typ, op); err != nil {
			return BundleResult{}, AtExpression(err, at)
		}
		if op == 'r' || op == 's' {
			continue // reads: each entry reads where the caller may read
		}
		wp, err := WritePartition(p, typ)
		if err != nil {
			return BundleResult{}, AtExpression(err, at)
		}
		if part != "" && wp != part {
			return BundleResult{}, discharge.E(discharge.KindNotSupported, at+".url",
				"A Bundle holds patient data or provider directory entries, not both.")
		}
		part = wp
	}
	var out []EntryResult
	switch fhir.BundleType(doc) {
	case "transaction":
		for attempt := 0; ; attempt++ {
			out, err = s.runTransaction(ctx, p, part, entries)
			if discharge.ErrorKind(err) == discharge.KindRetry && attempt < maxRetries {
				// A concurrent write changed what we read: plan again, from
				// the entries as sent (this attempt stamped its documents
				// and rewrote their references). Rare, so the common path
				// keeps the validator's documents without a copy.
				if entries, err = s.freshEntries(body); err != nil {
					return BundleResult{}, err
				}
				continue
			}
			if err != nil {
				return BundleResult{}, err
			}
			break
		}
	case "batch":
		out = s.runBatch(ctx, p, part, entries, failed, base)
	default:
		return BundleResult{}, discharge.E(discharge.KindValue, "Bundle.type",
			"POST /fhir takes a Bundle of type transaction or batch.")
	}
	for i := range out {
		out[i].Access = s.access(entries[i], out[i])
	}
	return BundleResult{Interaction: fhir.BundleType(doc), Entries: out}, nil
}

// freshEntries decodes a transaction's entries again from the body, for a
// retry (the body has been validated: this is decoding only).
func (s *Service) freshEntries(body []byte) ([]fhir.InEntry, error) {
	doc, err := fhir.DecodeDoc(body)
	if err != nil {
		return nil, err
	}
	return fhir.BundleEntries(doc)
}

// access is what an entry touched: the resource written, matched or read,
// the type searched, or what a failed entry's request named.
func (s *Service) access(e fhir.InEntry, r EntryResult) Access {
	switch {
	case r.Err != nil:
		return s.entryAudit(e.Method, e.URL)
	case r.Searchset != nil:
		typ, _, _ := entryAccess(e)
		return Access{Action: "E", Type: typ}
	case r.Read:
		return Access{Action: "R", Type: r.Resource.Type, ID: r.Resource.ID}
	}
	action := "C"
	if r.Status == http.StatusOK {
		action = "U"
		if r.Matched {
			action = "R"
		}
	}
	return Access{Action: action, Type: r.Resource.Type, ID: r.Resource.ID}
}

// validateBundle validates a transaction or batch Bundle. In a batch each
// entry stands alone: when every problem lies within entries, the Bundle
// is taken, and each entry with a problem gets its own error (at its place
// in the Bundle) instead of failing the others. A transaction, and a batch
// whose Bundle itself is at fault, fail whole.
func (s *Service) validateBundle(body []byte) (map[string]any, map[int]error, error) {
	doc, err := s.validate(body, "Bundle")
	if err == nil {
		return doc, nil, nil
	}
	var de *discharge.Error
	// At the cap, issues may have been left out: there is no telling which
	// entries are sound.
	if !errors.As(err, &de) || !inputKind(de.Kind) || len(de.Issues) == 0 || len(de.Issues) >= fhir.MaxIssues {
		return nil, nil, err
	}
	d, derr := fhir.DecodeDoc(body)
	if derr != nil || fhir.BundleType(d) != "batch" {
		return nil, nil, err
	}
	entries := fhir.BundleEntryCount(d)
	byEntry := map[int]discharge.Issues{}
	for _, is := range de.Issues {
		n, ok := entryIndex(is.Expression)
		if !ok || n >= entries {
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

// inputKind reports whether the validator's error is about the content
// (what one entry may carry alone), not its size or encoding.
func inputKind(k discharge.Kind) bool {
	switch k {
	case discharge.KindInvalid, discharge.KindStructure, discharge.KindRequired, discharge.KindValue,
		discharge.KindCodeInvalid, discharge.KindNotSupported:
		return true
	}
	return false
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
	digits := rest[:end]
	// The validator writes indexes as plain decimals: no sign, no leading zero.
	if (len(digits) > 1 && digits[0] == '0') || strings.TrimLeft(digits, "0123456789") != "" {
		return 0, false
	}
	n, err := strconv.Atoi(digits)
	if err != nil || (len(rest) > end+1 && rest[end+1] != '.') {
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

// refused names what the entries of a refused Bundle asked for: each entry
// whose request names a served type, and the interaction ("batch" when
// the Bundle says so, else "transaction"). A body that is not a Bundle
// names nothing.
func (s *Service) refused(body []byte) (string, []Access) {
	doc, err := fhir.DecodeDoc(body)
	if err != nil {
		return "transaction", nil
	}
	interaction := "transaction"
	if fhir.BundleType(doc) == "batch" {
		interaction = "batch"
	}
	var out []Access
	for _, req := range fhir.EntryRequests(doc) {
		if a := s.entryAudit(req.Method, req.URL); a.Type != "" {
			out = append(out, a)
		}
	}
	return interaction, out
}

// entryAudit is what an entry's request names for the audit trail: a type
// the service keeps (else nothing), an id when the url names a well-formed
// one, and the action its method asks for.
func (s *Service) entryAudit(method, u string) Access {
	typ, id, op := entryAccess(fhir.InEntry{Method: method, URL: u})
	if !s.types[typ] {
		return Access{}
	}
	if !fhirID.MatchString(id) {
		id = ""
	}
	return Access{Action: map[byte]string{'c': "C", 'u': "U", 'r': "R", 's': "E"}[op], Type: typ, ID: id}
}

// fhirID is the FHIR id syntax.
var fhirID = regexp.MustCompile(`^[A-Za-z0-9.-]{1,64}$`)

// runTransaction plans, checks and commits every entry atomically.
func (s *Service) runTransaction(ctx context.Context, caller *auth.Principal, part string, entries []fhir.InEntry) ([]EntryResult, error) {
	results := make([]EntryResult, len(entries))
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
		doc := e.Doc // as the validator decoded it: the one form to the store
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
					return nil, AtExpression(err, path+".request.ifNoneExist")
				}
				if existing != nil {
					results[i].Outcome = Outcome{Status: http.StatusOK, Resource: *existing, Matched: true}
					entryRef[i] = typ + "/" + existing.ID
					if e.FullURL != "" {
						alias[e.FullURL] = typ + "/" + existing.ID
					}
					continue
				}
				guards = append(guards, g...)
			}
			id = s.newID()
			cd := &candidate{typ: typ, id: id, doc: doc, version: 1, path: rpath, now: now}
			plan = append(plan, planned{i, cd})
		case http.MethodPut:
			if mappings.ResourceID(doc) != id {
				problems.Add(discharge.KindInvalid, rpath+".id", "The resource id does not match the id in request.url.")
				continue
			}
			current, err := s.currentVersion(ctx, part, typ, id)
			if err != nil {
				return nil, err
			}
			if e.IfMatch != "" {
				v, ok := fhir.ParseETag(e.IfMatch)
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
		if err := s.intake(ctx, caller, part, p.cd, loc); err != nil {
			// An error with issues is about the input; one without (an
			// outage, a deadline) is the gateway's and fails the Bundle.
			var de *discharge.Error
			if !errors.As(err, &de) || len(de.Issues) == 0 {
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
		results[p.i].Outcome = p.cd.outcome(http.StatusCreated)
		if p.cd.expect > 0 {
			results[p.i].Outcome.Status = http.StatusOK
		}
	}
	if len(failures) > 0 {
		return nil, &discharge.Error{Kind: kind, Op: "transaction", Issues: failures}
	}
	if err := s.commit(ctx, part, cds, guards); err != nil {
		return nil, err
	}
	for _, d := range sameAs {
		results[d[0]] = EntryResult{Outcome: results[d[1]].Outcome, SameAs: true}
		results[d[0]].Outcome.Status = http.StatusOK
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
			ref, ok := mappings.ElementReference(cd.doc, el)
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
func (s *Service) runBatch(ctx context.Context, p *auth.Principal, part string, entries []fhir.InEntry, failed map[int]error, base string) []EntryResult {
	results := make([]EntryResult, len(entries))
	for i, e := range entries {
		if err := failed[i]; err != nil {
			results[i].Err = err
			continue
		}
		path := fmt.Sprintf("Bundle.entry[%d]", i)
		if e.Method == http.MethodGet {
			results[i] = s.batchRead(ctx, p, e, path, base)
			continue
		}
		typ, id, err := s.entryTarget(e, path)
		if err != nil {
			results[i].Err = err
			continue
		}
		doc := e.Doc
		rpath := path + ".resource"
		switch e.Method {
		case http.MethodPost:
			results[i].Outcome, results[i].Err = s.create(ctx, p, part, typ, doc, e.IfNoneExist, rpath)
		case http.MethodPut:
			results[i].Outcome, results[i].Err = s.update(ctx, p, part, typ, id, doc, e.IfMatch, rpath)
		}
	}
	return results
}

// batchRead runs a batch's GET entry: Type/id is a read, Type/id/_history/n
// a vread, and Type or Type?query a search, each as the REST interaction
// would answer it for the caller.
func (s *Service) batchRead(ctx context.Context, p *auth.Principal, e fhir.InEntry, path, base string) EntryResult {
	u, query, _ := strings.Cut(strings.TrimPrefix(e.URL, "/"), "?")
	parts := strings.Split(u, "/")
	typ := parts[0]
	if !s.types[typ] {
		return EntryResult{Err: discharge.E(discharge.KindNotSupported, path+".request.url",
			"This server does not serve "+strconv.Quote(typ)+".")}
	}
	var r fhir.Resource
	var err error
	switch {
	case len(parts) == 1:
		vals, err := url.ParseQuery(query)
		if err != nil {
			return EntryResult{Err: discharge.E(discharge.KindValue, path+".request.url", "The search query does not parse.")}
		}
		ss, err := s.Search(ctx, p, typ, vals, false, base)
		if err != nil {
			return EntryResult{Err: err}
		}
		return EntryResult{Outcome: Outcome{Status: http.StatusOK}, Searchset: &ss}
	case query == "" && len(parts) == 2 && parts[1] != "":
		r, _, err = s.Read(ctx, p, typ, parts[1])
	case query == "" && len(parts) == 4 && parts[1] != "" && parts[2] == "_history":
		r, err = s.VRead(ctx, p, typ, parts[1], parts[3])
	default:
		return EntryResult{Err: discharge.E(discharge.KindNotSupported, path+".request.url",
			"A GET entry's url is Type/id, Type/id/_history/version or a search: Type?parameters.")}
	}
	if err != nil {
		return EntryResult{Err: err}
	}
	return EntryResult{Outcome: Outcome{Status: http.StatusOK, Resource: r}, Read: true}
}

// entryTarget reads a write entry's request.url: "Type" for POST, "Type/id"
// for PUT, and checks it against the resource it carries.
func (s *Service) entryTarget(e fhir.InEntry, path string) (typ, id string, err error) {
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
	if e.Doc == nil {
		return "", "", discharge.E(discharge.KindRequired, path+".resource", "The entry has no resource.")
	}
	if rt, _ := e.Doc["resourceType"].(string); rt != typ {
		return "", "", discharge.E(discharge.KindInvalid, path+".resource.resourceType",
			"The resource type does not match request.url.")
	}
	return typ, id, nil
}
