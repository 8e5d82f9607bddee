package subscription_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dischargegateway/gateway/adapters/sqlstore"
	"github.com/dischargegateway/gateway/auth"
	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/fhir"
	"github.com/dischargegateway/gateway/internal/pgrecordtest"
	"github.com/dischargegateway/gateway/internal/pgtest"
	"github.com/dischargegateway/gateway/internal/sqlitetest"
	"github.com/dischargegateway/gateway/referral"
	"github.com/dischargegateway/gateway/subscription"
)

func TestMain(m *testing.M) {
	code := m.Run()
	pgtest.StopShared()
	sqlitetest.Cleanup()
	os.Exit(code)
}

// rig is a record, its referral and subscription stores, and a service.
type rig struct {
	st   *sqlstore.Store
	ref  *sqlstore.Referral
	subs *sqlstore.Subscriptions
	svc  *subscription.Service
}

func openRig(t *testing.T, databaseURL string) *rig {
	t.Helper()
	dir := ""
	if databaseURL == "" {
		dir = sqlitetest.Dir(t)
	}
	st, err := sqlstore.Open(context.Background(), databaseURL, dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	subs := sqlstore.NewSubscriptions(st)
	t.Cleanup(subs.Close)
	return &rig{st: st, ref: sqlstore.NewReferral(st), subs: subs,
		svc: subscription.New(subs, subscription.Config{Endpoints: subscription.EndpointPolicy{AllowHosts: []string{"127.0.0.1"}}})}
}

// offer writes a Task offered by trust RXA to owner (version 1), through
// the referral record's own transaction (and so its outbox row).
func (r *rig) offer(t *testing.T, owner, id string) {
	t.Helper()
	if err := r.tryOffer(context.Background(), owner, id); err != nil {
		t.Fatal(err)
	}
}

func (r *rig) tryOffer(ctx context.Context, owner, id string) error {
	now := time.Now().UTC()
	o := discharge.Offer{ID: id, Partition: "RXA", Requester: "RXA", Owner: owner, OwnerOrg: owner,
		ServiceRequestID: "sr-" + id, EncounterID: "enc-" + id, PatientID: "p", HealthcareServiceID: "svc", LocationID: "loc",
		State: discharge.OfferRequested, Deadline: now.Add(time.Hour), Version: 1, Created: now, Updated: now}
	return r.ref.Apply(ctx, referral.Change{Partition: "RXA", At: now, Offers: []referral.OfferWrite{{
		Offer: o, Due: o.Deadline,
		Task: fhir.Resource{Type: "Task", ID: id, VersionID: 1, LastUpdated: now, JSON: []byte(`{"resourceType":"Task"}`)}}},
		Events: []referral.Event{{Partition: "RXA", CaseID: "enc-" + id, At: now, Kind: referral.EventOfferSent, TaskID: id}}})
}

// subscribe creates a Subscription of a care provider to new referrals.
func (r *rig) subscribe(t *testing.T, org, endpoint string) (id, secret string) {
	t.Helper()
	p := &auth.Principal{ClientID: "c-" + org, Org: org, Role: auth.RoleCareProvider}
	body := `{"resourceType":"Subscription","status":"requested","reason":"referrals","criteria":"` +
		"https://discharge-gateway.nhs.uk/fhir/SubscriptionTopic/referral-offered" + `",
		"channel":{"type":"rest-hook","endpoint":"` + endpoint + `","payload":"application/fhir+json",
		"_payload":{"extension":[{"url":"http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/backport-payload-content","valueCode":"id-only"}]},
		"header":["Authorization: Bearer receiver-token"]}}`
	c, err := r.svc.Create(context.Background(), p, []byte(body))
	if err != nil {
		t.Fatal(err)
	}
	return c.Resource.ID, c.Secret
}

// receiver records the notifications it takes, by type, with each event
// number and focus; down makes it answer 503.
type receiver struct {
	srv      *httptest.Server
	mu       sync.Mutex
	types    []string
	events   []int64 // event numbers in arrival order
	foci     []string
	badSig   int
	down     atomic.Bool
	hang     chan struct{} // when set, requests block until it closes
	conc     atomic.Int64
	maxConc  atomic.Int64
	requests atomic.Int64
	secret   string
}

func newReceiver(t *testing.T) *receiver {
	rc := &receiver{}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc.requests.Add(1)
		n := rc.conc.Add(1)
		defer rc.conc.Add(-1)
		for {
			m := rc.maxConc.Load()
			if n <= m || rc.maxConc.CompareAndSwap(m, n) {
				break
			}
		}
		if rc.hang != nil {
			select {
			case <-rc.hang:
			case <-r.Context().Done():
				return
			}
		}
		body, _ := io.ReadAll(r.Body)
		if rc.down.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		rc.record(t, r, body)
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) record(t *testing.T, r *http.Request, body []byte) {
	var b struct {
		Type  string `json:"type"`
		Entry []struct {
			FullURL  string          `json:"fullUrl"`
			Resource json.RawMessage `json:"resource"`
		} `json:"entry"`
	}
	if err := json.Unmarshal(body, &b); err != nil || b.Type != "history" || len(b.Entry) == 0 {
		t.Errorf("not a notification Bundle: %s", body)
		return
	}
	var st struct {
		Parameter []struct {
			Name      string `json:"name"`
			ValueCode string `json:"valueCode"`
			Part      []struct {
				Name        string `json:"name"`
				ValueString string `json:"valueString"`
				ValueRef    struct {
					Reference string `json:"reference"`
				} `json:"valueReference"`
			} `json:"part"`
		} `json:"parameter"`
	}
	_ = json.Unmarshal(b.Entry[0].Resource, &st)
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if rc.secret != "" && !subscription.Verify(rc.secret, r.Header.Get(subscription.SignatureHeader), body, time.Now(), time.Minute) {
		rc.badSig++
	}
	if r.Header.Get("Authorization") != "Bearer receiver-token" {
		t.Errorf("the subscriber's header is missing: %q", r.Header.Get("Authorization"))
	}
	for _, p := range st.Parameter {
		switch p.Name {
		case "type":
			rc.types = append(rc.types, p.ValueCode)
		case "notification-event":
			for _, part := range p.Part {
				switch part.Name {
				case "event-number":
					n, _ := strconv.ParseInt(part.ValueString, 10, 64)
					rc.events = append(rc.events, n)
				case "focus":
					rc.foci = append(rc.foci, part.ValueRef.Reference)
				}
			}
		}
	}
}

func (rc *receiver) snapshot() (types []string, events []int64, foci []string) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]string(nil), rc.types...), append([]int64(nil), rc.events...), append([]string(nil), rc.foci...)
}

