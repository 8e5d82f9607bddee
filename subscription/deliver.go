package subscription

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/mappings"
)

// DelivererConfig configures a Deliverer; zero values take the defaults.
type DelivererConfig struct {
	// ID names this replica's leases (a random id when empty).
	ID string
	// Endpoints are the endpoint safety rules, applied again at connect.
	Endpoints EndpointPolicy
	// BaseURL is the FHIR base the notifications name (Subscription/{id}).
	BaseURL string
	// Poll is how long Run waits for a NOTIFY before looking anyway.
	Poll time.Duration
	// Timeout bounds one POST (a Subscription's own timeout, if shorter,
	// wins).
	Timeout time.Duration
	// Lease is how long a claimed Subscription is this replica's (default
	// 3·Timeout+5s). Keep it longer than Timeout, or another replica takes
	// over a live delivery and the receiver gets it twice.
	Lease time.Duration
	// PerEndpoint bounds concurrent deliveries to one endpoint host, and
	// Workers all concurrent deliveries of this replica.
	PerEndpoint, Workers int
	// MaxFailures failed deliveries in a row put a Subscription in error.
	MaxFailures int
	// BackoffBase doubles per failure up to BackoffMax, jittered.
	BackoffBase, BackoffMax time.Duration
	// Batch bounds the events of one notification (a Subscription's max
	// count, if lower, wins).
	Batch int
	Now   func() time.Time
	Log   *slog.Logger
}

// Defaults of DelivererConfig.
const (
	DefaultPoll        = 250 * time.Millisecond
	DefaultTimeout     = 10 * time.Second
	DefaultPerEndpoint = 4
	DefaultWorkers     = 64
	DefaultMaxFailures = 10
	DefaultBackoffBase = time.Second
	DefaultBackoffMax  = 5 * time.Minute
	DefaultBatch       = 50
)

// Deliverer runs the outbox: it numbers new events per Subscription
// (Store.Fanout) and delivers each Subscription's due events, handshake or
// heartbeat, one notification at a time per Subscription, in order. Any
// number of Deliverers may run on one record (one per replica).
type Deliverer struct {
	st     Store
	read   Reader
	cfg    DelivererConfig
	client *http.Client

	mu       sync.Mutex
	inflight int
	hosts    map[string]int
	wg       sync.WaitGroup
	// freed is signalled when a delivery ends, so a Deliverer whose
	// workers were all busy claims again at once rather than after Poll.
	freed chan struct{}
}

