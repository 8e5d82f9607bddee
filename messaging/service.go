// Package messaging takes FHIR messages at $process-message: BaRS (NHS
// Booking and Referral Standard) referrals from EPRs. A referral creates
// the case as the REST intake does, through records.Service's write path
// (the same validation, mapping, tenancy and all-or-nothing commit); the
// response message is stored in the same commit, so a re-sent message (the
// same MessageHeader id) changes nothing and gets the same answer.
// docs/bars.md says what is taken and what is refused, and why.
package messaging

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/dischargegateway/gateway/auth"
	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/fhir"
	"github.com/dischargegateway/gateway/mappings"
	"github.com/dischargegateway/gateway/records"
)

// Log keeps each message's response with the writes it caused.
type Log interface {
	records.MessageLog
	// MessageResponse is the response stored for message id in
	// partition; KindNotFound when there is none.
	MessageResponse(ctx context.Context, partition, id string) ([]byte, error)
}

// Config holds the messaging service's settings.
type Config struct {
	// Limits bounds JSON nesting and Bundle entries.
	Limits fhir.Limits
}

// Service processes FHIR messages.
type Service struct {
	cfg   Config
	rec   *records.Service
	log   Log
	now   func() time.Time
	newID func() string
}

// New builds the messaging service on the record. A nil log leaves
// $process-message unavailable (KindUnavailable): without it a re-sent
// message could write twice.
func New(cfg Config, rec *records.Service, log Log, now func() time.Time, newID func() string) *Service {
	if now == nil {
		now = time.Now
	}
	return &Service{cfg: cfg, rec: rec, log: log, now: now, newID: newID}
}

// Request is a message as it arrived.
type Request struct {
	Body []byte
	// Base is the FHIR base URL; the response's source endpoint is
	// Base + "/$process-message".
	Base string
	// Target is the NHSD-Target-Identifier header ("" when absent).
	Target string
}

// Result is what processing a message did.
type Result struct {
	// Header is the request's MessageHeader as far as it could be read,
	// refused or not: Header.ID == "" means there is no message to answer
	// with a response message.
	Header mappings.BaRSHeader
	// Response is the response message (code ok), as stored.
	Response []byte
	// Replayed says the message had been processed before: Response is
	// the stored answer and nothing was written.
	Replayed bool
	// Record is what the record did with the message's resources (for
	// the audit trail); empty when replayed.
	Record records.BundleResult
}

// Process takes a BaRS referral message for the caller's organisation.
func (s *Service) Process(ctx context.Context, p *auth.Principal, req Request) (Result, error) {
	m, err := mappings.BaRSMessageIn(req.Body, s.cfg.Limits)
	res := Result{Header: m.Header}
	if err != nil {
		return res, err
	}
	if req.Target != "" {
		target, err := mappings.BaRSTarget(req.Target)
		if err != nil {
			return res, err
		}
		if !slices.Contains(m.Header.Destinations, target) {
			return res, discharge.E(discharge.KindBusinessRule, "Bundle.entry[0].resource.destination",
				"NHSD-Target-Identifier names a service that is not among the message's destinations.")
		}
	}
	if s.log == nil {
		return res, discharge.E(discharge.KindUnavailable, "", "The message log is not configured.")
	}
	// The message writes patient data in the caller's own partition, as a
	// REST intake would (the role rule and the partition are the
	// record's).
	part, err := records.WritePartition(p, "ServiceRequest")
	if err != nil {
		return res, err
	}
	if prev, err := s.log.MessageResponse(ctx, part, m.Header.ID); err == nil {
		res.Response, res.Replayed = prev, true
		return res, nil
	} else if discharge.ErrorKind(err) != discharge.KindNotFound {
		return res, err
	}
	source := req.Base + "/$process-message"
	// The response is built for each commit attempt; the last one built is
	// the one committed.
	var last []byte
	respond := func(writes []fhir.Write) ([]byte, error) {
		last = mappings.BaRSResponse(mappings.BaRSReply{ID: s.newID(), BundleID: s.newID(), OutcomeID: s.newID(),
			Time: s.now(), Request: m.Header, Code: mappings.ResponseOK, Source: source,
			Outcome: fhir.OperationOutcome(stored(m, writes))})
		return last, nil
	}
	rec, err := s.rec.Message(ctx, p, m.Transaction, req.Base, s.log, m.Header.ID, respond)
	if discharge.ErrorKind(err) == discharge.KindDuplicate {
		// The same message committed concurrently: answer as it was.
		prev, lerr := s.log.MessageResponse(ctx, part, m.Header.ID)
		if lerr != nil {
			return res, lerr
		}
		res.Response, res.Replayed = prev, true
		return res, nil
	}
	res.Record = rec
	if err != nil {
		return res, m.Rebase(err)
	}
	res.Response = last
	return res, nil
}

// stored lists what the message stored, one informational issue per
// resource, at its entry in the message. A resource the record already
// held (its identifier matched) is not written again and not listed.
func stored(m mappings.BaRSMessage, writes []fhir.Write) []fhir.OutcomeIssue {
	out := make([]fhir.OutcomeIssue, 0, len(writes)+1)
	for _, w := range writes {
		r := w.Resource
		verb := "Created"
		if w.ExpectVersion > 0 {
			verb = "Updated"
		}
		out = append(out, fhir.OutcomeIssue{Severity: "information", Code: fhir.IssueInformational,
			Expression: m.EntryPath(r.Type), Diagnostics: fmt.Sprintf("%s %s/%s/_history/%d", verb, r.Type, r.ID, r.VersionID)})
	}
	if len(out) == 0 {
		out = append(out, fhir.OutcomeIssue{Severity: "information", Code: fhir.IssueInformational,
			Diagnostics: "The record already held the referral's resources; nothing new was stored."})
	}
	return out
}
