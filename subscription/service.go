// Package subscription runs FHIR R4 topic-based Subscriptions (the
// Subscriptions R5 Backport IG): subscribers create, read, search and
// delete their Subscriptions and ask for $status and $events; a Deliverer
// turns the record's transactional outbox into numbered events per
// Subscription and POSTs them to each endpoint, at least once and in
// order. See docs/subscriptions.md.
package subscription

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/dischargegateway/gateway/auth"
	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/fhir"
	"github.com/dischargegateway/gateway/mappings"
)

// Store is the record of Subscriptions, their numbered events and the
// outbox they are made from (adapters/sqlstore.Subscriptions).
type Store interface {
	CreateSubscription(ctx context.Context, s discharge.Subscription) error
	// Subscription reads one (KindNotFound when there is none).
	Subscription(ctx context.Context, id string) (discharge.Subscription, error)
	// SubscriptionsOf lists an organisation's Subscriptions by id.
	SubscriptionsOf(ctx context.Context, org string) ([]discharge.Subscription, error)
	DeleteSubscription(ctx context.Context, id string) error
	// SubscriptionEvents reads a Subscription's events numbered from
	// since to until (inclusive), at most limit.
	SubscriptionEvents(ctx context.Context, id string, since, until int64, limit int) ([]discharge.SubscriptionEvent, error)
	// Fanout takes up to limit undelivered outbox rows in order and, in one
	// transaction, gives each Subscription match picks its next event
	// number, then marks the rows fanned out. It returns how many rows it
	// took; only one Fanout runs at a time across replicas.
	Fanout(ctx context.Context, limit int, match func(OutboxEvent, []discharge.Subscription) []string) (int, error)
	// Claim leases up to limit Subscriptions with something due at now
	// (events past Acked, a handshake, a heartbeat) to owner until
	// now+lease; a Subscription leased to a live replica is skipped. With
	// each (but a requested one, whose handshake comes first) come its
	// next events after Acked, in order, at most batch (or its MaxCount),
	// read in the same transaction.
	Claim(ctx context.Context, owner string, now time.Time, lease time.Duration, heartbeatDue bool, limit, batch int) ([]Claimed, error)
	// Settle records deliveries' outcomes under owner's leases and
	// releases them (the new status, acked number, failures, next attempt
	// and error), all in one transaction; an outcome whose lease is no
	// longer owner's changes nothing.
	Settle(ctx context.Context, owner string, os []Outcome) error
	// Wait blocks until the outbox may have new rows (a NOTIFY on
	// PostgreSQL) or d passes.
	Wait(ctx context.Context, d time.Duration)
}

// OutboxEvent is one outbox row as the matcher sees it: ids, codes and
// organisations, no clinical detail.
type OutboxEvent struct {
	Topic     string // "Task", "Case", "Capacity"
	Partition string
	Focus     string // "Task/1", "Encounter/2", "Location/3"
	Version   int64
	At        time.Time
	OwnerOrg  string // Task: the provider it is offered to
	State     string // Case: the case state
}

// Claimed is a Subscription Store.Claim leased, with its next events.
type Claimed struct {
	Sub    discharge.Subscription
	Events []discharge.SubscriptionEvent
}

// Outcome is a delivery's result for Store.Settle.
type Outcome struct {
	ID          string
	Status      discharge.SubscriptionStatus
	Acked       int64
	Failures    int
	NextAttempt time.Time
	LastSent    time.Time
	LastError   string
}

// Reader gives the foci of full-resource payloads as the subscriber may
// read them (the referral service's read rules, not a copy of them).
type Reader interface {
	ReadTaskVersion(ctx context.Context, p *auth.Principal, id, vid string) (fhir.Resource, error)
}

// RecordReader reads the other topics' foci, the case's Encounter and the
// posting Location, as the FHIR read interaction would show them to the
// subscriber (records.Service.Read: the organisations it may read, not
// found otherwise), with the partition that held it.
type RecordReader interface {
	Read(ctx context.Context, p *auth.Principal, typ, id string) (fhir.Resource, string, error)
}

