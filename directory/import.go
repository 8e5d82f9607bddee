package directory

import (
	"bytes"
	"context"
	"time"

	"github.com/dischargegateway/gateway/auth"
	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/fhir"
	"github.com/dischargegateway/gateway/mappings"
)

// ImportReport says what a directory import did. Running the same file
// twice reports every row unchanged the second time.
type ImportReport struct {
	Rows      int
	Accepted  int
	Created   int
	Updated   int
	Unchanged int
	Rejected  []discharge.RowIssue
}

// importBatch is how many listings one commit writes.
const importBatch = 100

// maxRetries bounds how often a batch is compared and written again after
// a concurrent write changed one of its resources.
const maxRetries = 8

// ImportOwner is whose listings the caller may import: a care provider
// its own (owner is its organisation), the admin role every provider's
// (owner ""); anyone else none (KindForbidden).
func ImportOwner(p *auth.Principal) (owner string, err error) {
	switch {
	case p != nil && p.Role == auth.RoleCareProvider:
		return p.Org, nil
	case p != nil && p.Role == auth.RoleAdmin:
		return "", nil
	}
	return "", discharge.E(discharge.KindForbidden, "", "Only care providers and the admin role import directory entries.")
}

// Import writes listings into the directory in batches. With owner set,
// only that provider's listings are accepted; the others are rejected with
// the reason. Resources whose content is unchanged are not rewritten, so an
// import is idempotent, and since each row stands alone a batch may be
// stored part by part (fhir.Store.CommitParts): an import that fails is
// run again, not rolled back.
func (s *Service) Import(ctx context.Context, listings []discharge.Listing, owner string) (ImportReport, error) {
	rep := ImportReport{Rows: len(listings), Rejected: []discharge.RowIssue{}}
	var ok []discharge.Listing
	for _, l := range listings {
		if owner != "" && l.ProviderID != owner {
			rep.Rejected = append(rep.Rejected, discharge.RowIssue{Row: l.Row, Column: "providerId",
				Reason: "this row belongs to another provider"})
			continue
		}
		ok = append(ok, l)
	}
	for start := 0; start < len(ok); start += importBatch {
		batch := ok[start:min(start+importBatch, len(ok))]
		var err error
		for attempt := 0; attempt <= maxRetries; attempt++ {
			var b ImportReport
			b, err = s.importBatch(ctx, batch)
			if discharge.ErrorKind(err) == discharge.KindRetry {
				continue // a concurrent write changed a resource: compare again
			}
			rep.Created, rep.Updated, rep.Unchanged = rep.Created+b.Created, rep.Updated+b.Updated, rep.Unchanged+b.Unchanged
			break
		}
		if err != nil {
			return rep, err
		}
	}
	rep.Accepted = rep.Created + rep.Updated + rep.Unchanged
	return rep, nil
}

func (s *Service) importBatch(ctx context.Context, batch []discharge.Listing) (ImportReport, error) {
	var rep ImportReport
	docs := map[string]map[string]any{} // "Type/id" -> new content
	rowDocs := make([][3]string, len(batch))
	ids := map[string][]string{}
	for i, l := range batch {
		org, loc, svc := mappings.ListingToFHIR(l)
		orgID, locID, svcID := mappings.ListingIDs(l)
		for j, d := range []struct {
			typ, id string
			doc     map[string]any
		}{{"Organization", orgID, org}, {"Location", locID, loc}, {"HealthcareService", svcID, svc}} {
			ref := d.typ + "/" + d.id
			if _, dup := docs[ref]; !dup {
				ids[d.typ] = append(ids[d.typ], d.id)
			}
			docs[ref] = d.doc
			rowDocs[i][j] = ref
		}
	}
	current := map[string]fhir.Resource{}
	for typ, list := range ids {
		found, _, err := s.store.Search(ctx, Partition, fhir.Query{Type: typ, Count: len(list),
			Filters: []fhir.Filter{{Param: "_id", AnyOf: list}}})
		if err != nil {
			return rep, err
		}
		for _, r := range found {
			current[typ+"/"+r.ID] = r
		}
	}
	now := s.now()
	changed := map[string]bool{}
	var writes []fhir.Write
	var locations []string
	for ref, d := range docs {
		typ, id, _ := fhir.SplitRef(ref)
		cur, exists := current[ref]
		if exists && sameContent(cur.JSON, d) {
			continue
		}
		w := fhir.Write{Resource: fhir.Resource{Type: typ, ID: id, VersionID: 1, LastUpdated: now}}
		if exists {
			w.ExpectVersion, w.Resource.VersionID = cur.VersionID, cur.VersionID+1
		}
		var err error
		if w.Resource.JSON, err = stamp(d, id, w.Resource.VersionID, now); err != nil {
			return rep, err
		}
		w.Index = fhir.IndexEntries(typ, d)
		writes = append(writes, w)
		changed[ref] = true
		if typ == "Location" {
			locations = append(locations, ref)
		}
	}
	if len(writes) > 0 {
		if err := s.store.CommitParts(ctx, Partition, writes); err != nil {
			return rep, err
		}
	}
	for _, ref := range locations {
		_, id, _ := fhir.SplitRef(ref)
		s.IndexLocation(ctx, id, docs[ref])
	}
	for _, refs := range rowDocs {
		_, existed := current[refs[1]]
		switch {
		case !changed[refs[0]] && !changed[refs[1]] && !changed[refs[2]]:
			rep.Unchanged++
		case !existed:
			rep.Created++
		default:
			rep.Updated++
		}
	}
	return rep, nil
}

// stamp sets id, meta.versionId and meta.lastUpdated on a resource and
// encodes it, the way every stored version carries them.
func stamp(doc map[string]any, id string, version int64, now time.Time) ([]byte, error) {
	fhir.Stamp(doc, id, version, now)
	return fhir.EncodeDoc(doc)
}

// sameContent compares a stored resource with new content, ignoring meta.
func sameContent(stored []byte, d map[string]any) bool {
	old, err := fhir.DecodeDoc(stored)
	if err != nil {
		return false
	}
	delete(old, "meta")
	a, err1 := fhir.EncodeDoc(old)
	b, err2 := fhir.EncodeDoc(d)
	return err1 == nil && err2 == nil && bytes.Equal(a, b)
}
