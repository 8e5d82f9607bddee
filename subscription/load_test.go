package subscription_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/internal/pgtest"
	"github.com/dischargegateway/gateway/subscription"
)

// TestSubscriptionLoad is the speed case, run on demand
// (SUBSCRIPTION_LOAD=1; SUBSCRIPTION_LOAD_SUBS, _RATE, _SECONDS scale it):
// 1,000 Subscriptions of one care provider's referrals on a private
// PostgreSQL, a referral written every 1/rate s, so each Subscription has
// rate events a second; 50 receivers. It measures each event from its
// write's return to the receiver's POST (p50, p99), and the PostgreSQL
// server's CPU per event (postmaster and backends, /proc), against two
// same-run baselines: a bare POST of a notification-sized body to the same
// receivers, and the server CPU of a raw one-row INSERT transaction into
// the outbox. It writes bench/subscriptions.md and fails when an event is
// lost or the p99 is over a second.
func TestSubscriptionLoad(t *testing.T) {
	if os.Getenv("SUBSCRIPTION_LOAD") == "" {
		t.Skip("SUBSCRIPTION_LOAD=1 runs the load case")
	}
	subs, rate, secs := envInt("SUBSCRIPTION_LOAD_SUBS", 1000), envInt("SUBSCRIPTION_LOAD_RATE", 10), envInt("SUBSCRIPTION_LOAD_SECONDS", 20)
	const receivers = 50
	pg := pgtest.Start(t)
	_, url := pg.NewDatabase(t)
	r := openRig(t, url)
	ctx := context.Background()

	var mu sync.Mutex
	arrived := map[string][]time.Time{} // focus → each arrival (one per Subscription)
	posts := 0                          // event notifications received
	var rcv []*httptest.Server
	for range receivers {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			body, _ := io.ReadAll(req.Body)
			now := time.Now()
			if i := strings.Index(string(body), `"type","valueCode":"event-notification"`); i < 0 {
				return
			}
			var b struct {
				Entry []struct{ FullURL string } `json:"entry"`
			}
			_ = json.Unmarshal(body, &b)
			mu.Lock()
			posts++
			for _, e := range b.Entry[1:] {
				f := e.FullURL[strings.Index(e.FullURL, "/Task/")+1:]
				arrived[f] = append(arrived[f], now)
			}
			mu.Unlock()
		}))
		defer srv.Close()
		rcv = append(rcv, srv)
	}
	for i := range subs {
		r.subscribe(t, "P1", rcv[i%receivers].URL+"/n"+strconv.Itoa(i))
	}
	cfg := fastConfig("load")
	cfg.Poll, cfg.Workers, cfg.PerEndpoint, cfg.Batch = 100*time.Millisecond, 128, 4, 50
	ts := &timedStore{Store: r.subs}
	d := subscription.NewDeliverer(ts, nil, cfg)
	dctx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { d.Run(dctx); close(done) }()
	defer func() { stop(); <-done }()
	// Handshakes first: every Subscription active before the clock starts.
	eventually(t, 60*time.Second, "handshakes", func() bool {
		live, _ := r.subs.SubscriptionsOf(ctx, "P1")
		for _, s := range live {
			if s.Status != "active" {
				return false
			}
		}
		return len(live) == subs
	})

	ts.reset()
	cpu0 := pgCPU(t, pg)
	committed := map[string]time.Time{}
	tick := time.NewTicker(time.Second / time.Duration(rate))
	startAt := time.Now()
	for i := 0; time.Since(startAt) < time.Duration(secs)*time.Second; i++ {
		<-tick.C
		id := fmt.Sprintf("L%06d", i)
		if err := r.tryOffer(ctx, "P1", id); err != nil {
			t.Fatal(err)
		}
		committed["Task/"+id] = time.Now()
	}
	tick.Stop()
	writeSecs := time.Since(startAt).Seconds()
	eventually(t, 120*time.Second, "every event delivered", func() bool {
		mu.Lock()
		defer mu.Unlock()
		for f := range committed {
			if len(arrived[f]) < subs {
				return false
			}
		}
		return true
	})
	cpu1 := pgCPU(t, pg)
	// The Store calls of the run, and no Deliverer during the baselines:
	// each raw INSERT below sends a NOTIFY, and a live Deliverer would
	// fan out (nothing) after each, in the timings and in the baseline's
	// server CPU.
	calls := ts.table()
	stop()
	<-done
	var lat []time.Duration
	mu.Lock()
	nPosts := posts
	for f, at := range committed {
		for _, a := range arrived[f][:subs] {
			lat = append(lat, a.Sub(at))
		}
	}
	mu.Unlock()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	events := len(lat)
	p := func(q float64) time.Duration { return lat[min(len(lat)-1, int(q*float64(len(lat))))] }
	cpuPerEvent := (cpu1 - cpu0) / time.Duration(events)

	// Baseline 1: a bare POST of a notification-sized body.
	body := make([]byte, 1500)
	for i := range body {
		body[i] = 'x'
	}
	var bare []time.Duration
	client := &http.Client{}
	for i := range 2000 {
		t0 := time.Now()
		resp, err := client.Post(rcv[i%receivers].URL, "application/fhir+json", strings.NewReader(string(body)))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		bare = append(bare, time.Since(t0))
	}
	sort.Slice(bare, func(i, j int) bool { return bare[i] < bare[j] })
	// Baseline 2: the server CPU of a raw one-row INSERT transaction.
	raw := sqlstoreRawInsert(t, url, 2000)
	c0 := pgCPU(t, pg)
	raw()
	rawCPU := (pgCPU(t, pg) - c0) / 2000

	out := fmt.Sprintf(`# Subscriptions: %d Subscriptions × %d events/s each

%s, %d cores (GOMAXPROCS %d), the machine shared with other work (absolute numbers are noisy; read the ratios).
PostgreSQL (private, pgtest), one gateway process's Deliverer (workers %d, %d per endpoint, batch %d), %d receivers on loopback.
A referral written every %v for %.0f s (%d writes), each an event for all %d Subscriptions: %d events in all (%.0f events/s).

| measure | value | baseline | ratio |
|---|---:|---:|---:|
| p50 write return → receiver POST | %v | bare POST p50 %v | %.0fx |
| p99 write return → receiver POST | %v | bare POST p99 %v | %.0fx |
| PostgreSQL CPU per event | %v | raw one-row INSERT transaction %v | %.2fx |

The latency is measured from the write's return (its commit is a little earlier), so it is a lower bound by the
write's own return time. Events are delivered in batches (up to %d a notification), so the POSTs are fewer than the events:
%d event notifications, %.1f events each on average.
Store calls of the Deliverer while the events were written and delivered (count, p50, p99, max of each call's
wall time; a Fanout that found nothing is counted apart):
%s
Run: SUBSCRIPTION_LOAD=1 go test -run TestSubscriptionLoad -timeout 20m ./subscription/
`, subs, rate, time.Now().UTC().Format("2006-01-02"), runtime.NumCPU(), runtime.GOMAXPROCS(0), cfg.Workers, cfg.PerEndpoint, cfg.Batch,
		receivers, time.Second/time.Duration(rate), writeSecs, len(committed), subs, events, float64(events)/writeSecs,
		p(0.5).Round(time.Millisecond), bare[len(bare)/2].Round(time.Microsecond), float64(p(0.5))/float64(bare[len(bare)/2]),
		p(0.99).Round(time.Millisecond), bare[len(bare)*99/100].Round(time.Microsecond), float64(p(0.99))/float64(bare[len(bare)*99/100]),
		cpuPerEvent.Round(time.Microsecond), rawCPU.Round(time.Microsecond), float64(cpuPerEvent)/float64(max(rawCPU, 1)), cfg.Batch,
		nPosts, float64(events)/float64(max(nPosts, 1)), calls)
	if err := os.WriteFile(filepath.Join("..", "bench", "subscriptions.md"), []byte(out), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Log(out)
	if p(0.99) > time.Second {
		t.Errorf("p99 %v is over a second", p(0.99))
	}
}

