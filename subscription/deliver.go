package subscription

import (
	"bytes"
	"context"
	"io"
	"log/slog"
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
	// SecretKey opens the signing secrets the Service sealed (secret.go).
	SecretKey []byte
	// Records serves the case and capacity topics' full-resource payloads
	// (nil: their foci are sent without the resource).
	Records RecordReader
	Now     func() time.Time
	Log     *slog.Logger
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
	// freed is signalled when a delivery ends, so a Deliverer claims the
	// Subscription's next events soon rather than at the next NOTIFY or
	// Poll.
	freed chan struct{}

	// Settles are group-committed (settle): one flushes, the others wait
	// for the transaction that carries theirs.
	smu      sync.Mutex
	pending  *settleBatch
	flushing bool
}

type settleBatch struct {
	outs []Outcome
	done chan struct{}
	err  error
}

// settleCoalesce is how long Run waits, once a delivery has ended, for
// others to end too before it claims again: a claim is a transaction
// (and a WAL flush), and claiming once per ended delivery would cost one
// per notification.
const settleCoalesce = 5 * time.Millisecond

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
//
// The fan-out and the claims run in two loops: a fan-out (thousands of
// events when a few referrals meet 1,000 Subscriptions, and a synchronous
// commit) took up to a second on a loaded machine, and while one ran in
// line with the claims no Subscription freed meanwhile was claimed again.
// Now the claim loop keeps delivering what is numbered while the next
// fan-out numbers more, and each fan-out that numbered something wakes
// it.
func (d *Deliverer) Run(ctx context.Context) {
	defer d.wg.Wait()
	fanned := make(chan struct{}, 1)
	fdone := make(chan struct{})
	go func() {
		defer close(fdone)
		d.fanoutLoop(ctx, fanned)
	}()
	defer func() { <-fdone }()
	poll := time.NewTimer(d.cfg.Poll)
	defer poll.Stop()
	for ctx.Err() == nil {
		if d.claim(ctx) {
			continue
		}
		// Wait for a fan-out that numbered events, a delivery's end (its
		// Subscription may have more due) or Poll (heartbeats, retries).
		if !poll.Stop() {
			select {
			case <-poll.C:
			default:
			}
		}
		poll.Reset(d.cfg.Poll)
		select {
		case <-ctx.Done():
		case <-fanned:
		case <-d.freed:
			sleep(ctx, settleCoalesce)
		case <-poll.C:
		}
	}
}