// NewDeliverer returns a Deliverer on st; read serves full-resource
// payloads (nil: foci are sent id-only).
func NewDeliverer(st Store, read Reader, cfg DelivererConfig) *Deliverer {
	if cfg.ID == "" {
		cfg.ID = newID()
	}
	if cfg.Poll <= 0 {
		cfg.Poll = DefaultPoll
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.Lease <= 0 {
		cfg.Lease = 3*cfg.Timeout + 5*time.Second
	}
	if cfg.PerEndpoint <= 0 {
		cfg.PerEndpoint = DefaultPerEndpoint
	}
	if cfg.Workers <= 0 {
		cfg.Workers = DefaultWorkers
	}
	if cfg.MaxFailures <= 0 {
		cfg.MaxFailures = DefaultMaxFailures
	}
	if cfg.BackoffBase <= 0 {
		cfg.BackoffBase = DefaultBackoffBase
	}
	if cfg.BackoffMax <= 0 {
		cfg.BackoffMax = DefaultBackoffMax
	}
	if cfg.Batch <= 0 {
		cfg.Batch = DefaultBatch
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	client := &http.Client{Transport: cfg.Endpoints.Transport(cfg.Timeout),
		// A redirect could lead anywhere; a notification goes where it was
		// registered or fails.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return &Deliverer{st: st, read: read, cfg: cfg, client: client, hosts: map[string]int{}, freed: make(chan struct{}, 1)}
}

// Run delivers until ctx ends, then waits for deliveries in flight.
func (d *Deliverer) Run(ctx context.Context) {
	defer d.wg.Wait()
	for ctx.Err() == nil {
		if d.Step(ctx) {
			continue
		}
		d.mu.Lock()
		saturated := d.inflight >= d.cfg.Workers
		d.mu.Unlock()
		if saturated {
			// Every worker busy: claim again as soon as one is free.
			select {
			case <-ctx.Done():
			case <-d.freed:
			case <-time.After(d.cfg.Poll):
			}
			continue
		}
		d.st.Wait(ctx, d.cfg.Poll)
	}
}

// fanoutBatch is how many outbox rows one Fanout takes.
const fanoutBatch = 500

// Step fans out the outbox and starts the deliveries now due, without
// waiting for them; it reports whether there may be more to do at once.
func (d *Deliverer) Step(ctx context.Context) bool {
	more := false
	n, err := d.st.Fanout(ctx, fanoutBatch, Match)
	if err != nil {
		d.cfg.Log.Warn("subscription fan-out failed", slog.String("error", err.Error()))
	}
	if n == fanoutBatch {
		more = true
	}
	d.mu.Lock()
	free := d.cfg.Workers - d.inflight
	d.mu.Unlock()
	if free <= 0 {
		return more
	}
	subs, err := d.st.Claim(ctx, d.cfg.ID, d.cfg.Now(), d.cfg.Lease, true, free)
	if err != nil {
		d.cfg.Log.Warn("subscription claim failed", slog.String("error", err.Error()))
		return more
	}
	for _, sub := range subs {
		host := endpointHost(sub.Endpoint)
		d.mu.Lock()
		if d.hosts[host] >= d.cfg.PerEndpoint {
			d.mu.Unlock()
			// The endpoint is busy: give the lease back for later, as it was.
			_ = d.st.Settle(ctx, d.cfg.ID, Outcome{ID: sub.ID, Status: sub.Status, Acked: sub.Acked,
				Failures: sub.Failures, NextAttempt: d.cfg.Now().Add(d.cfg.Poll), LastError: sub.LastError})
			continue
		}
		d.hosts[host]++
		d.inflight++
		d.mu.Unlock()
		d.wg.Add(1)
		go func() {
			defer d.wg.Done()
			defer func() {
				d.mu.Lock()
				d.hosts[host]--
				d.inflight--
				d.mu.Unlock()
				select {
				case d.freed <- struct{}{}:
				default:
				}
			}()
			d.deliver(context.WithoutCancel(ctx), sub)
		}()
	}
	return more || len(subs) == free
}

// Wait waits for the deliveries in flight (tests).
func (d *Deliverer) Wait() { d.wg.Wait() }

func endpointHost(endpoint string) string {
	u, err := url.Parse(endpoint)
	if err != nil {
		return endpoint
	}
	return strings.ToLower(u.Host)
}

// deliver sends one notification for sub and settles the outcome.
func (d *Deliverer) deliver(ctx context.Context, sub discharge.Subscription) {
	n := discharge.Notification{Subscription: sub}
	switch {
	case sub.Status == discharge.SubscriptionRequested:
		n.Type = discharge.NotifyHandshake
		// The handshake says active: it is what the Subscription becomes.
		n.Subscription.Status = discharge.SubscriptionActive
	default:
		// A claim does not say how many events are due (the counter is
		// the fan-out's): read them; none means a heartbeat is.
		limit := d.cfg.Batch
		if sub.MaxCount > 0 && sub.MaxCount < limit {
			limit = sub.MaxCount
		}
		evs, err := d.st.SubscriptionEvents(ctx, sub.ID, sub.Acked+1, math.MaxInt64, limit)
		if err != nil {
			d.fail(ctx, sub, "reading events failed")
			return
		}
		if len(evs) == 0 {
			n.Type = discharge.NotifyHeartbeat
			n.Subscription.Events = sub.Acked
			break
		}
		n.Type = discharge.NotifyEvent
		n.Events = evs
		// eventsSinceSubscriptionStart is the last number this
		// notification carries, so a receiver sees no gap ahead.
		if len(evs) > 0 {
			n.Subscription.Events = evs[len(evs)-1].Number
		}
		if sub.Payload == discharge.PayloadFullResource {
			n.Resources = d.resources(ctx, sub, evs)
		}
	}
	body, err := mappings.NotificationBundle(n, strings.TrimRight(d.cfg.BaseURL, "/"), d.cfg.Now())
	if err != nil {
		d.fail(ctx, sub, "rendering failed")
		return
	}
	if why := d.post(ctx, sub, body); why != "" {
		d.fail(ctx, sub, why)
		return
	}
	o := Outcome{ID: sub.ID, Status: discharge.SubscriptionActive, Acked: sub.Acked, LastSent: d.cfg.Now()}
	if len(n.Events) > 0 {
		o.Acked = n.Events[len(n.Events)-1].Number
	}
	if err := d.st.Settle(ctx, d.cfg.ID, o); err != nil {
		d.cfg.Log.Warn("subscription settle failed", slog.String("subscription", sub.ID), slog.String("error", err.Error()))
	}
}

// resources reads each Task focus as the subscriber would (the referral
// read rules); one it may no longer read is left out.
func (d *Deliverer) resources(ctx context.Context, sub discharge.Subscription, evs []discharge.SubscriptionEvent) map[string][]byte {
	if d.read == nil {
		return nil
	}
	out := map[string][]byte{}
	p := Principal(sub.Owner)
	for _, e := range evs {
		id, ok := strings.CutPrefix(e.Focus, "Task/")
		if !ok {
			continue
		}
		r, err := d.read.ReadTaskVersion(ctx, p, id, strconv.FormatInt(e.Version, 10))
		if err != nil {
			continue
		}
		out[e.Focus+"/_history/"+strconv.FormatInt(e.Version, 10)] = r.JSON
	}
	return out
}

// post POSTs body to the endpoint; it returns why it failed, in words
// with no patient data, or "".
func (d *Deliverer) post(ctx context.Context, sub discharge.Subscription, body []byte) string {
	timeout := d.cfg.Timeout
	if sub.Timeout > 0 && sub.Timeout < timeout {
		timeout = sub.Timeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, sub.Endpoint, bytes.NewReader(body))
	if err != nil {
		return "the endpoint is not a valid URL"
	}
	for _, h := range sub.Headers {
		name, value, _ := strings.Cut(h, ":")
		if !reserved(name) {
			req.Header.Set(strings.TrimSpace(name), strings.TrimSpace(value))
		}
	}
	req.Header.Set("Content-Type", "application/fhir+json")
	req.Header.Set(SignatureHeader, Sign(sub.Secret, d.cfg.Now(), body))
	resp, err := d.client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return "the endpoint did not answer within " + timeout.String()
		}
		return "the endpoint could not be reached"
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return "the endpoint answered HTTP " + strconv.Itoa(resp.StatusCode)
	}
	return ""
}

// fail counts a failed delivery: the next attempt after a jittered
// exponential backoff, or status error after MaxFailures in a row.
func (d *Deliverer) fail(ctx context.Context, sub discharge.Subscription, why string) {
	f := sub.Failures + 1
	o := Outcome{ID: sub.ID, Status: sub.Status, Acked: sub.Acked, Failures: f,
		NextAttempt: d.cfg.Now().Add(d.backoff(f)), LastError: why}
	if f >= d.cfg.MaxFailures {
		o.Status = discharge.SubscriptionError
		o.LastError = why + " (" + strconv.Itoa(f) + " failures in a row)"
	}
	d.cfg.Log.Info("subscription delivery failed", slog.String("subscription", sub.ID), slog.Int("failures", f),
		slog.String("why", why))
	if err := d.st.Settle(ctx, d.cfg.ID, o); err != nil {
		d.cfg.Log.Warn("subscription settle failed", slog.String("subscription", sub.ID), slog.String("error", err.Error()))
	}
}

// backoff is BackoffBase·2^(failures-1), capped at BackoffMax, with equal
// jitter (between half and all of it), so endpoints that failed together
// are not retried together.
func (d *Deliverer) backoff(failures int) time.Duration {
	b := d.cfg.BackoffBase
	for i := 1; i < failures && b < d.cfg.BackoffMax; i++ {
		b *= 2
	}
	b = min(b, d.cfg.BackoffMax)
	return b/2 + rand.N(b/2+1)
}
