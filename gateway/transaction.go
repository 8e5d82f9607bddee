package gateway

import (
	"fmt"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/fhir"
	"github.com/dischargegateway/gateway/mappings"
	"github.com/dischargegateway/gateway/records"
)

// transaction handles POST /fhir with a transaction or batch Bundle
// (records.Service.Bundle: a transaction is all-or-nothing, a batch runs
// each entry on its own). Every entry is audited, those of a refused
// Bundle too, with the status it got.
func (s *Server) transaction(c echo.Context) error {
	body, err := s.readBody(c, "Bundle")
	if err != nil {
		return err
	}
	// Offers sent together go to the referral service (task.go).
	if tasks, ok, err := mappings.TaskTransaction(body, s.cfg.Limits); ok {
		return s.sendTasks(c, tasks, err)
	}
	res, err := s.records.Bundle(c.Request().Context(), principal(c), body, s.baseURL(c))
	if err != nil {
		status := statusOf(toError(err).Kind)
		for _, a := range res.Refused {
			s.audit(c, res.Interaction, a.Action, a.Type, a.ID, status)
		}
		return err
	}
	s.auditEntries(c, res.Interaction, res.Entries)
	return respond(c, http.StatusOK, s.responseBundle(c, res))
}

// auditEntries records each entry's access before the answer is rendered.
// A batch's GET entry discloses what it read or found, so when its access
// cannot be recorded it discloses nothing: its result becomes the audit
// middleware's 503 (transient, or timeout past the deadline) in its own
// entry, as a batch answers each entry on its own. A write's result
// stands, its failure logged: the record has changed already, and a
// refusal would invite a second write. (A transaction holds no GET entry.)
func (s *Server) auditEntries(c echo.Context, interaction string, entries []records.EntryResult) {
	for i := range entries {
		r := &entries[i]
		if r.SameAs || r.Access.Type == "" {
			continue
		}
		status := entryStatus(*r)
		aerr := s.audit(c, interaction, r.Access.Action, r.Access.Type, r.Access.ID, status)
		if aerr != nil && status < 400 && (r.Read || r.Searchset != nil) {
			*r = records.EntryResult{Err: auditRefusal(aerr), Access: r.Access}
		}
	}
}

// entryStatus is the HTTP status of one entry's result.
func entryStatus(r records.EntryResult) int {
	if r.Err != nil {
		return statusOf(toError(r.Err).Kind)
	}
	return r.Status
}

// lastModified is the format of Bundle.entry.response.lastModified (an
// instant, to the millisecond).
const lastModified = "2006-01-02T15:04:05.000Z07:00"

// responseBundle renders a transaction-response or batch-response: each
// entry's status, and its resource's location and version, or its
// OperationOutcome; a GET entry of a batch carries what it read or found.
func (s *Server) responseBundle(c echo.Context, res records.BundleResult) []byte {
	base := s.baseURL(c)
	entries := make([]fhir.BundleEntryOut, len(res.Entries))
	for i, r := range res.Entries {
		status := entryStatus(r)
		resp := &fhir.EntryResponse{Status: strconv.Itoa(status) + " " + http.StatusText(status)}
		switch {
		case r.Err != nil:
			resp.Outcome = fhir.OperationOutcome(outcomeIssues(toError(r.Err), ""))
			entries[i] = fhir.BundleEntryOut{Response: resp}
			continue
		case r.Searchset != nil:
			entries[i] = fhir.BundleEntryOut{Resource: searchsetBundle(*r.Searchset), Response: resp}
			continue
		}
		rs := r.Resource
		resp.Location = fmt.Sprintf("%s/%s/_history/%d", rs.Type, rs.ID, rs.VersionID)
		resp.Etag = fhir.ETag(rs.VersionID)
		resp.LastModified = rs.LastUpdated.UTC().Format(lastModified)
		if len(r.Warnings) > 0 {
			resp.Outcome = fhir.OperationOutcome(issuesToOutcome(r.Warnings, discharge.KindInternal))
		}
		entries[i] = fhir.BundleEntryOut{FullURL: base + "/" + rs.Type + "/" + rs.ID, Response: resp}
		if r.Read {
			entries[i].Resource = rs.JSON
		}
	}
	typ := "transaction-response"
	if res.Interaction == "batch" {
		typ = "batch-response"
	}
	return fhir.MarshalBundle(typ, nil, nil, entries)
}
