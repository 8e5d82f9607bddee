package referral

// This file is the contract between the gateway's Task handlers and the
// referral service (the methods' signatures are fixed), and the offer
// workflow behind it.

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/dischargegateway/gateway/auth"
	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/fhir"
	"github.com/dischargegateway/gateway/mappings"
)

// Defaults of Options.
const (
	DefaultDeadline   = 4 * time.Hour
	DefaultHoldTTL    = 24 * time.Hour
	DefaultSweepEvery = 30 * time.Second
)

// AuditLog records who read a referral pack (auth.AuditLog's Record).
type AuditLog interface {
	Record(ctx context.Context, e auth.AuditEntry) error
}

// Options configure a Service; zero values take the defaults.
type Options struct {
	// Deadline is how long a provider has to answer when the Task names
	// no restriction.period.end (REFERRAL_DEADLINE).
	Deadline time.Duration
	// HoldTTL is how long an accepted offer's hold stands unconfirmed
	// (REFERRAL_HOLD_TTL).
	HoldTTL time.Duration
	// IdentityBeforeAccept gives a provider the full Patient in the
	// referral pack before it has accepted (REFERRAL_IDENTITY_BEFORE_ACCEPT);
	// off by default: data minimisation.
	IdentityBeforeAccept bool
	// SweepEvery is Run's interval.
	SweepEvery time.Duration
	// Now is the clock (time.Now when nil): tests inject one.
	Now   func() time.Time
	Audit AuditLog
	Log   *slog.Logger
}

// Service runs the referral loop: offers as Tasks, holds, confirmation,
// expiry and the case's events. It is safe for concurrent use, by any
// number of gateways on one record: every decision is checked again in
// the transaction that stores it (a Task's version, the hold count).
type Service struct {
	st  Store
	opt Options
}