// Config configures a Service.
type Config struct {
	// Endpoints are the endpoint safety rules.
	Endpoints EndpointPolicy
	Limits    fhir.Limits
	// SecretKey seals the signing secrets at rest (secret.go; nil: in
	// clear). The Deliverer needs the same key.
	SecretKey []byte
	Now       func() time.Time
}

// Service manages Subscriptions for callers.
type Service struct {
	st  Store
	cfg Config
}

// New returns a Service on st.
func New(st Store, cfg Config) *Service {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Service{st: st, cfg: cfg}
}

// Created is a new Subscription and its signing secret, shown once.
type Created struct {
	Resource fhir.Resource
	Secret   string
}

// topicRoles says who may subscribe to each topic.
var topicRoles = map[discharge.SubscriptionTopic][]auth.Role{
	discharge.TopicReferralOffered: {auth.RoleCareProvider},
	discharge.TopicTaskStatus:      {auth.RoleCareProvider, auth.RoleTrust, auth.RoleHub},
	discharge.TopicCaseState:       {auth.RoleTrust, auth.RoleHub},
	discharge.TopicCapacityPosting: {auth.RoleTrust, auth.RoleHub},
}

// Create stores a new Subscription for the caller, requested until the
// Deliverer's handshake succeeds.
func (s *Service) Create(ctx context.Context, p *auth.Principal, body []byte) (Created, error) {
	if p == nil {
		return Created{}, discharge.E(discharge.KindForbidden, "", "No caller.")
	}
	sub, err := mappings.DecodeSubscription(body, s.cfg.Limits)
	if err != nil {
		return Created{}, err
	}
	if !slices.Contains(topicRoles[sub.Topic], p.Role) {
		return Created{}, discharge.E(discharge.KindForbidden, "Subscription.criteria",
			"The caller's role may not subscribe to this topic.")
	}
	allowed := mappings.TopicFilters(sub.Topic)
	for name := range sub.Filters {
		if !slices.Contains(allowed, name) {
			return Created{}, discharge.E(discharge.KindNotSupported, "Subscription.criteria.extension",
				"The topic does not filter on "+name+"; it takes: "+joinOr(allowed)+".")
		}
	}
	// A full-resource payload is a read made for the subscriber at each
	// delivery, so it needs the scope that read would need now.
	if res := mappings.TopicResource(sub.Topic); sub.Payload == discharge.PayloadFullResource && !p.Scopes.Allows(res, 'r') {
		return Created{}, discharge.E(discharge.KindForbidden, "Subscription.channel.payload",
			"full-resource reads each "+res+" for the subscriber: the access token needs system/"+res+".r (or use id-only).")
	}
	for i, h := range sub.Headers {
		if name, _, _ := strings.Cut(h, ":"); reserved(name) {
			return Created{}, discharge.E(discharge.KindBusinessRule, "Subscription.channel.header["+strconv.Itoa(i)+"]",
				"The gateway sets this header itself.")
		}
	}
	if err := s.cfg.Endpoints.Check(sub.Endpoint); err != nil {
		return Created{}, err
	}
	now := s.cfg.Now().UTC()
	if !sub.End.IsZero() && !sub.End.After(now) {
		return Created{}, discharge.E(discharge.KindValue, "Subscription.end", "Subscription.end is in the past.")
	}
	sub.ID, sub.Secret = newID(), newID()+newID()
	sub.Owner = discharge.Subscriber{ClientID: p.ClientID, Org: p.Org, Role: string(p.Role), Members: p.Members}
	sub.Status, sub.Created = discharge.SubscriptionRequested, now
	secret := sub.Secret
	if sub.Secret, err = sealSecret(s.cfg.SecretKey, sub.ID, secret); err != nil {
		return Created{}, discharge.Wrap(discharge.KindInternal, "subscription.Create", err)
	}
	if err := s.st.CreateSubscription(ctx, sub); err != nil {
		return Created{}, err
	}
	r, err := render(sub)
	return Created{Resource: r, Secret: secret}, err
}

