package records

import (
	"context"
	"net/http"
	"net/url"
	"time"

	"github.com/dischargegateway/gateway/auth"
	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/fhir"
	"github.com/dischargegateway/gateway/mappings"
)

// maxRetries bounds the optimistic-concurrency retry loops: a write that
// loses a race re-reads and tries again this many times before giving up.
const maxRetries = 8

// Outcome is what a create or update did.
type Outcome struct {
	// Status is the FHIR interaction's status: 201 for a resource
	// created, 200 for one updated or matched by a conditional create.
	Status int
	// Resource is the stored version written or matched.
	Resource fhir.Resource
	// Matched says a conditional create found an existing resource.
	Matched bool
	// Warnings are intake's remarks on what was stored.
	Warnings discharge.Issues
}

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

// finish stamps id, meta.versionId and meta.lastUpdated on the candidate,
// encodes it and computes its index entries.
func (cd *candidate) finish() error {
	fhir.Stamp(cd.doc, cd.id, cd.version, cd.now)
	raw, err := fhir.EncodeDoc(cd.doc)
	if err != nil {
		return err
	}
	cd.json = raw
	cd.index = fhir.IndexEntries(cd.typ, cd.doc)
	return nil
}

func (cd *candidate) resource() fhir.Resource {
	return fhir.Resource{Type: cd.typ, ID: cd.id, VersionID: cd.version, LastUpdated: cd.now, JSON: cd.json}
}

func (cd *candidate) outcome(status int) Outcome {
	return Outcome{Status: status, Resource: cd.resource(), Warnings: cd.warnings}
}

// incoming validates a resource body of typ and decodes it once, then names
// the partition the caller writes it to.
func (s *Service) incoming(p *auth.Principal, typ string, body []byte) (map[string]any, string, error) {
	doc, err := s.validate(body, typ)
	if err != nil {
		return nil, "", err
	}
	part, err := WritePartition(p, typ)
	return doc, part, err
}

// validate runs the FHIR validator on one resource body of an expected type
// and decodes it.
func (s *Service) validate(raw []byte, typ string) (map[string]any, error) {
	parsed, err := fhir.Validate(raw, typ, s.cfg.Limits)
	if err != nil {
		return nil, err
	}
	return parsed.Doc, nil
}

// Create is the FHIR create interaction, a conditional create when
// ifNoneExist (the If-None-Exist header) is given.
func (s *Service) Create(ctx context.Context, p *auth.Principal, typ string, body []byte, ifNoneExist string) (Outcome, error) {
	doc, part, err := s.incoming(p, typ, body)
	if err != nil {
		return Outcome{}, err
	}
	return s.create(ctx, p, part, typ, doc, ifNoneExist, typ)
}

// create creates one resource, or returns the one an If-None-Exist query
// matches. Racing identical conditional creates leave exactly one resource:
// the loser's guarded commit fails and it finds the winner's on retry.
func (s *Service) create(ctx context.Context, p *auth.Principal, part, typ string, doc map[string]any, cond, path string) (Outcome, error) {
	for attempt := 0; ; attempt++ {
		var guards []fhir.Guard
		if cond != "" {
			existing, g, err := s.conditionalMatch(ctx, part, typ, cond)
			if err != nil {
				return Outcome{}, err
			}
			if existing != nil {
				return Outcome{Status: http.StatusOK, Resource: *existing, Matched: true}, nil
			}
			guards = g
		}
		cd := &candidate{typ: typ, id: s.newID(), doc: doc, version: 1, path: path, now: s.now()}
		if err := s.intake(ctx, p, part, cd, nil); err != nil {
			return Outcome{}, err
		}
		if err := cd.finish(); err != nil {
			return Outcome{}, err
		}
		err := s.commit(ctx, part, []*candidate{cd}, guards)
		if discharge.ErrorKind(err) == discharge.KindRetry && attempt < maxRetries {
			continue
		}
		if err != nil {
			return Outcome{}, err
		}
		return cd.outcome(http.StatusCreated), nil
	}
}

// conditionalMatch evaluates an If-None-Exist query. It returns the one
// existing match, or the guards that make creating safe against a
// concurrent identical request, or 412 for several matches.
func (s *Service) conditionalMatch(ctx context.Context, part, typ, cond string) (*fhir.Resource, []fhir.Guard, error) {
	vals, err := url.ParseQuery(cond)
	if err != nil || len(vals) == 0 {
		return nil, nil, discharge.E(discharge.KindInvalid, "", "If-None-Exist must be a search query such as identifier=system|value.")
	}
	// A condition is search parameters only: a result parameter (_count,
	// _offset, _include...) would leave a query with no filter, which
	// matches any resource of the type and so "finds" an unrelated one.
	for name := range vals {
		if resultParams[name] {
			return nil, nil, discharge.E(discharge.KindInvalid, "",
				"If-None-Exist takes search parameters only, not "+name+".")
		}
	}
	q, _, err := s.buildQuery(ctx, part, typ, vals, true)
	if err != nil {
		return nil, nil, err
	}
	q.Count = 2
	var found []fhir.Resource
	total := 0
	if !q.empty {
		found, total, err = s.store.Search(ctx, part, q.Query)
		if err != nil {
			return nil, nil, err
		}
	}
	switch {
	case total > 1:
		return nil, nil, discharge.E(discharge.KindMultipleMatches, "",
			"If-None-Exist matched more than one resource.")
	case total == 1 && len(found) == 1:
		return &found[0], nil, nil
	}
	// Guard every single-valued token filter: its index entry must still be
	// empty when the create commits, so only one of many racing requests wins.
	var guards []fhir.Guard
	for _, f := range q.Filters {
		if f.Range == nil && len(f.AnyOf) == 1 {
			guards = append(guards, fhir.Guard{Type: typ, Param: f.Param, Token: f.AnyOf[0]})
		}
	}
	return nil, guards, nil
}

