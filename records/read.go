package records

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"time"

	"github.com/dischargegateway/gateway/auth"
	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/fhir"
)

// Read is the FHIR read interaction: typ/id from the first organisation
// the caller may read that holds it, and that organisation's partition. A
// resource held for any other organisation is not found: its existence
// does not leak.
func (s *Service) Read(ctx context.Context, p *auth.Principal, typ, id string) (fhir.Resource, string, error) {
	for _, part := range ReadPartitions(p, typ) {
		r, err := s.store.Read(ctx, part, typ, id)
		if err == nil {
			return r, part, nil
		}
		if discharge.ErrorKind(err) != discharge.KindNotFound {
			return fhir.Resource{}, "", err
		}
	}
	return fhir.Resource{}, "", notFoundAt(discharge.KindOf(discharge.KindNotFound), typ)
}

// ReadServiceRequest returns the stored JSON of a ServiceRequest the
// caller may read, and the partition holding it.
func (s *Service) ReadServiceRequest(ctx context.Context, p *auth.Principal, id string) ([]byte, string, error) {
	r, part, err := s.Read(ctx, p, "ServiceRequest", id)
	return r.JSON, part, err
}

// VRead is the FHIR vread interaction: version vid of a resource the
// caller may read.
func (s *Service) VRead(ctx context.Context, p *auth.Principal, typ, id, vid string) (fhir.Resource, error) {
	v, err := strconv.ParseInt(vid, 10, 64)
	if err != nil || v < 1 {
		return fhir.Resource{}, discharge.E(discharge.KindNotFound, typ+".meta.versionId", "No such version.")
	}
	_, part, err := s.Read(ctx, p, typ, id)
	if err != nil {
		return fhir.Resource{}, err
	}
	r, err := s.store.ReadVersion(ctx, part, typ, id, v)
	if err != nil {
		return fhir.Resource{}, notFoundAt(err, typ)
	}
	return r, nil
}

// notFoundAt gives a store's not-found an issue naming the resource type.
func notFoundAt(err error, typ string) error {
	if discharge.ErrorKind(err) == discharge.KindNotFound {
		return discharge.E(discharge.KindNotFound, typ, "No "+typ+" with that id.")
	}
	return err
}

// historyParams are the parameters instance history accepts. A history
// Bundle has no place for a search outcome entry, so anything else (_since,
// _at, _list) is refused rather than silently ignored.
var historyParams = map[string]bool{"_count": true, "_offset": true, "_format": true}

// History is the FHIR history-instance interaction: a history Bundle of
// every version of one resource, newest first, paged with _count and
// _offset, with links under base. It is read like Read is (same
// partitions), so a resource another organisation holds is not found.
func (s *Service) History(ctx context.Context, p *auth.Principal, typ, id string, vals url.Values, base string) ([]byte, error) {
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
		return nil, errs.Err(discharge.KindNotSupported, "history")
	}
	page, err := fhir.ParsePaging(vals, fhir.DefaultCount, fhir.MaxCount)
	if err != nil {
		return nil, err
	}
	_, part, err := s.Read(ctx, p, typ, id)
	if err != nil {
		return nil, err
	}
	versions, total, err := s.store.History(ctx, part, typ, id, page.Offset, page.Count)
	if err != nil {
		return nil, notFoundAt(err, typ)
	}
	entries := make([]fhir.BundleEntryOut, len(versions))
	for i, r := range versions {
		entries[i] = historyEntry(base, r)
	}
	links := fhir.PageLinks(fmt.Sprintf("%s/%s/%s/_history", base, typ, id), nil, page, total)
	return fhir.MarshalBundle("history", &total, links, entries), nil
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
			Etag:         fhir.ETag(r.VersionID),
			LastModified: r.LastUpdated.UTC().Format(time.RFC3339Nano),
		},
	}
}