func joinOr(xs []string) string {
	if len(xs) == 0 {
		return "no filters"
	}
	out := ""
	for i, x := range xs {
		if i > 0 {
			out += ", "
		}
		out += x
	}
	return out
}

func render(sub discharge.Subscription) (fhir.Resource, error) {
	body, err := mappings.SubscriptionToFHIR(sub)
	if err != nil {
		return fhir.Resource{}, discharge.Wrap(discharge.KindInternal, "subscription.render", err)
	}
	return fhir.Resource{Type: "Subscription", ID: sub.ID, VersionID: 1, LastUpdated: sub.Created, JSON: body}, nil
}

func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// own reads a Subscription the caller's organisation created; any other
// is not found.
func (s *Service) own(ctx context.Context, p *auth.Principal, id string) (discharge.Subscription, error) {
	sub, err := s.st.Subscription(ctx, id)
	if err == nil && (p == nil || sub.Owner.Org != p.Org) {
		err = discharge.E(discharge.KindNotFound, "Subscription.id", "No such Subscription.")
	}
	return sub, err
}

// Read returns one of the caller's Subscriptions.
func (s *Service) Read(ctx context.Context, p *auth.Principal, id string) (fhir.Resource, error) {
	sub, err := s.own(ctx, p, id)
	if err != nil {
		return fhir.Resource{}, err
	}
	return render(sub)
}