func envInt(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n > 0 {
		return n
	}
	return def
}

// pgCPU is the CPU the server's processes used so far: the postmaster's
// own and reaped children's, and each live child's (/proc, Linux).
func pgCPU(t *testing.T, pg *pgtest.Server) time.Duration {
	raw, err := os.ReadFile(filepath.Join(pg.Dir, "data", "postmaster.pid"))
	if err != nil {
		t.Fatal(err)
	}
	pid := strings.SplitN(string(raw), "\n", 2)[0]
	ticks := func(stat string, fields ...int) int64 {
		f := strings.Fields(stat[strings.LastIndexByte(stat, ')')+2:])
		var n int64
		for _, i := range fields {
			v, _ := strconv.ParseInt(f[i-3], 10, 64)
			n += v
		}
		return n
	}
	st, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		t.Fatal(err)
	}
	total := ticks(string(st), 14, 15, 16, 17)
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		s := string(b)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
		if len(f) > 1 && f[1] == pid {
			total += ticks(s, 14, 15)
		}
	}
	return time.Duration(total) * time.Second / 100 // USER_HZ
}

// sqlstoreRawInsert returns a run of n one-row INSERT transactions into
// the outbox, through database/sql and the driver the record registers.
func sqlstoreRawInsert(t *testing.T, url string, n int) func() {
	db, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return func() {
		for i := range n {
			if _, err := db.Exec(`INSERT INTO outbox (id, at, partition, topic, ref, payload, delivered_at)
				VALUES ($1, 0, 'bench', 'Bench', 'x', 'x', 1)`, fmt.Sprintf("raw-%d", i)); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// timedStore times the Deliverer's Store calls, to see where a
// notification's latency goes (waiting on the database or not).
type timedStore struct {
	subscription.Store
	mu    sync.Mutex
	calls map[string][]time.Duration
}

func (s *timedStore) note(name string, t0 time.Time) {
	d := time.Since(t0)
	s.mu.Lock()
	if s.calls == nil {
		s.calls = map[string][]time.Duration{}
	}
	s.calls[name] = append(s.calls[name], d)
	s.mu.Unlock()
}

func (s *timedStore) reset() { s.mu.Lock(); s.calls = nil; s.mu.Unlock() }

func (s *timedStore) Fanout(ctx context.Context, limit int, match func(subscription.OutboxEvent, []discharge.Subscription) []string) (int, error) {
	t0 := time.Now()
	n, err := s.Store.Fanout(ctx, limit, match)
	if n > 0 {
		s.note("Fanout (rows)", t0)
	} else {
		s.note("Fanout (none)", t0)
	}
	return n, err
}

func (s *timedStore) Claim(ctx context.Context, owner string, now time.Time, lease time.Duration, hb bool, limit, batch int) ([]subscription.Claimed, error) {
	defer s.note("Claim", time.Now())
	return s.Store.Claim(ctx, owner, now, lease, hb, limit, batch)
}

func (s *timedStore) Settle(ctx context.Context, owner string, os []subscription.Outcome) error {
	defer s.note("Settle", time.Now())
	return s.Store.Settle(ctx, owner, os)
}

func (s *timedStore) Wait(ctx context.Context, d time.Duration) {
	defer s.note("Wait", time.Now())
	s.Store.Wait(ctx, d)
}

func (s *timedStore) table() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	names := make([]string, 0, len(s.calls))
	for n := range s.calls {
		names = append(names, n)
	}
	sort.Strings(names)
	out := "\n| call | count | p50 | p99 | max |\n|---|---:|---:|---:|---:|\n"
	for _, n := range names {
		ds := s.calls[n]
		sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
		out += fmt.Sprintf("| %s | %d | %v | %v | %v |\n", n, len(ds), ds[len(ds)/2].Round(10*time.Microsecond),
			ds[min(len(ds)-1, len(ds)*99/100)].Round(10*time.Microsecond), ds[len(ds)-1].Round(10*time.Microsecond))
	}
	return out
}
