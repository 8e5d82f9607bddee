package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"mime"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/dischargegateway/gateway/auth"
	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/fhir"
	"github.com/dischargegateway/gateway/mappings"
	"github.com/dischargegateway/gateway/records"
)

// DirectoryParser reads a bulk directory file (adapters/cqccsv).
type DirectoryParser func(io.Reader) ([]discharge.Listing, []discharge.RowIssue, error)

// ImportReport says what a directory import did. Running the same file
// twice reports every row unchanged the second time.
type ImportReport struct {
	Rows      int                  `json:"rows"`
	Accepted  int                  `json:"accepted"`
	Created   int                  `json:"created"`
	Updated   int                  `json:"updated"`
	Unchanged int                  `json:"unchanged"`
	Rejected  []discharge.RowIssue `json:"rejected"`
}

// importBatch is how many listings one atomic commit writes.
const importBatch = 100

// importDirectory is POST /api/v1/directory/import (text/csv). A care
// provider imports its own locations (rows of other providers are rejected
// with the reason); the admin role imports the whole directory.
func (s *Server) importDirectory(c echo.Context) error {
	p := principal(c)
	owner := ""
	switch {
	case p != nil && p.Role == auth.RoleCareProvider:
		owner = p.Org
	case p != nil && p.Role == auth.RoleAdmin:
	default:
		return discharge.E(discharge.KindForbidden, "", "Only care providers and the admin role import directory entries.")
	}
	if mt, _, _ := mime.ParseMediaType(c.Request().Header.Get(echo.HeaderContentType)); mt != "text/csv" {
		return discharge.E(discharge.KindUnsupportedMedia, "", "The directory import takes text/csv.")
	}
	body, err := s.readBody(c, "")
	if err != nil {
		return err
	}
	listings, rejected, err := s.parseDirectory(bytes.NewReader(body))
	if err != nil {
		return discharge.E(discharge.KindStructure, "", "The CSV cannot be read: "+err.Error())
	}
	rep, err := s.ImportDirectory(c.Request().Context(), listings, owner)
	if err != nil {
		return err
	}
	rep.Rows += len(rejected)
	rep.Rejected = append(rejected, rep.Rejected...)
	b, _ := json.Marshal(rep)
	return c.Blob(http.StatusOK, plainJSON, b)
}

// ImportDirectory writes listings into the directory in atomic batches.
// With owner set, only that provider's listings are accepted. Resources
// whose content is unchanged are not rewritten, so an import is idempotent.
func (s *Server) ImportDirectory(ctx context.Context, listings []discharge.Listing, owner string) (ImportReport, error) {
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

func (s *Server) importBatch(ctx context.Context, batch []discharge.Listing) (ImportReport, error) {
	var rep ImportReport
	docs := map[string]map[string]any{} // "Type/id" -> new content
	rowDocs := make([][3]string, len(batch))
	ids := map[string][]string{}
	for i, l := range batch {
		org, loc, svc := mappings.ListingToFHIR(l)
		for j, d := range []map[string]any{org, loc, svc} {
			typ, id := d["resourceType"].(string), d["id"].(string)
			ref := typ + "/" + id
			if _, dup := docs[ref]; !dup {
				ids[typ] = append(ids[typ], id)
			}
			docs[ref] = d
			rowDocs[i][j] = ref
		}
	}
	current := map[string]fhir.Resource{}
	for typ, list := range ids {
		found, _, err := s.store.Search(ctx, directoryPartition, fhir.Query{Type: typ, Count: len(list),
			Filters: []fhir.Filter{{Param: "_id", AnyOf: list}}})
		if err != nil {
			return rep, err
		}
		for _, r := range found {
			current[typ+"/"+r.ID] = r
		}
	}
	changed := map[string]bool{}
	var drafts []records.Draft
	for ref, d := range docs {
		typ, id, _ := splitRef(ref)
		cur, exists := current[ref]
		if exists && sameContent(cur.JSON, d) {
			continue
		}
		drafts = append(drafts, records.Draft{Type: typ, ID: id, Doc: d, Expect: cur.VersionID})
		changed[ref] = true
	}
	if len(drafts) > 0 {
		// Rows stand alone and the import is idempotent, so a batch may be
		// stored shard by shard where the directory is sharded.
		if err := s.records.CommitDrafts(fhir.WithPartialCommit(ctx), directoryPartition, drafts); err != nil {
			return rep, err
		}
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

// sameContent compares a stored resource with new content, ignoring meta.
func sameContent(stored []byte, d map[string]any) bool {
	old, err := decodeDoc(stored)
	if err != nil {
		return false
	}
	delete(old, "meta")
	a, err1 := encodeDoc(old)
	b, err2 := encodeDoc(d)
	return err1 == nil && err2 == nil && bytes.Equal(a, b)
}