// Search lists the caller's Subscriptions (status narrows them), all of
// them in one page: an organisation has a handful.
func (s *Service) Search(ctx context.Context, p *auth.Principal, vals url.Values) ([]fhir.Resource, error) {
	for name := range vals {
		if name != "status" && name != "_format" && name != "_count" {
			return nil, discharge.E(discharge.KindNotSupported, name, "Subscription search supports status only.")
		}
	}
	subs, err := s.st.SubscriptionsOf(ctx, p.Org)
	if err != nil {
		return nil, err
	}
	var out []fhir.Resource
	for _, sub := range subs {
		if st := vals.Get("status"); st != "" && string(sub.Status) != st {
			continue
		}
		r, err := render(sub)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

// Delete removes one of the caller's Subscriptions and its events.
func (s *Service) Delete(ctx context.Context, p *auth.Principal, id string) error {
	if _, err := s.own(ctx, p, id); err != nil {
		return err
	}
	return s.st.DeleteSubscription(ctx, id)
}

// Status is $status: the query-status notification Bundle.
func (s *Service) Status(ctx context.Context, p *auth.Principal, id, base string) ([]byte, error) {
	sub, err := s.own(ctx, p, id)
	if err != nil {
		return nil, err
	}
	return s.bundle(discharge.Notification{Subscription: sub, Type: discharge.NotifyQueryStatus}, base)
}

// maxEventsPage bounds one $events answer.
const maxEventsPage = 100

// Events is $events: the events numbered eventsSinceNumber to
// eventsUntilNumber (both optional, inclusive), at most maxEventsPage, as
// a query-event Bundle with id-only foci (content may ask for empty).
func (s *Service) Events(ctx context.Context, p *auth.Principal, id string, params map[string]string, base string) ([]byte, error) {
	sub, err := s.own(ctx, p, id)
	if err != nil {
		return nil, err
	}
	since, until := int64(1), sub.Events
	for name, v := range params {
		switch name {
		case "eventsSinceNumber", "eventsUntilNumber":
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < 0 {
				return nil, discharge.E(discharge.KindValue, name, name+" is a non-negative event number.")
			}
			if name == "eventsSinceNumber" {
				since = n
			} else {
				until = min(n, until)
			}
		case "content":
			switch discharge.PayloadContent(v) {
			case discharge.PayloadEmpty, discharge.PayloadIDOnly:
				sub.Payload = discharge.PayloadContent(v)
			case discharge.PayloadFullResource:
				// A hint the IG lets a server ignore: foci stay id-only here,
				// the subscriber reads each with its own token.
				sub.Payload = discharge.PayloadIDOnly
			default:
				return nil, discharge.E(discharge.KindCodeInvalid, "content", "content is empty, id-only or full-resource.")
			}
		default:
			return nil, discharge.E(discharge.KindNotSupported, name, "$events takes eventsSinceNumber, eventsUntilNumber and content.")
		}
	}
	if sub.Payload == discharge.PayloadFullResource {
		sub.Payload = discharge.PayloadIDOnly
	}
	var evs []discharge.SubscriptionEvent
	if since <= until {
		if evs, err = s.st.SubscriptionEvents(ctx, id, since, until, maxEventsPage); err != nil {
			return nil, err
		}
	}
	return s.bundle(discharge.Notification{Subscription: sub, Type: discharge.NotifyQueryEvent, Events: evs}, base)
}

func (s *Service) bundle(n discharge.Notification, base string) ([]byte, error) {
	b, err := mappings.NotificationBundle(n, base, s.cfg.Now())
	if err != nil {
		return nil, discharge.Wrap(discharge.KindInternal, "subscription.bundle", err)
	}
	return b, nil
}

// Principal is the caller a Subscription speaks for, rebuilt for reads
// made on its behalf at delivery.
func Principal(o discharge.Subscriber) *auth.Principal {
	return &auth.Principal{ClientID: o.ClientID, Org: o.Org, Role: auth.Role(o.Role), Members: o.Members,
		Scopes: auth.Scopes{"Task": "rs", "Encounter": "r", "Location": "r"}}
}

// Match lists the Subscriptions that hear of e: the topic's trigger, the
// subscriber's right to read the focus (its organisation owns or requests
// the Task, or sees the case's trust), then the filters. It is the one
// place the tenancy of notifications is decided.
func Match(e OutboxEvent, subs []discharge.Subscription) []string {
	var out []string
	for _, sub := range subs {
		// A Subscription in error still numbers its events, so that $events
		// can catch its subscriber up; only off and ended ones do not.
		if sub.Status == discharge.SubscriptionOff || !sub.End.IsZero() && e.At.After(sub.End) {
			continue
		}
		// The subscriber's role and organisations, as Principal gives
		// them, without the scopes map Principal allocates: Match runs for
		// every event against every live Subscription (thousands of times
		// a fan-out in the load test), and only reads the role and orgs.
		p := &auth.Principal{Org: sub.Owner.Org, Role: auth.Role(sub.Owner.Role), Members: sub.Owner.Members}
		ok := false
		switch sub.Topic {
		case discharge.TopicReferralOffered:
			ok = e.Topic == "Task" && e.Version == 1 && p.Role == auth.RoleCareProvider && e.OwnerOrg == p.Org
		case discharge.TopicTaskStatus:
			ok = e.Topic == "Task" && e.Version > 1 &&
				(p.Role == auth.RoleCareProvider && e.OwnerOrg == p.Org || p.Role != auth.RoleCareProvider && p.CanSee(e.Partition))
		case discharge.TopicCaseState:
			ok = e.Topic == "Case" && p.CanSee(e.Partition) && filterOK(sub.Filters, "state", e.State)
		case discharge.TopicCapacityPosting:
			ok = e.Topic == "Capacity" && (p.Role == auth.RoleHub || p.Role == auth.RoleTrust) &&
				filterOK(sub.Filters, "location", e.Focus)
		}
		if ok {
			out = append(out, sub.ID)
		}
	}
	return out
}

func filterOK(f map[string]string, name, v string) bool {
	want, ok := f[name]
	if !ok {
		return true
	}
	return want == v || "Location/"+want == v
}