func fastConfig(id string) subscription.DelivererConfig {
	return subscription.DelivererConfig{ID: id, BaseURL: "https://gw.example/fhir",
		Endpoints: subscription.EndpointPolicy{AllowHosts: []string{"127.0.0.1"}},
		Poll:      20 * time.Millisecond, Timeout: 2 * time.Second, BackoffBase: 20 * time.Millisecond, BackoffMax: 100 * time.Millisecond,
		MaxFailures: 1000, Batch: 7, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
}

func eventually(t *testing.T, within time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %v: %s", within, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// inOrder checks that events hold every number 1..n, each delivery in
// order (a number is never followed by a smaller one except where a
// batch was sent again, at least once).
func inOrder(t *testing.T, events []int64, n int64) {
	t.Helper()
	seen := map[int64]bool{}
	var last int64
	for _, e := range events {
		if e > last+1 {
			t.Fatalf("gap: %d after %d in %v", e, last, events)
		}
		if e > last {
			last = e
		}
		seen[e] = true
	}
	for i := int64(1); i <= n; i++ {
		if !seen[i] {
			t.Fatalf("event %d never delivered: %v", i, events)
		}
	}
	if last != n {
		t.Fatalf("delivered up to %d, want %d: %v", last, n, events)
	}
}

func engines(t *testing.T) map[string]func(t *testing.T) string {
	return map[string]func(t *testing.T) string{
		"sqlite":   func(*testing.T) string { return "" },
		"postgres": func(t *testing.T) string { return pgrecordtest.URL(t) },
	}
}

// A receiver down for a while gets every event once it is back, in order,
// none lost; the handshake comes first; every delivery is signed and
// carries the subscriber's header; another provider's referrals are not
// sent to it.
func TestReceiverDownThenBackGetsEverything(t *testing.T) {
	for name, url := range engines(t) {
		t.Run(name, func(t *testing.T) {
			r := openRig(t, url(t))
			rc := newReceiver(t)
			id, secret := r.subscribe(t, "P1", rc.srv.URL+"/notify")
			rc.secret = secret
			ctx, cancel := context.WithCancel(context.Background())
			d := subscription.NewDeliverer(r.subs, nil, fastConfig("a"))
			done := make(chan struct{})
			go func() { d.Run(ctx); close(done) }()
			defer func() { cancel(); <-done }()
			eventually(t, 5*time.Second, "handshake", func() bool { ty, _, _ := rc.snapshot(); return len(ty) > 0 })
			rc.down.Store(true)
			const n = 30
			for i := range n {
				r.offer(t, "P1", fmt.Sprintf("t%02d", i))
				if i%3 == 0 {
					r.offer(t, "P2", fmt.Sprintf("other%02d", i))
				}
			}
			time.Sleep(300 * time.Millisecond) // failing deliveries, backing off
			if _, ev, _ := rc.snapshot(); len(ev) != 0 {
				t.Fatalf("events taken while down: %v", ev)
			}
			rc.down.Store(false)
			eventually(t, 10*time.Second, "all events", func() bool {
				_, ev, _ := rc.snapshot()
				return len(ev) > 0 && ev[len(ev)-1] == n
			})
			types, events, foci := rc.snapshot()
			if types[0] != "handshake" {
				t.Errorf("first notification %q, want handshake", types[0])
			}
			inOrder(t, events, n)
			for i, f := range foci {
				if want := fmt.Sprintf("Task/t%02d", events[i]-1); f != want {
					t.Fatalf("event %d focus %s, want %s", events[i], f, want)
				}
			}
			if rc.badSig != 0 {
				t.Errorf("%d deliveries with a bad signature", rc.badSig)
			}
			// The last delivery is recorded just after the receiver took it.
			eventually(t, 5*time.Second, "all acknowledged", func() bool {
				sub, err := r.subs.Subscription(context.Background(), id)
				return err == nil && sub.Status == discharge.SubscriptionActive && sub.Events == n && sub.Acked == n
			})
		})
	}
}

// After MaxFailures failed deliveries the Subscription is in error, its
// error visible in $status; its events are still numbered, so $events
// catches the subscriber up.
func TestFailuresPutSubscriptionInError(t *testing.T) {
	r := openRig(t, "")
	rc := newReceiver(t)
	id, _ := r.subscribe(t, "P1", rc.srv.URL)
	rc.down.Store(true)
	cfg := fastConfig("a")
	cfg.MaxFailures = 3
	d := subscription.NewDeliverer(r.subs, nil, cfg)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { d.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	eventually(t, 5*time.Second, "status error", func() bool {
		s, _ := r.subs.Subscription(ctx, id)
		return s.Status == discharge.SubscriptionError
	})
	r.offer(t, "P1", "late")
	p := &auth.Principal{Org: "P1", Role: auth.RoleCareProvider}
	eventually(t, 5*time.Second, "event numbered", func() bool {
		s, _ := r.subs.Subscription(ctx, id)
		return s.Events == 1
	})
	st, err := r.svc.Status(ctx, p, id, "https://gw.example/fhir")
	if err != nil || !json.Valid(st) || !contains(st, `"valueCode":"error"`) || !contains(st, "HTTP 503") {
		t.Fatalf("$status: %s %v", st, err)
	}
	ev, err := r.svc.Events(ctx, p, id, map[string]string{"eventsSinceNumber": "1"}, "https://gw.example/fhir")
	if err != nil || !contains(ev, `"reference":"Task/late"`) || !contains(ev, `"query-event"`) {
		t.Fatalf("$events: %s %v", ev, err)
	}
	if _, err := r.svc.Status(ctx, &auth.Principal{Org: "P2", Role: auth.RoleCareProvider}, id, ""); discharge.ErrorKind(err) != discharge.KindNotFound {
		t.Fatalf("another organisation's $status: %v", err)
	}
}

func contains(b []byte, s string) bool {
	return len(s) > 0 && string(b) != "" && indexOf(string(b), s) >= 0
}

func indexOf(s, sub string) int {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return i
		}
	}
	return -1
}

// A replica killed mid-delivery (its POST never settles) leaves a lease
// that lapses; another replica on the same PostgreSQL delivers.
func TestReplicaKilledMidDeliveryAnotherDelivers(t *testing.T) {
	if testing.Short() {
		t.Skip("PostgreSQL")
	}
	url := pgrecordtest.URL(t)
	r := openRig(t, url)
	rc := newReceiver(t)
	rc.hang = make(chan struct{})
	r.subscribe(t, "P1", rc.srv.URL)
	// Replica A claims the handshake and hangs in its POST: as good as
	// dead, it never settles within its lease.
	cfgA := fastConfig("replica-a")
	cfgA.Timeout, cfgA.Lease = 20*time.Second, 400*time.Millisecond
	a := subscription.NewDeliverer(r.subs, nil, cfgA)
	ctxA, killA := context.WithCancel(context.Background())
	a.Step(ctxA)
	eventually(t, 5*time.Second, "replica A's POST in flight", func() bool { return rc.requests.Load() == 1 })
	killA()
	// Replica B, another process on the same database, takes over once
	// the lease lapses; the receiver answers B.
	// A closed hang lets every request through; the field itself is not
	// written again, since the receiver's handlers read it.
	close(rc.hang)
	r2 := openRig(t, url)
	b := subscription.NewDeliverer(r2.subs, nil, fastConfig("replica-b"))
	ctxB, stopB := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { b.Run(ctxB); close(done) }()
	defer func() { stopB(); <-done }()
	for i := range 5 {
		r.offer(t, "P1", fmt.Sprintf("t%02d", i))
	}
	eventually(t, 10*time.Second, "B delivers every event", func() bool {
		_, ev, _ := rc.snapshot()
		return len(ev) > 0 && ev[len(ev)-1] == 5
	})
	_, events, _ := rc.snapshot()
	inOrder(t, events, 5)
	a.Wait()
}

// A receiver that hangs holds up nobody else: the fast endpoint's events
// arrive while the slow one's deliveries wait out their timeouts, and the
// slow endpoint never sees more concurrent deliveries than the bound.
func TestSlowReceiverHoldsUpNobody(t *testing.T) {
	r := openRig(t, "")
	slow, fast := newReceiver(t), newReceiver(t)
	slow.hang = make(chan struct{})
	for i := range 6 {
		r.subscribe(t, fmt.Sprintf("S%d", i), slow.srv.URL)
	}
	r.subscribe(t, "F", fast.srv.URL)
	cfg := fastConfig("a")
	// The slow endpoint's deliveries hang for a minute (their timeout):
	// the fast endpoint's events must all arrive well before any of them
	// could have timed out, however slow the machine. A fixed 2 s bound on
	// the fast endpoint failed a CI run under the race detector on a
	// loaded machine without anything waiting on the slow endpoint.
	const hung = time.Minute
	cfg.Timeout, cfg.PerEndpoint = hung, 2
	d := subscription.NewDeliverer(r.subs, nil, cfg)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { d.Run(ctx); close(done) }()
	defer func() { close(slow.hang); cancel(); <-done }()
	start := time.Now()
	for i := range 10 {
		r.offer(t, "F", fmt.Sprintf("f%02d", i))
		r.offer(t, fmt.Sprintf("S%d", i%6), fmt.Sprintf("s%02d", i))
	}
	eventually(t, hung/2, "the fast endpoint's events", func() bool {
		_, ev, _ := fast.snapshot()
		return len(ev) > 0 && ev[len(ev)-1] == 10
	})
	if el := time.Since(start); el >= hung/2 {
		t.Fatalf("fast endpoint took %v: it waited for the slow one", el)
	}
	// The slow endpoint is tried, its deliveries hanging (none can have
	// timed out yet).
	eventually(t, hung/2, "a delivery to the slow endpoint, hanging", func() bool { return slow.conc.Load() > 0 })
	if m := slow.maxConc.Load(); m > 2 {
		t.Fatalf("%d concurrent deliveries to one endpoint, bound 2", m)
	}
}

// Case state changes reach the case's trust and its hub, narrowed by the
// state filter, and no other trust; capacity postings reach hubs and
// trusts that subscribed, by location filter. Each Subscription's events
// are numbered 1, 2, … in the order of the changes.
func TestCaseAndCapacityTopics(t *testing.T) {
	// On PostgreSQL an offer's events and their outbox rows go in the
	// referral record's pipelined batch; on SQLite through appendEvents.
	for name, url := range engines(t) {
		t.Run(name, func(t *testing.T) { caseAndCapacityTopics(t, url(t)) })
	}
}

func caseAndCapacityTopics(t *testing.T, url string) {
	r := openRig(t, url)
	ctx := context.Background()
	create := func(p *auth.Principal, topic, filter string) string {
		ext := ""
		if filter != "" {
			ext = `"_criteria":{"extension":[{"url":"http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/backport-filter-criteria","valueString":"` + filter + `"}]},`
		}
		c, err := r.svc.Create(ctx, p, []byte(`{"resourceType":"Subscription","status":"requested","reason":"r",`+ext+
			`"criteria":"https://discharge-gateway.nhs.uk/fhir/SubscriptionTopic/`+topic+`","channel":{"type":"rest-hook","endpoint":"https://203.0.113.9/h"}}`))
		if err != nil {
			t.Fatal(err)
		}
		return c.Resource.ID
	}
	trustA := &auth.Principal{Org: "RXA", Role: auth.RoleTrust}
	trustB := &auth.Principal{Org: "RXB", Role: auth.RoleTrust}
	hub := &auth.Principal{Org: "HUB", Role: auth.RoleHub, Members: []string{"RXA"}}
	caseA := create(trustA, "case-state", "")
	caseAOffers := create(trustA, "case-state", "Encounter?state=offers-sent")
	caseAConfirmed := create(trustA, "case-state", "Encounter?state=confirmed")
	caseB := create(trustB, "case-state", "")
	caseHub := create(hub, "case-state", "")
	capHub := create(hub, "capacity-posting", "")
	capOne := create(trustA, "capacity-posting", "Location?location=L2")
	r.offer(t, "P1", "x1")
	r.offer(t, "P1", "x2")
	caps := sqlstore.NewCapacity(r.st)
	for _, loc := range []string{"L1", "L2", "L2"} {
		if _, _, err := caps.Record(ctx, discharge.Capacity{LocationID: loc, AsOf: time.Now().Add(-time.Minute),
			Beds: []discharge.BedCapacity{{Type: discharge.BedNursing, MaxCapacity: 5, Occupied: 4, AcceptingAdmissions: 1}}}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := r.subs.Fanout(ctx, 100, subscription.Match); err != nil {
		t.Fatal(err)
	}
	foci := func(id string) []string {
		evs, err := r.subs.SubscriptionEvents(ctx, id, 1, 100, 100)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for i, e := range evs {
			if e.Number != int64(i+1) {
				t.Fatalf("%s: event %d numbered %d", id, i+1, e.Number)
			}
			out = append(out, e.Focus)
		}
		return out
	}
	for name, c := range map[string]struct {
		id   string
		want string
	}{
		"trust":               {caseA, "Encounter/enc-x1 Encounter/enc-x2"},
		"trust, offers-sent":  {caseAOffers, "Encounter/enc-x1 Encounter/enc-x2"},
		"trust, confirmed":    {caseAConfirmed, ""},
		"another trust":       {caseB, ""},
		"hub of the trust":    {caseHub, "Encounter/enc-x1 Encounter/enc-x2"},
		"hub, capacity":       {capHub, "Location/L1 Location/L2 Location/L2"},
		"trust, capacity, L2": {capOne, "Location/L2 Location/L2"},
	} {
		if got := strings.Join(foci(c.id), " "); got != c.want {
			t.Errorf("%s: %q, want %q", name, got, c.want)
		}
	}
}

// The PostgreSQL primary (with a synchronous standby) is killed while
// referrals are written and the standby promoted: every referral whose
// write was acknowledged, before or after, reaches the subscriber from
// the new primary; the Deliverer, on the record's failover URL, carries
// on by itself.
func TestFailoverLosesNoAcknowledgedEvent(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a primary and a standby")
	}
	primary := pgtest.Start(t)
	_, dbURL := primary.NewDatabase(t)
	standby := primary.StartStandby(t, "standby1")
	primary.SetSynchronousStandbys(t, "ANY 1 (standby1)", 1)
	r := openRig(t, primary.FailoverURL(t, dbURL, standby))
	rc := newReceiver(t)
	r.subscribe(t, "P1", rc.srv.URL)
	d := subscription.NewDeliverer(r.subs, nil, fastConfig("a"))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { d.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	var (
		acked         []string
		promoted      atomic.Bool
		afterPromoted int
		n             atomic.Int64
	)
	writes := make(chan struct{})
	go func() {
		defer close(writes)
		for i := 0; i < 120; i++ {
			id := fmt.Sprintf("f%03d", i)
			for try := 0; try < 50; try++ {
				cctx, c := context.WithTimeout(context.Background(), 3*time.Second)
				err := r.tryOffer(cctx, "P1", id)
				c()
				if err == nil {
					acked = append(acked, id)
					n.Add(1)
					if promoted.Load() {
						afterPromoted++
					}
					break
				}
				if discharge.ErrorKind(err) == discharge.KindRetry {
					break // an earlier try committed unacknowledged
				}
				time.Sleep(100 * time.Millisecond)
			}
		}
	}()
	for n.Load() < 30 {
		time.Sleep(10 * time.Millisecond)
	}
	primary.Kill()
	time.Sleep(500 * time.Millisecond)
	standby.Promote(t)
	promoted.Store(true)
	<-writes
	if afterPromoted == 0 {
		t.Fatal("no write was acknowledged after the promotion")
	}
	eventually(t, 60*time.Second, "every acknowledged referral delivered", func() bool {
		_, _, foci := rc.snapshot()
		got := map[string]bool{}
		for _, f := range foci {
			got[f] = true
		}
		for _, id := range acked {
			if !got["Task/"+id] {
				return false
			}
		}
		return true
	})
	_, events, _ := rc.snapshot()
	t.Logf("%d referrals acknowledged (%d after the promotion), %d event deliveries", len(acked), afterPromoted, len(events))
}

// With a secret key the record holds the signing secret sealed, the
// Deliverer with the same key signs with the clear one (the receiver
// verifies it), and a Deliverer without the key cannot sign: its
// deliveries fail, so the Subscription goes to error, its reason in
// $status, rather than going out unsigned or signed wrongly.
func TestSecretsSealedAtRest(t *testing.T) {
	key := make([]byte, subscription.SecretKeySize)
	key[0] = 1
	for name, url := range engines(t) {
		t.Run(name, func(t *testing.T) {
			r := openRig(t, url(t))
			r.svc = subscription.New(r.subs, subscription.Config{SecretKey: key,
				Endpoints: subscription.EndpointPolicy{AllowHosts: []string{"127.0.0.1"}}})
			rc := newReceiver(t)
			id, secret := r.subscribe(t, "P1", rc.srv.URL)
			rc.secret = secret
			stored, err := r.subs.Subscription(context.Background(), id)
			if err != nil {
				t.Fatal(err)
			}
			if stored.Secret == secret || strings.Contains(stored.Secret, secret) {
				t.Fatalf("the record holds the secret in clear: %q", stored.Secret)
			}
			cfg := fastConfig("a")
			cfg.SecretKey = key
			d := subscription.NewDeliverer(r.subs, nil, cfg)
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan struct{})
			go func() { d.Run(ctx); close(done) }()
			r.offer(t, "P1", "sealed-1")
			eventually(t, 5*time.Second, "delivered", func() bool { _, ev, _ := rc.snapshot(); return len(ev) == 1 })
			cancel()
			<-done
			if rc.badSig != 0 {
				t.Fatalf("%d deliveries with a bad signature", rc.badSig)
			}
			// The same record, a Deliverer without the key.
			cfg = fastConfig("b")
			cfg.MaxFailures = 2
			d = subscription.NewDeliverer(r.subs, nil, cfg)
			ctx, cancel = context.WithCancel(context.Background())
			done = make(chan struct{})
			go func() { d.Run(ctx); close(done) }()
			defer func() { cancel(); <-done }()
			r.offer(t, "P1", "sealed-2")
			eventually(t, 5*time.Second, "status error", func() bool {
				s, _ := r.subs.Subscription(ctx, id)
				return s.Status == discharge.SubscriptionError && strings.Contains(s.LastError, "secret")
			})
			if _, ev, _ := rc.snapshot(); len(ev) != 1 {
				t.Fatalf("a delivery went out without the key: %v", ev)
			}
		})
	}
}