// Update is the FHIR update interaction. ifMatch (the If-Match header)
// makes it a compare-and-set (412 when stale); without it, concurrent
// updates are serialised by retrying. Updating an id that does not exist
// creates it (updateCreate).
func (s *Service) Update(ctx context.Context, p *auth.Principal, typ, id string, body []byte, ifMatch string) (Outcome, error) {
	doc, part, err := s.incoming(p, typ, body)
	if err != nil {
		return Outcome{}, err
	}
	return s.update(ctx, p, part, typ, id, doc, ifMatch, typ)
}

// update stores a new version of typ/id.
func (s *Service) update(ctx context.Context, p *auth.Principal, part, typ, id string, doc map[string]any, ifMatchHeader, path string) (Outcome, error) {
	switch bodyID := mappings.ResourceID(doc); {
	case bodyID == "":
		return Outcome{}, discharge.E(discharge.KindRequired, path+".id", "An update must carry the resource id.")
	case bodyID != id:
		return Outcome{}, discharge.E(discharge.KindInvalid, path+".id", "The id in the body does not match the id in the URL.")
	}
	ifMatch, hasIfMatch := int64(0), false
	if ifMatchHeader != "" {
		v, ok := fhir.ParseETag(ifMatchHeader)
		if !ok {
			return Outcome{}, discharge.E(discharge.KindInvalid, path+".meta.versionId", `If-Match must be a version ETag such as W/"1".`)
		}
		ifMatch, hasIfMatch = v, true
	}
	stale := func() error {
		return discharge.E(discharge.KindPrecondition, path+".meta.versionId",
			"If-Match names a version that is not the current one.")
	}
	for attempt := 0; ; attempt++ {
		current, err := s.currentVersion(ctx, part, typ, id)
		if err != nil {
			return Outcome{}, err
		}
		if hasIfMatch && ifMatch != current {
			return Outcome{}, stale()
		}
		cd := &candidate{typ: typ, id: id, doc: doc, expect: current, version: current + 1, path: path, now: s.now()}
		if err := s.intake(ctx, p, part, cd, nil); err != nil {
			return Outcome{}, err
		}
		if err := cd.finish(); err != nil {
			return Outcome{}, err
		}
		err = s.commit(ctx, part, []*candidate{cd}, nil)
		if discharge.ErrorKind(err) == discharge.KindRetry {
			if hasIfMatch {
				return Outcome{}, stale()
			}
			if attempt < maxRetries {
				continue
			}
		}
		if err != nil {
			return Outcome{}, err
		}
		status := http.StatusOK
		if current == 0 {
			status = http.StatusCreated
		}
		return cd.outcome(status), nil
	}
}

// currentVersion is the current version of typ/id, 0 if it does not exist.
func (s *Service) currentVersion(ctx context.Context, part, typ, id string) (int64, error) {
	cur, err := s.store.Read(ctx, part, typ, id)
	switch {
	case err == nil:
		return cur.VersionID, nil
	case discharge.ErrorKind(err) == discharge.KindNotFound:
		return 0, nil
	}
	return 0, err
}

// commit stores candidates atomically, then keeps the directory's derived
// data (the geo index behind near) in step with the Locations stored, and
// closes the discharge cases of the Encounters stored as ended.
func (s *Service) commit(ctx context.Context, part string, cds []*candidate, guards []fhir.Guard) error {
	ws := make([]fhir.Write, len(cds))
	for i, cd := range cds {
		ws[i] = fhir.Write{Resource: cd.resource(), ExpectVersion: cd.expect, Index: cd.index}
	}
	if err := s.store.Commit(ctx, part, ws, guards); err != nil {
		return err
	}
	if s.dir != nil {
		for _, cd := range cds {
			if cd.typ == "Location" {
				s.dir.IndexLocation(ctx, cd.id, cd.doc)
			}
		}
	}
	s.closeCases(ctx, part, cds)
	return nil
}

// closeCases tells Cases of the Encounters just stored as ended. The write
// is committed whatever happens here: a failure is logged (without the
// Encounter's id: it is a patient's record) and left to the referral
// sweep, which closes any case whose Encounter ended with offers open.
func (s *Service) closeCases(ctx context.Context, part string, cds []*candidate) {
	if s.cases == nil {
		return
	}
	for _, cd := range cds {
		if cd.typ != "Encounter" {
			continue
		}
		ended, finished := mappings.EncounterEnd(cd.doc)
		if !ended {
			continue
		}
		if err := s.cases.CloseCase(context.WithoutCancel(ctx), part, cd.id, finished); err != nil {
			s.log.Warn("closing a case after its Encounter ended failed; the referral sweep will retry",
				"partition", part, "kind", discharge.ErrorKind(err).String())
		}
	}
}