// fanoutLoop fans the outbox out until ctx ends: at once again while
// rows remain, else after a NOTIFY (PostgreSQL) or Poll. Each fan-out
// that numbered events signals fanned.
func (d *Deliverer) fanoutLoop(ctx context.Context, fanned chan<- struct{}) {
	for ctx.Err() == nil {
		n, err := d.st.Fanout(ctx, fanoutBatch, Match)
		if err != nil && ctx.Err() == nil {
			d.cfg.Log.Warn("subscription fan-out failed", slog.String("error", err.Error()))
		}
		if n > 0 {
			select {
			case fanned <- struct{}{}:
			default:
			}
		}
		if n == fanoutBatch {
			continue
		}
		d.st.Wait(ctx, d.cfg.Poll)
	}
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// fanoutBatch is how many outbox rows one Fanout takes.
const fanoutBatch = 500

// Step fans out the outbox and starts the deliveries now due, without
// waiting for them (Run does both in loops of their own); it reports
// whether there may be more to do at once.
func (d *Deliverer) Step(ctx context.Context) bool {
	n, err := d.st.Fanout(ctx, fanoutBatch, Match)
	if err != nil {
		d.cfg.Log.Warn("subscription fan-out failed", slog.String("error", err.Error()))
	}
	return d.claim(ctx) || n == fanoutBatch
}

// claim leases the Subscriptions due, as many as there are free workers,
// and starts their deliveries; it reports whether every free worker got
// one (there may be more due).
func (d *Deliverer) claim(ctx context.Context) bool {
	d.mu.Lock()
	free := d.cfg.Workers - d.inflight
	d.mu.Unlock()
	if free <= 0 {
		// Every worker busy: claim again when one is free.
		return false
	}
	claimed, err := d.st.Claim(ctx, d.cfg.ID, d.cfg.Now(), d.cfg.Lease, true, free, d.cfg.Batch)
	if err != nil {
		if ctx.Err() == nil {
			d.cfg.Log.Warn("subscription claim failed", slog.String("error", err.Error()))
		}
		return false
	}
	var giveBack []Outcome
	for _, c := range claimed {
		sub := c.Sub
		host := endpointHost(sub.Endpoint)
		d.mu.Lock()
		if d.hosts[host] >= d.cfg.PerEndpoint {
			d.mu.Unlock()
			// The endpoint is busy: give the lease back for later, as it was.
			giveBack = append(giveBack, Outcome{ID: sub.ID, Status: sub.Status, Acked: sub.Acked,
				Failures: sub.Failures, NextAttempt: d.cfg.Now().Add(d.cfg.Poll), LastError: sub.LastError})
			continue
		}
		d.hosts[host]++
		d.inflight++
		d.mu.Unlock()
		d.wg.Add(1)
		go func() {
			defer d.wg.Done()
			// The worker and the endpoint slot are given back once the
			// POST is over, not after the settle: they bound requests to
			// endpoints, and the Subscription stays leased until its
			// settle commits, so it is not delivered again meanwhile.
			var once sync.Once
			release := func() {
				once.Do(func() {
					d.mu.Lock()
					d.hosts[host]--
					d.inflight--
					d.mu.Unlock()
					d.wake()
				})
			}
			defer release()
			d.deliver(context.WithoutCancel(ctx), c, release)
		}()
	}
	if len(giveBack) > 0 {
		if err := d.settle(ctx, giveBack...); err != nil {
			d.cfg.Log.Warn("subscription settle failed", slog.String("error", err.Error()))
		}
	}
	return len(claimed) == free
}

// wake tells Run a worker is free or a lease was released.
func (d *Deliverer) wake() {
	select {
	case d.freed <- struct{}{}:
	default:
	}
}

// settle records outcomes (Store.Settle) and returns once they are
// committed. Concurrent calls are group-committed: a flusher goroutine
// takes everything pending, writes it in one transaction and starts over
// while more is pending, so many deliveries cost one commit and no
// caller waits for more than the flush in progress and its own. A failed
// settle leaves the leases to lapse: another claim delivers the same
// events again (at least once).
func (d *Deliverer) settle(ctx context.Context, os ...Outcome) error {
	d.smu.Lock()
	if d.pending == nil {
		d.pending = &settleBatch{done: make(chan struct{})}
	}
	mine := d.pending
	mine.outs = append(mine.outs, os...)
	if !d.flushing {
		d.flushing = true
		go d.flush(context.WithoutCancel(ctx))
	}
	d.smu.Unlock()
	<-mine.done
	return mine.err
}

// flush writes pending settles until none is left.
func (d *Deliverer) flush(ctx context.Context) {
	d.smu.Lock()
	for d.pending != nil {
		b := d.pending
		d.pending = nil
		d.smu.Unlock()
		b.err = d.st.Settle(ctx, d.cfg.ID, b.outs)
		close(b.done)
		d.wake() // the leases are released: claim again
		d.smu.Lock()
	}
	d.flushing = false
	d.smu.Unlock()
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

// deliver sends one notification for a claimed Subscription, calls
// release once the POST is over, and settles the outcome.
func (d *Deliverer) deliver(ctx context.Context, c Claimed, release func()) {
	sub := c.Sub
	secret, err := openSecret(d.cfg.SecretKey, sub.ID, sub.Secret)
	if err != nil {
		// Nothing can be signed: a failure like any other, so the
		// Subscription goes to error, visible in $status, if the key stays
		// wrong.
		release()
		d.fail(ctx, sub, "the signing secret could not be opened (SUBSCRIPTION_SECRET_KEY changed or missing)")
		return
	}
	sub.Secret = secret
	n := discharge.Notification{Subscription: sub}
	switch {
	case sub.Status == discharge.SubscriptionRequested:
		n.Type = discharge.NotifyHandshake
		// The handshake says active: it is what the Subscription becomes.
		n.Subscription.Status = discharge.SubscriptionActive
	case len(c.Events) == 0:
		// The claim read its events (none due): a heartbeat is.
		n.Type = discharge.NotifyHeartbeat
		n.Subscription.Events = sub.Acked
	default:
		evs := c.Events
		n.Type = discharge.NotifyEvent
		n.Events = evs
		// eventsSinceSubscriptionStart is the last number this
		// notification carries, so a receiver sees no gap ahead.
		n.Subscription.Events = evs[len(evs)-1].Number
		if sub.Payload == discharge.PayloadFullResource {
			n.Resources = d.resources(ctx, sub, evs)
		}
	}
	body, err := mappings.NotificationBundle(n, strings.TrimRight(d.cfg.BaseURL, "/"), d.cfg.Now())
	if err != nil {
		d.fail(ctx, sub, "rendering failed")
		return
	}
	why := d.post(ctx, sub, body)
	release()
	if why != "" {
		d.fail(ctx, sub, why)
		return
	}
	o := Outcome{ID: sub.ID, Status: discharge.SubscriptionActive, Acked: sub.Acked, LastSent: d.cfg.Now()}
	if len(n.Events) > 0 {
		o.Acked = n.Events[len(n.Events)-1].Number
	}
	if err := d.settle(ctx, o); err != nil {
		d.cfg.Log.Warn("subscription settle failed", slog.String("subscription", sub.ID), slog.String("error", err.Error()))
	}
}

// resources reads each focus as the subscriber would read it now: a Task
// version through the referral read rules, a case's Encounter and a
// Location through the record's read (records.Service.Read), current
// version. One it may no longer read is left out; so is an Encounter
// found in another partition than the event's (ids are per organisation,
// and a hub reads several).
func (d *Deliverer) resources(ctx context.Context, sub discharge.Subscription, evs []discharge.SubscriptionEvent) map[string][]byte {
	out := map[string][]byte{}
	p := Principal(sub.Owner)
	for _, e := range evs {
		key := e.Focus + "/_history/" + strconv.FormatInt(e.Version, 10)
		typ, id, _ := strings.Cut(e.Focus, "/")
		switch typ {
		case "Task":
			if d.read == nil {
				continue
			}
			r, err := d.read.ReadTaskVersion(ctx, p, id, strconv.FormatInt(e.Version, 10))
			if err == nil {
				out[key] = r.JSON
			}
		case "Encounter", "Location":
			if d.cfg.Records == nil {
				continue
			}
			r, part, err := d.cfg.Records.Read(ctx, p, typ, id)
			if err == nil && (typ == "Location" || part == e.Partition) {
				out[key] = r.JSON
			}
		}
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
	if err := d.settle(ctx, o); err != nil {
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
