package gateway

import (
	"context"
	"strings"

	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/mappings"
)

// intake checks a resource on its way in, beyond FHIR validity: its subject
// and encounter references resolve, and an Encounter or ServiceRequest maps
// into the discharge model. A mapping error (a care request with a code no
// ConceptMap knows) rejects the write; a resource that is valid FHIR but not
// a discharge matter is stored with a warning.
func (s *Server) intake(ctx context.Context, part string, cd *candidate, loc local) error {
	if err := s.checkRefs(ctx, part, cd, loc); err != nil {
		return err
	}
	if isDirectory(cd.typ) {
		return s.checkOwnership(ctx, cd, loc)
	}
	if cd.typ != "Encounter" && cd.typ != "ServiceRequest" {
		return nil
	}
	cd.doc["id"] = cd.id
	raw, err := encodeDoc(cd.doc)
	if err != nil {
		return err
	}
	pat, err := s.subjectPatient(ctx, part, cd.doc, loc)
	if err != nil {
		return err
	}
	var issues discharge.Issues
	switch cd.typ {
	case "Encounter":
		_, issues, err = mappings.EncounterToCase(raw, pat, s.mapOptions(part))
	case "ServiceRequest":
		_, issues, err = mappings.ServiceRequestToNeed(raw, pat, s.mapOptions(part))
	}
	if err != nil {
		return rebaseError(err, cd.typ, cd.path)
	}
	cd.warnings = rebaseIssues(issues.Warnings(), cd.typ, cd.path)
	return nil
}

// mapOptions are the mapping options for a partition.
func (s *Server) mapOptions(part string) mappings.Options {
	return mappings.Options{Translator: s.tr, AsOf: s.now(), Trust: part}
}

// subjectPatient returns the JSON of the Patient a resource's subject
// names, from the transaction or the store, or nil when there is none to
// be seen. A store failure is returned, never taken for a missing Patient:
// that would turn an outage into a different answer (a placement refused
// for want of a home postcode, a case without the patient's details).
func (s *Server) subjectPatient(ctx context.Context, part string, doc map[string]any, loc local) ([]byte, error) {
	ref, ok := refString(doc["subject"])
	if !ok || !strings.Contains(ref, "Patient/") {
		return nil, nil
	}
	p, err := s.lookupIfAny(ctx, part, ref, loc)
	if err != nil || p == nil {
		return nil, err
	}
	return encodeDoc(p)
}

// lookupIfAny is lookup, with nil for a reference that resolves to nothing
// the caller may see; other failures (Redis unavailable, a deadline) are
// returned.
func (s *Server) lookupIfAny(ctx context.Context, part, ref string, loc local) (map[string]any, error) {
	d, err := s.lookup(ctx, part, ref, loc)
	if err != nil && discharge.ErrorKind(err) == discharge.KindNotFound {
		return nil, nil
	}
	return d, err
}

// rebaseIssues rewrites expressions rooted at the resource type ("Encounter.
// status") to the resource's place in the request ("Bundle.entry[1].
// resource.status").
func rebaseIssues(issues discharge.Issues, typ, path string) discharge.Issues {
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

// rebaseError applies rebaseIssues to an error's issues.
func rebaseError(err error, typ, path string) error {
	var de *discharge.Error
	if !asError(err, &de) || len(de.Issues) == 0 {
		return err
	}
	cp := *de
	cp.Issues = rebaseIssues(de.Issues, typ, path)
	return &cp
}
