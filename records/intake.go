package records

import (
	"context"
	"errors"
	"strings"

	"github.com/dischargegateway/gateway/auth"
	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/fhir"
	"github.com/dischargegateway/gateway/mappings"
)

// local holds the resources of one transaction by their final reference
// ("Patient/abc"), so references between entries resolve before commit.
type local map[string]map[string]any

// intake checks a resource on its way in, beyond FHIR validity: its subject
// and encounter references resolve, a directory entry is the caller's to
// write, and an Encounter or ServiceRequest maps into the discharge model.
// A mapping error (a care request with a code no ConceptMap knows) rejects
// the write; a resource that is valid FHIR but not a discharge matter is
// stored with a warning.
func (s *Service) intake(ctx context.Context, p *auth.Principal, part string, cd *candidate, loc local) error {
	if err := s.checkRefs(ctx, part, cd, loc); err != nil {
		return err
	}
	if IsDirectory(cd.typ) {
		if s.dir == nil {
			return discharge.E(discharge.KindForbidden, "", "No directory to check ownership against.")
		}
		return s.dir.CheckWrite(ctx, p, DirectoryWrite{Type: cd.typ, ID: cd.id, Path: cd.path, Doc: cd.doc,
			Replaces: cd.expect > 0, Pending: loc})
	}
	if cd.typ != "Encounter" && cd.typ != "ServiceRequest" {
		return nil
	}
	// The mapping reads the document the validator decoded, with its server
	// id: no encode and no second parse (mappings.IncomingIssues).
	fhir.SetID(cd.doc, cd.id)
	subject, err := s.subjectOf(ctx, part, cd.doc, loc)
	if err != nil {
		return err
	}
	issues, err := mappings.IncomingIssues(cd.typ, cd.doc, subject, s.MapOptions(part))
	if err != nil {
		return RebaseError(err, cd.typ, cd.path)
	}
	cd.warnings = RebaseIssues(issues.Warnings(), cd.typ, cd.path)
	if cd.typ == "Encounter" {
		// A delay reason in a local code is stored with its sitrep
		// translation beside it, so the index and the sitrep count it.
		mappings.AddDelayReasonTranslations(cd.doc, s.tr)
	}
	return nil
}

// checkRefs makes sure the subject and encounter references of a resource
// resolve, in the transaction or in the store.
func (s *Service) checkRefs(ctx context.Context, part string, cd *candidate, loc local) error {
	var issues discharge.Issues
	for _, el := range []string{"subject", "encounter"} {
		ref, ok := mappings.ElementReference(cd.doc, el)
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

// lookup finds a referenced resource in the transaction or the store.
func (s *Service) lookup(ctx context.Context, part, ref string, loc local) (map[string]any, error) {
	if d, ok := loc[ref]; ok {
		return d, nil
	}
	typ, id, ok := SplitRef(ref)
	if !ok || !s.types[typ] {
		return nil, discharge.KindOf(discharge.KindNotFound)
	}
	r, err := s.store.Read(ctx, part, typ, id)
	if err != nil {
		return nil, err
	}
	return fhir.DecodeDoc(r.JSON)
}

// Resolve finds the resource a reference ("Organization/1") names among
// pending (the other resources of a transaction, by their final
// reference) or in partition; KindNotFound when there is none.
func (s *Service) Resolve(ctx context.Context, partition, ref string, pending map[string]map[string]any) (map[string]any, error) {
	return s.lookup(ctx, partition, ref, pending)
}

// ReadReference returns the stored JSON of the resource a reference
// ("Patient/1") names in partition, or nil when there is none the caller
// may see. Any other failure is returned: an outage is never taken for a
// missing record.
func (s *Service) ReadReference(ctx context.Context, partition, ref string) ([]byte, error) {
	return s.referencedJSON(ctx, partition, ref, nil)
}

// referencedJSON is the JSON of the resource a reference names, from the
// transaction or the store, or nil when there is none to be seen. A stored
// resource is returned as stored, not decoded and encoded again.
func (s *Service) referencedJSON(ctx context.Context, part, ref string, loc local) ([]byte, error) {
	if d, ok := loc[ref]; ok {
		return fhir.EncodeDoc(d)
	}
	typ, id, ok := SplitRef(ref)
	if !ok || !s.types[typ] {
		return nil, nil
	}
	r, err := s.store.Read(ctx, part, typ, id)
	if discharge.ErrorKind(err) == discharge.KindNotFound {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return r.JSON, nil
}

// SubjectPatient returns the JSON of the Patient a resource's subject
// names, from the store, or nil when there is none to be seen.
func (s *Service) SubjectPatient(ctx context.Context, partition string, doc map[string]any) ([]byte, error) {
	return s.subjectPatient(ctx, partition, doc)
}

// subjectPatient returns the JSON of the Patient a resource's subject
// names, from the store, or nil when there is none to be seen. A store
// failure is returned, never taken for a missing Patient: that would turn
// an outage into a different answer (a placement refused for want of a
// home postcode, a case without the patient's details).
func (s *Service) subjectPatient(ctx context.Context, part string, doc map[string]any) ([]byte, error) {
	ref, ok := mappings.ElementReference(doc, "subject")
	if !ok || !strings.Contains(ref, "Patient/") {
		return nil, nil
	}
	return s.referencedJSON(ctx, part, ref, nil)
}

// subjectOf is the Patient a resource's subject names as intake maps it:
// the transaction's document of it, as decoded once, or its stored JSON;
// neither when there is none to be seen (a store failure is returned, as
// subjectPatient does).
func (s *Service) subjectOf(ctx context.Context, part string, doc map[string]any, loc local) (mappings.Subject, error) {
	ref, ok := mappings.ElementReference(doc, "subject")
	if !ok || !strings.Contains(ref, "Patient/") {
		return mappings.Subject{}, nil
	}
	if d, ok := loc[ref]; ok {
		return mappings.Subject{Doc: d}, nil
	}
	raw, err := s.referencedJSON(ctx, part, ref, nil)
	return mappings.Subject{JSON: raw}, err
}

// SplitRef is fhir.SplitRef, kept for the records package's callers.
func SplitRef(ref string) (typ, id string, ok bool) { return fhir.SplitRef(ref) }

// RebaseIssues rewrites expressions rooted at the resource type ("Encounter.
// status") to the resource's place in the request ("Bundle.entry[1].
// resource.status").
func RebaseIssues(issues discharge.Issues, typ, path string) discharge.Issues {
	if path == typ || len(issues) == 0 {
		return issues
	}
	out := make(discharge.Issues, len(issues))
	for i, is := range issues {
		if is.Expression == typ {
			is.Expression = path
		} else if strings.HasPrefix(is.Expression, typ+".") {
			is.Expression = path + is.Expression[len(typ):]
		}
		out[i] = is
	}
	return out
}

// RebaseError applies RebaseIssues to an error's issues.
func RebaseError(err error, typ, path string) error {
	var de *discharge.Error
	if !errors.As(err, &de) || len(de.Issues) == 0 {
		return err
	}
	cp := *de
	cp.Issues = RebaseIssues(de.Issues, typ, path)
	return &cp
}

// AtExpression points every issue of err at one element.
func AtExpression(err error, expression string) error {
	var de *discharge.Error
	if !errors.As(err, &de) || len(de.Issues) == 0 {
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