// New returns the service on st.
func New(st Store, opt Options) *Service {
	if opt.Deadline <= 0 {
		opt.Deadline = DefaultDeadline
	}
	if opt.HoldTTL <= 0 {
		opt.HoldTTL = DefaultHoldTTL
	}
	if opt.SweepEvery <= 0 {
		opt.SweepEvery = DefaultSweepEvery
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.Log == nil {
		opt.Log = slog.Default()
	}
	return &Service{st: st, opt: opt}
}

// Result is a Task as stored after an interaction.
type Result struct {
	// Status is 201 for a Task created, 200 otherwise.
	Status   int
	Resource fhir.Resource
	// Warnings are remarks on the answer (a hold standing above a
	// posting's vacancies, say).
	Warnings discharge.Issues
}

// Searchset is one page of Tasks the caller may see.
type Searchset struct {
	Total   int
	Links   []fhir.Link
	Entries []fhir.BundleEntryOut
	// Warnings name the parameters that were not applied (the gateway
	// renders them as the searchset's outcome entry, as every search).
	Warnings discharge.Issues
}

// attempts bounds how often a system move (confirmation, expiry, case
// closure) is recomputed after another change to the same Tasks won.
const attempts = 5

func (s *Service) now() time.Time { return s.opt.Now().UTC() }

func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// render renders an offer's Task at its version.
func render(o discharge.Offer) (fhir.Resource, error) {
	body, err := mappings.OfferToTask(o)
	if err != nil {
		return fhir.Resource{}, discharge.Wrap(discharge.KindInternal, "referral.render", err)
	}
	return fhir.Resource{Type: "Task", ID: o.ID, VersionID: o.Version, LastUpdated: o.Updated, JSON: body}, nil
}

// write is one offer's next version: it renders the Task and names the
// version it replaces.
func write(o discharge.Offer, prev int64, due time.Time, newHold bool) (OfferWrite, error) {
	t, err := render(o)
	return OfferWrite{Offer: o, Task: t, ExpectVersion: prev, Due: due, NewHold: newHold}, err
}

// next advances an offer to state by a change at now.
func next(o discharge.Offer, to discharge.OfferState, bs discharge.BusinessStatus, now time.Time) discharge.Offer {
	o.State, o.BusinessStatus = to, bs
	o.Version++
	o.Updated = now
	if o.Hold != nil {
		h := *o.Hold
		o.Hold = &h
	}
	return o
}

// endHold gives the hold of an offer leaving accepted its end state.
func endHold(o *discharge.Offer, st discharge.HoldState) {
	if o.Hold != nil && o.Hold.State == discharge.HoldActive {
		o.Hold.State = st
	}
}

func event(o discharge.Offer, kind EventKind, p *auth.Principal, now time.Time, detail string) Event {
	e := Event{Partition: o.Partition, CaseID: o.EncounterID, At: now, Kind: kind, Actor: "system", ActorOrg: "",
		TaskID: o.ID, ProviderOrg: o.OwnerOrg, Detail: detail}
	if p != nil {
		e.Actor, e.ActorOrg = p.ClientID, p.Org
	}
	return e
}

// moveRefused is the 409 of a move the table of legal moves forbids.
func moveRefused(from discharge.OfferState, by discharge.OfferActor, to discharge.OfferState) error {
	return &discharge.Error{Kind: discharge.KindConflict, Op: "referral.move", Issues: []discharge.Issue{{
		Kind: discharge.KindConflict, Expression: "Task.status", Detail: RuleTaskMove,
		Message: string(from) + " -> " + string(to) + " is not allowed for the " + string(by),
	}}}
}

func notFound() error {
	return discharge.E(discharge.KindNotFound, "Task", "No such Task.")
}

// locate finds a Task the caller may see and says as whom it acts: a care
// provider owns Tasks sent to its organisation; a trust requests its own;
// a hub requests its member trusts'. Anything else is not found.
func (s *Service) locate(ctx context.Context, p *auth.Principal, id string) (discharge.Offer, discharge.OfferActor, error) {
	if p == nil || id == "" {
		return discharge.Offer{}, "", notFound()
	}
	if p.Role == auth.RoleCareProvider {
		o, err := s.st.FindOffer(ctx, p.Org, id, true)
		return o, discharge.ActorOwner, err
	}
	for _, org := range p.ReadableOrgs() {
		o, err := s.st.FindOffer(ctx, org, id, false)
		if discharge.ErrorKind(err) == discharge.KindNotFound {
			continue
		}
		return o, discharge.ActorRequester, err
	}
	return discharge.Offer{}, "", notFound()
}

// Send creates one offer from a FHIR Task (POST /fhir/Task): the trust, or
// a hub for a member trust, offers its ServiceRequest to one provider.
func (s *Service) Send(ctx context.Context, p *auth.Principal, body []byte) (Result, error) {
	rs, err := s.SendAll(ctx, p, [][]byte{body})
	if err != nil {
		return Result{}, err
	}
	return rs[0], nil
}

// SendAll creates several offers in one transaction (a transaction Bundle
// of Task creates); all or none. The results are in the Bundle's order.
// Every offer must be of a case of the same trust.
func (s *Service) SendAll(ctx context.Context, p *auth.Principal, bodies [][]byte) ([]Result, error) {
	if p == nil || (p.Role != auth.RoleTrust && p.Role != auth.RoleHub) {
		return nil, discharge.E(discharge.KindForbidden, "Task", "Only a trust, or a hub for a member trust, sends offers.")
	}
	if len(bodies) == 0 {
		return nil, nil
	}
	now := s.now()
	c := Change{At: now}
	for _, body := range bodies {
		o, err := s.newOffer(ctx, p, body, now)
		if err != nil {
			return nil, err
		}
		if c.Partition == "" {
			c.Partition = o.Partition
		} else if c.Partition != o.Partition {
			return nil, discharge.E(discharge.KindBusinessRule, "Task.focus", "One transaction sends offers of one trust's cases.")
		}
		w, err := write(o, 0, o.Deadline, false)
		if err != nil {
			return nil, err
		}
		c.Offers = append(c.Offers, w)
		c.Events = append(c.Events, event(o, EventOfferSent, p, now, ""))
	}
	if err := s.st.Apply(ctx, c); err != nil {
		return nil, err
	}
	out := make([]Result, len(c.Offers))
	for i, w := range c.Offers {
		out[i] = Result{Status: 201, Resource: w.Task}
	}
	return out, nil
}

// newOffer checks a new Task and resolves what it references: the
// ServiceRequest in the caller's (or a member trust's) partition, and the
// provider's Organization and HealthcareService in the directory.
func (s *Service) newOffer(ctx context.Context, p *auth.Principal, body []byte, now time.Time) (discharge.Offer, error) {
	req, err := mappings.TaskToRequest(body)
	if err != nil {
		return discharge.Offer{}, err
	}
	var is discharge.Issues
	if req.Status != discharge.OfferRequested {
		is.Add(discharge.KindValue, "Task.status", "A new offer's Task.status is requested.")
	}
	for _, r := range []struct{ v, expr, what string }{
		{req.ServiceRequestID, "Task.focus", "the ServiceRequest offered"},
		{req.Owner, "Task.owner", "the provider's Organization"},
		{req.HealthcareServiceID, "Task.input", "the HealthcareService offered (input of type " + mappings.OfferParamHealthcareService + ")"},
	} {
		if r.v == "" {
			is.Add(discharge.KindRequired, r.expr, r.expr+" is required: "+r.what+".")
		}
	}
	if req.Requester != "" && req.Requester != p.Org {
		is.Add(discharge.KindValue, "Task.requester", "Task.requester is the sender's own organisation.")
	}
	if !req.Deadline.IsZero() && !req.Deadline.After(now) {
		is.Add(discharge.KindValue, "Task.restriction.period.end", "The deadline to answer is in the past.")
	}
	if err := is.Err(discharge.KindInvalid, "referral.Send"); err != nil {
		return discharge.Offer{}, err
	}
	o := discharge.Offer{ID: newID(), Requester: p.Org, Owner: req.Owner, ServiceRequestID: req.ServiceRequestID,
		HealthcareServiceID: req.HealthcareServiceID, LocationID: req.LocationID, State: discharge.OfferRequested,
		Deadline: req.Deadline, Version: 1, Created: now, Updated: now}
	if o.Deadline.IsZero() {
		o.Deadline = now.Add(s.opt.Deadline)
	}
	// The ServiceRequest: in the caller's partition, or a member trust's.
	var sr fhir.Resource
	for _, org := range p.ReadableOrgs() {
		sr, err = s.st.Read(ctx, org, "ServiceRequest", req.ServiceRequestID)
		if err == nil {
			o.Partition = org
			break
		}
		if discharge.ErrorKind(err) != discharge.KindNotFound {
			return o, err
		}
	}
	if o.Partition == "" {
		return o, discharge.E(discharge.KindValue, "Task.focus", "Task.focus names no ServiceRequest this caller holds.")
	}
	doc, err := mappings.DecodeServiceRequest(sr.JSON)
	if err != nil {
		return o, err
	}
	subject, enc := mappings.ServiceRequestReferences(doc)
	o.PatientID, o.EncounterID = lastSegment(subject, "Patient"), lastSegment(enc, "Encounter")
	if o.EncounterID == "" {
		return o, discharge.E(discharge.KindBusinessRule, "Task.focus", "The ServiceRequest names no Encounter: an offer is of a case.")
	}
	if req.PatientID != "" && req.PatientID != o.PatientID {
		is.Add(discharge.KindValue, "Task.for", "Task.for is not the ServiceRequest's subject.")
	}
	if req.EncounterID != "" && req.EncounterID != o.EncounterID {
		is.Add(discharge.KindValue, "Task.encounter", "Task.encounter is not the ServiceRequest's encounter.")
	}
	// The provider, by its Organization in the directory.
	org, err := s.directory(ctx, "Organization", req.Owner)
	if err != nil {
		return o, err
	}
	if org == nil {
		is.Add(discharge.KindValue, "Task.owner", "Task.owner names no Organization in the directory.")
	} else if o.OwnerOrg = mappings.OrganizationIdentifier(org, mappings.CQCProviderSystem); o.OwnerOrg == "" {
		is.Add(discharge.KindBusinessRule, "Task.owner", "The owner Organization has no CQC provider id: no provider client could answer.")
	}
	svc, err := s.directory(ctx, "HealthcareService", req.HealthcareServiceID)
	if err != nil {
		return o, err
	}
	if svc == nil {
		is.Add(discharge.KindValue, "Task.input", "The offered HealthcareService is not in the directory.")
	} else {
		if by, _ := mappings.HealthcareServiceProvidedBy(svc); lastSegment(by, "Organization") != req.Owner {
			is.Add(discharge.KindBusinessRule, "Task.input", "The offered HealthcareService is not the owner's.")
		}
		locs := mappings.HealthcareServiceLocations(svc)
		if o.LocationID == "" && len(locs) > 0 {
			o.LocationID = lastSegment(locs[0], "Location")
		}
	}
	if err := is.Err(discharge.KindInvalid, "referral.Send"); err != nil {
		return o, err
	}
	return o, nil
}

// directory reads a directory entry as decoded JSON; nil when absent.
func (s *Service) directory(ctx context.Context, typ, id string) (map[string]any, error) {
	r, err := s.st.Read(ctx, fhir.DirectoryPartition, typ, id)
	switch {
	case discharge.ErrorKind(err) == discharge.KindNotFound:
		return nil, nil
	case err != nil:
		return nil, err
	}
	var doc map[string]any
	if err := json.Unmarshal(r.JSON, &doc); err != nil {
		return nil, discharge.Wrap(discharge.KindInternal, "referral.directory", err)
	}
	return doc, nil
}

// lastSegment is the id of a "Type/id" reference to typ, else "".
func lastSegment(ref, typ string) string {
	if i := strings.Index(ref, "/_history/"); i >= 0 {
		ref = ref[:i]
	}
	parts := strings.Split(ref, "/")
	if n := len(parts); n >= 2 && parts[n-2] == typ {
		return parts[n-1]
	}
	return ""
}

// Update answers or withdraws an offer (PUT /fhir/Task/{id} with
// If-Match): the owner marks it received, accepted (with a hold) or
// rejected; the requester cancels it, or confirms it (in-progress, as
// $confirm). If-Match is optional; when given, a version that is not
// current is KindPrecondition. The same status again changes nothing.
func (s *Service) Update(ctx context.Context, p *auth.Principal, id string, body []byte, ifMatch string) (Result, error) {
	o, actor, err := s.locate(ctx, p, id)
	if err != nil {
		return Result{}, err
	}
	req, err := mappings.TaskToRequest(body)
	if err != nil {
		return Result{}, err
	}
	if req.ID != "" && req.ID != id {
		return Result{}, discharge.E(discharge.KindValue, "Task.id", "Task.id differs from the URL's id.")
	}
	if ifMatch != "" {
		v, ok := fhir.ParseETag(ifMatch)
		if !ok {
			return Result{}, discharge.E(discharge.KindValue, "If-Match", "If-Match is a version ETag such as W/\"2\".")
		}
		if v != o.Version {
			return Result{}, discharge.E(discharge.KindPrecondition, "Task.meta.versionId", "The Task is at version "+
				strconv.FormatInt(o.Version, 10)+", not "+strconv.FormatInt(v, 10)+".")
		}
	}
	for _, c := range []struct{ got, want, expr string }{
		{req.ServiceRequestID, o.ServiceRequestID, "Task.focus"}, {req.Owner, o.Owner, "Task.owner"},
		{req.PatientID, o.PatientID, "Task.for"}, {req.EncounterID, o.EncounterID, "Task.encounter"},
	} {
		if c.got != "" && c.got != c.want {
			return Result{}, &discharge.Error{Kind: discharge.KindConflict, Op: "referral.Update", Issues: []discharge.Issue{{
				Kind: discharge.KindConflict, Expression: c.expr, Detail: RuleTaskContent,
				Message: c.expr + " cannot change: an offer is to one provider, of one ServiceRequest."}}}
		}
	}
	if req.Status == o.State {
		r, err := s.st.Read(ctx, o.Partition, "Task", id)
		return Result{Status: 200, Resource: r}, err
	}
	if !discharge.CanMove(o.State, actor, req.Status) {
		return Result{}, moveRefused(o.State, actor, req.Status)
	}
	if req.Status == discharge.OfferInProgress {
		return s.confirm(ctx, p, o)
	}
	now := s.now()
	n := next(o, req.Status, "", now)
	var kind EventKind
	var detail string
	var due time.Time
	newHold := false
	switch req.Status {
	case discharge.OfferReceived:
		kind, due = EventOfferReceived, o.Deadline
	case discharge.OfferAccepted:
		loc := req.HeldLocationID
		if loc == "" {
			loc = o.LocationID
		}
		var is discharge.Issues
		switch {
		case loc == "":
			is.Add(discharge.KindRequired, "Task.output", "An acceptance names the Location of the held bed (output of type "+mappings.OfferParamLocation+").")
		case o.LocationID != "" && loc != o.LocationID:
			is.Add(discharge.KindBusinessRule, "Task.output", "The held bed is at the offered Location.")
		}
		if req.BedType == "" {
			is.Add(discharge.KindRequired, "Task.output", "An acceptance names the bed type held (output of type "+mappings.OfferParamBedType+").")
		}
		if err := is.Err(discharge.KindInvalid, "referral.Update"); err != nil {
			return Result{}, err
		}
		n.Hold = &discharge.Hold{ID: newID(), LocationID: loc, BedType: req.BedType, State: discharge.HoldActive,
			Created: now, Expires: now.Add(s.opt.HoldTTL)}
		kind, detail, due, newHold = EventOfferAccepted, string(req.BedType), n.Hold.Expires, true
	case discharge.OfferRejected:
		switch {
		case req.Reason == "":
			return Result{}, discharge.E(discharge.KindRequired, "Task.statusReason", "A rejection gives a reason from "+mappings.OfferRejectReasonSystem+".")
		case req.Reason == discharge.RejectOther && strings.TrimSpace(req.ReasonText) == "":
			return Result{}, discharge.E(discharge.KindRequired, "Task.statusReason.text", "A rejection for another reason says it in text.")
		}
		n.Reason, n.ReasonText = req.Reason, req.ReasonText
		kind, detail = EventOfferRejected, string(req.Reason)
	case discharge.OfferCancelled:
		n.BusinessStatus = discharge.BusinessWithdrawn
		endHold(&n, discharge.HoldReleased)
		kind, detail = EventOfferCancelled, string(discharge.BusinessWithdrawn)
	default:
		return Result{}, moveRefused(o.State, actor, req.Status)
	}
	w, err := write(n, o.Version, due, newHold)
	if err != nil {
		return Result{}, err
	}
	err = s.st.Apply(ctx, Change{Partition: o.Partition, At: now, Offers: []OfferWrite{w},
		Events: []Event{event(n, kind, p, now, detail)}})
	if discharge.ErrorKind(err) == discharge.KindRetry {
		// Another change to this Task committed first: this one was
		// decided on a version that is no longer current.
		return Result{}, discharge.E(discharge.KindPrecondition, "Task.meta.versionId", "The Task changed meanwhile; read it again.")
	}
	if err != nil {
		return Result{}, err
	}
	return Result{Status: 200, Resource: w.Task}, nil
}

// Confirm is the requester's confirmation of one accepted offer (POST
// /fhir/Task/{id}/$confirm): its hold becomes the admission and the case's
// other open offers are cancelled (superseded), their holds released, in
// one transaction.
func (s *Service) Confirm(ctx context.Context, p *auth.Principal, id string) (Result, error) {
	o, actor, err := s.locate(ctx, p, id)
	if err != nil {
		return Result{}, err
	}
	if !discharge.CanMove(o.State, actor, discharge.OfferInProgress) {
		return Result{}, moveRefused(o.State, actor, discharge.OfferInProgress)
	}
	return s.confirm(ctx, p, o)
}

func (s *Service) confirm(ctx context.Context, p *auth.Principal, o discharge.Offer) (Result, error) {
	for attempt := 1; ; attempt++ {
		res, err := s.tryConfirm(ctx, p, o)
		if discharge.ErrorKind(err) != discharge.KindRetry || attempt >= attempts {
			return res, err
		}
		// A sibling changed meanwhile: read again and decide again.
		if o, err = s.st.FindOffer(ctx, o.Partition, o.ID, false); err != nil {
			return Result{}, err
		}
		if !discharge.CanMove(o.State, discharge.ActorRequester, discharge.OfferInProgress) {
			return Result{}, moveRefused(o.State, discharge.ActorRequester, discharge.OfferInProgress)
		}
	}
}

func (s *Service) tryConfirm(ctx context.Context, p *auth.Principal, o discharge.Offer) (Result, error) {
	now := s.now()
	siblings, err := s.st.CaseOffers(ctx, o.Partition, o.ServiceRequestID, "")
	if err != nil {
		return Result{}, err
	}
	n := next(o, discharge.OfferInProgress, "", now)
	endHold(&n, discharge.HoldAdmitted)
	w, err := write(n, o.Version, time.Time{}, false)
	if err != nil {
		return Result{}, err
	}
	c := Change{Partition: o.Partition, At: now, Offers: []OfferWrite{w}}
	for _, sib := range siblings {
		if sib.ID == o.ID || !sib.State.Open() {
			continue
		}
		sn := next(sib, discharge.OfferCancelled, discharge.BusinessSuperseded, now)
		endHold(&sn, discharge.HoldReleased)
		sw, err := write(sn, sib.Version, time.Time{}, false)
		if err != nil {
			return Result{}, err
		}
		c.Offers = append(c.Offers, sw)
		c.Events = append(c.Events, event(sn, EventOfferCancelled, nil, now, string(discharge.BusinessSuperseded)))
	}
	c.Events = append(c.Events, event(n, EventConfirmed, p, now, ""))
	if err := s.st.Apply(ctx, c); err != nil {
		return Result{}, err
	}
	return Result{Status: 200, Resource: w.Task}, nil
}

// Sweep moves every offer due at now, exactly once: unanswered past its
// deadline to failed (expired); accepted with its hold past expiry to
// failed (hold-lapsed), releasing the hold. Each move is conditional on
// the Task's version, so two gateways sweeping at once move each offer
// once (the loser's transaction is refused and skipped), and the timers
// are in the record, so a restart misses nothing. It returns how many
// offers this call moved.
func (s *Service) Sweep(ctx context.Context, now time.Time) (int, error) {
	now = now.UTC()
	moved := 0
	for {
		due, err := s.st.Due(ctx, now, 200)
		if err != nil {
			return moved, err
		}
		// progress counts the timers this batch saw end (moved here, or by
		// whoever won the race); a batch that ended none would only find
		// the same timers again.
		progress := 0
		for _, d := range due {
			ok, err := s.expire(ctx, d, now)
			switch {
			case discharge.ErrorKind(err) == discharge.KindRetry:
				progress++ // another sweeper (or an answer) got there first
				continue
			case discharge.ErrorKind(err) == discharge.KindNotFound:
				continue
			case err != nil:
				return moved, err
			}
			if ok {
				progress++
				moved++
			}
		}
		if len(due) < 200 || progress == 0 {
			return moved, nil
		}
	}
}

// expire moves one due offer; false when it was not due after all.
func (s *Service) expire(ctx context.Context, d Due, now time.Time) (bool, error) {
	o, err := s.st.FindOffer(ctx, d.Partition, d.TaskID, false)
	if err != nil {
		return false, err
	}
	var n discharge.Offer
	var kind EventKind
	switch {
	case (o.State == discharge.OfferRequested || o.State == discharge.OfferReceived) && !o.Deadline.After(now):
		n, kind = next(o, discharge.OfferFailed, discharge.BusinessExpired, now), EventOfferExpired
	case o.State == discharge.OfferAccepted && o.Hold != nil && !o.Hold.Expires.After(now):
		n, kind = next(o, discharge.OfferFailed, discharge.BusinessHoldLapsed, now), EventHoldLapsed
		endHold(&n, discharge.HoldLapsed)
	default:
		return false, nil
	}
	w, err := write(n, o.Version, time.Time{}, false)
	if err != nil {
		return false, err
	}
	return true, s.st.Apply(ctx, Change{Partition: o.Partition, At: now, Offers: []OfferWrite{w},
		Events: []Event{event(n, kind, nil, now, string(n.BusinessStatus))}})
}

// Run sweeps every SweepEvery until ctx ends. Failures are logged (with
// no patient identifier) and the next tick tries again.
func (s *Service) Run(ctx context.Context) {
	t := time.NewTicker(s.opt.SweepEvery)
	defer t.Stop()
	for {
		if n, err := s.Sweep(ctx, s.now()); err != nil && ctx.Err() == nil {
			s.opt.Log.Warn("referral sweep failed", "err", err)
		} else if n > 0 {
			s.opt.Log.Info("referral sweep", "moved", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// CloseCase closes a case when its Encounter is finished (finished) or
// cancelled: its open offers are cancelled (case-closed) and their holds
// released; a confirmed (in-progress) offer becomes completed (admitted)
// when the Encounter finished. A case already closed is left as it is, so
// calling it again changes nothing.
func (s *Service) CloseCase(ctx context.Context, partition, encounterID string, finished bool) error {
	for attempt := 1; ; attempt++ {
		err := s.tryClose(ctx, partition, encounterID, finished)
		if discharge.ErrorKind(err) != discharge.KindRetry || attempt >= attempts {
			return err
		}
	}
}

func (s *Service) tryClose(ctx context.Context, partition, encounterID string, finished bool) error {
	now := s.now()
	offers, err := s.st.CaseOffers(ctx, partition, "", encounterID)
	if err != nil {
		return err
	}
	c := Change{Partition: partition, At: now}
	for _, o := range offers {
		var n discharge.Offer
		switch {
		case o.State.Open():
			n = next(o, discharge.OfferCancelled, discharge.BusinessCaseClosed, now)
			endHold(&n, discharge.HoldReleased)
			c.Events = append(c.Events, event(n, EventOfferCancelled, nil, now, string(discharge.BusinessCaseClosed)))
		case o.State == discharge.OfferInProgress && finished:
			n = next(o, discharge.OfferCompleted, discharge.BusinessAdmitted, now)
		default:
			continue
		}
		w, err := write(n, o.Version, time.Time{}, false)
		if err != nil {
			return err
		}
		c.Offers = append(c.Offers, w)
	}
	state, kind := CaseCancelled, EventCaseCancelled
	if finished {
		state, kind = CaseDischarged, EventDischarged
	}
	if len(c.Offers) == 0 {
		events, err := s.st.Events(ctx, partition, encounterID)
		if err != nil {
			return err
		}
		if len(events) > 0 && events[len(events)-1].State == state {
			return nil // closed already
		}
	}
	c.Events = append(c.Events, Event{Partition: partition, CaseID: encounterID, At: now, Kind: kind, State: state, Actor: "system"})
	if len(c.Offers) == 0 {
		return s.st.AppendEvent(ctx, c.Events[0])
	}
	return s.st.Apply(ctx, c)
}

// Read returns the current version of a Task the caller may see.
func (s *Service) Read(ctx context.Context, p *auth.Principal, id string) (fhir.Resource, error) {
	o, _, err := s.locate(ctx, p, id)
	if err != nil {
		return fhir.Resource{}, err
	}
	return s.st.Read(ctx, o.Partition, "Task", id)
}

// VRead returns one version of a Task the caller may see.
func (s *Service) VRead(ctx context.Context, p *auth.Principal, id, vid string) (fhir.Resource, error) {
	o, _, err := s.locate(ctx, p, id)
	if err != nil {
		return fhir.Resource{}, err
	}
	v, err := strconv.ParseInt(vid, 10, 64)
	if err != nil || v < 1 {
		return fhir.Resource{}, discharge.E(discharge.KindNotFound, "Task.meta.versionId", "No such version.")
	}
	return s.st.ReadVersion(ctx, o.Partition, "Task", id, v)
}

// History is a history Bundle of a Task's versions, newest first.
func (s *Service) History(ctx context.Context, p *auth.Principal, id string, vals url.Values, base string) ([]byte, error) {
	for name := range vals {
		if name != "_count" && name != "_offset" && name != "_format" {
			return nil, discharge.E(discharge.KindNotSupported, name, "History here supports _count and _offset only.")
		}
	}
	page, err := fhir.ParsePaging(vals, fhir.DefaultCount, fhir.MaxCount)
	if err != nil {
		return nil, err
	}
	o, _, err := s.locate(ctx, p, id)
	if err != nil {
		return nil, err
	}
	versions, total, err := s.st.History(ctx, o.Partition, "Task", id, page.Offset, page.Count)
	if err != nil {
		return nil, err
	}
	entries := make([]fhir.BundleEntryOut, len(versions))
	for i, r := range versions {
		entries[i] = historyEntry(base, r)
	}
	links := fhir.PageLinks(base+"/Task/"+id+"/_history", nil, page, total)
	return fhir.MarshalBundle("history", &total, links, entries), nil
}

func historyEntry(base string, r fhir.Resource) fhir.BundleEntryOut {
	req, status := &fhir.EntryRequest{Method: "PUT", URL: "Task/" + r.ID}, "200 OK"
	if r.VersionID == 1 {
		req, status = &fhir.EntryRequest{Method: "POST", URL: "Task"}, "201 Created"
	}
	return fhir.BundleEntryOut{FullURL: base + "/Task/" + r.ID, Resource: r.JSON, Request: req,
		Response: &fhir.EntryResponse{Status: status, Location: "Task/" + r.ID + "/_history/" + strconv.FormatInt(r.VersionID, 10),
			Etag: fhir.ETag(r.VersionID), LastModified: r.LastUpdated.UTC().Format(time.RFC3339Nano)}}
}

// searchParams are the Task search parameters.
var searchParams = map[string]bool{"owner": true, "status": true, "focus": true, "patient": true, "_lastUpdated": true,
	"_count": true, "_offset": true, "_total": true, "_format": true}

// Search finds the Tasks the caller may see (owner, status, focus,
// patient, _lastUpdated, _count, _offset), with every match counted,
// newest change first. A provider sees the Tasks it owns; a trust its
// own; a hub its member trusts'.
func (s *Service) Search(ctx context.Context, p *auth.Principal, vals url.Values, strict bool, base string) (Searchset, error) {
	page, err := fhir.ParsePaging(vals, fhir.DefaultCount, fhir.MaxCount)
	if err != nil {
		return Searchset{}, err
	}
	q := OfferQuery{}
	used := url.Values{}
	var is, warns discharge.Issues
	for name, vs := range vals {
		if !searchParams[name] {
			msg := "Unknown or unsupported search parameter '" + name + "' for Task; it was not applied."
			if strict {
				is.Add(discharge.KindNotSupported, name, msg)
			} else {
				warns.Warn(discharge.KindNotSupported, name, msg)
			}
			continue
		}
		v := vs[len(vs)-1]
		switch name {
		case "owner":
			q.Owner = lastSegment(v, "Organization")
			if q.Owner == "" {
				q.Owner = v
			}
		case "focus":
			q.ServiceRequest = lastSegment(v, "ServiceRequest")
			if q.ServiceRequest == "" {
				q.ServiceRequest = v
			}
		case "patient":
			q.Patient = lastSegment(v, "Patient")
			if q.Patient == "" {
				q.Patient = v
			}
		case "status":
			for _, st := range strings.Split(v, ",") {
				q.States = append(q.States, discharge.OfferState(st))
			}
		case "_lastUpdated":
			for _, x := range vs {
				if err := lastUpdated(x, &q); err != nil {
					return Searchset{}, err
				}
			}
		default:
			continue
		}
		used[name] = vs
	}
	if err := is.Err(discharge.KindNotSupported, "referral.Search"); err != nil {
		return Searchset{}, err
	}
	var scopes []OfferQuery
	switch {
	case p == nil:
	case p.Role == auth.RoleCareProvider:
		scopes = append(scopes, OfferQuery{Org: p.Org, AsOwner: true})
	default:
		for _, org := range p.ReadableOrgs() {
			scopes = append(scopes, OfferQuery{Org: org})
		}
	}
	var found []discharge.Offer
	total := 0
	for _, sc := range scopes {
		qq := q
		qq.Org, qq.AsOwner = sc.Org, sc.AsOwner
		qq.Offset, qq.Count = 0, page.Offset+page.Count
		if len(scopes) == 1 {
			qq.Offset, qq.Count = page.Offset, page.Count
		}
		os, n, err := s.st.SearchOffers(ctx, qq)
		if err != nil {
			return Searchset{}, err
		}
		found = append(found, os...)
		total += n
	}
	if len(scopes) > 1 { // merge the members' pages
		sort.SliceStable(found, func(i, j int) bool { return found[i].Updated.After(found[j].Updated) })
		found = found[min(page.Offset, len(found)):]
		found = found[:min(page.Count, len(found))]
	}
	out := Searchset{Total: total, Links: fhir.PageLinks(base+"/Task", used, page, total), Warnings: warns}
	for _, o := range found {
		r, err := s.st.Read(ctx, o.Partition, "Task", o.ID)
		if discharge.ErrorKind(err) == discharge.KindNotFound {
			continue
		}
		if err != nil {
			return Searchset{}, err
		}
		out.Entries = append(out.Entries, fhir.BundleEntryOut{FullURL: base + "/Task/" + o.ID, Resource: r.JSON, SearchMode: "match"})
	}
	return out, nil
}

// lastUpdated reads one _lastUpdated value: ge, gt, le, lt or eq an
// instant (eq: that very instant).
func lastUpdated(v string, q *OfferQuery) error {
	prefix := "eq"
	if len(v) > 2 && strings.Trim(v[:2], "abcdefghijklmnopqrstuvwxyz") == "" {
		prefix, v = v[:2], v[2:]
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return discharge.E(discharge.KindValue, "_lastUpdated", "_lastUpdated takes an instant with a time zone here.")
	}
	switch prefix {
	case "ge", "sa", "gt":
		if prefix != "ge" {
			t = t.Add(time.Nanosecond)
		}
		q.UpdatedFrom = t
	case "lt", "eb", "le":
		if prefix == "le" {
			t = t.Add(time.Nanosecond)
		}
		q.UpdatedTo = t
	case "eq":
		q.UpdatedFrom, q.UpdatedTo = t, t.Add(time.Nanosecond)
	default:
		return discharge.E(discharge.KindValue, "_lastUpdated", "Unknown prefix "+prefix+".")
	}
	return nil
}
