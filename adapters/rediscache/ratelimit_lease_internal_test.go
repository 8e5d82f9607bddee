package rediscache

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/dischargegateway/gateway/internal/redistest"
)

// countIncrs counts the counter commands sent (INCR and INCRBY): the
// rate limit's round trips to Redis for counting.
type countIncrs struct{ n atomic.Int64 }

func (h *countIncrs) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h *countIncrs) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		h.count(cmd)
		return next(ctx, cmd)
	}
}
func (h *countIncrs) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		for _, c := range cmds {
			h.count(c)
		}
		return next(ctx, cmds)
	}
}
func (h *countIncrs) count(c redis.Cmder) {
	if n := strings.ToLower(c.Name()); n == "incr" || n == "incrby" {
		h.n.Add(1)
	}
}

// leaseClients are a real redis-server and the embedded engine, each
// with a counter of its INCR and INCRBY commands.
func leaseClients(t *testing.T) map[string]struct {
	rdb   redis.UniversalClient
	incrs *countIncrs
} {
	out := map[string]struct {
		rdb   redis.UniversalClient
		incrs *countIncrs
	}{}
	target := redistest.Open(t)
	real, err := Open(context.Background(), Config{URL: target.URL, Addrs: target.Addrs, SentinelMaster: target.SentinelMaster, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { real.Close() })
	mr := miniredis.RunT(t)
	emb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	t.Cleanup(func() { emb.Close() })
	for name, rdb := range map[string]redis.UniversalClient{"redis-server": real.Client, "embedded": emb} {
		h := &countIncrs{}
		rdb.AddHook(h)
		out[name] = struct {
			rdb   redis.UniversalClient
			incrs *countIncrs
		}{rdb, h}
	}
	return out
}

// TestRateLimitLeasesNeverPassTheLimit: two gateways' limiters, busy with
// one client at once and checking on past its limit, together allow
// exactly the limit, in far fewer round trips than checks (at most one
// for two allowed, where counting each check alone takes one per check,
// refusals included); the counter in Redis holds at least every check
// allowed.
func TestRateLimitLeasesNeverPassTheLimit(t *testing.T) {
	for name, c := range leaseClients(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			const limit = 1280 // leases of up to 20 units
			gws := []*RateLimit{NewRateLimit(c.rdb, limit, time.Hour), NewRateLimit(c.rdb, limit, time.Hour)}
			if gws[0].maxLease != 20 {
				t.Fatalf("maxLease %d, want 20", gws[0].maxLease)
			}
			var allowed, refused atomic.Int64
			var wg sync.WaitGroup
			for _, l := range gws {
				for range 8 {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for range 250 { // 4,000 checks in all
							ok, _, err := l.Allow(ctx, "busy")
							switch {
							case err != nil:
								t.Error(err)
								return
							case ok:
								allowed.Add(1)
							default:
								refused.Add(1)
							}
						}
					}()
				}
			}
			wg.Wait()
			a := allowed.Load()
			// Checks go on past the limit, so every unit counted below
			// it is spent: exactly the limit passes.
			if a != limit {
				t.Fatalf("%d allowed, want %d", a, limit)
			}
			if trips := c.incrs.n.Load(); trips*2 > a {
				t.Fatalf("%d counting commands for %d allowed checks: leases are not used", trips, a)
			}
			keys, err := c.rdb.Keys(ctx, "*rl:*").Result()
			if err != nil || len(keys) != 1 {
				if !isClusterClient(c.rdb) {
					t.Fatalf("keys %v %v", keys, err)
				}
				return
			}
			if n, err := c.rdb.Get(ctx, keys[0]).Int64(); err != nil || n < a {
				t.Fatalf("the counter holds %d (%v), fewer than the %d allowed", n, err, a)
			}
		})
	}
}

// TestRateLimitLeaseEndsWithItsWindow: units leased in one window are not
// spent in the next; a quiet client's checks are counted one by one.
func TestRateLimitLeaseEndsWithItsWindow(t *testing.T) {
	mr := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	t.Cleanup(func() { rdb.Close() })
	ctx := context.Background()
	clock := time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)
	l := NewRateLimit(rdb, 6400, time.Minute) // leases of up to 64
	l.now = func() time.Time { return clock }
	for range 200 {
		if ok, _, err := l.Allow(ctx, "busy"); err != nil || !ok {
			t.Fatalf("%v %v", ok, err)
		}
	}
	l.mu.Lock()
	left := l.leases["busy"].left
	l.mu.Unlock()
	if left == 0 {
		t.Fatal("no units left over to test with")
	}
	clock = clock.Add(time.Minute)
	if ok, _, err := l.Allow(ctx, "busy"); err != nil || !ok {
		t.Fatalf("next window: %v %v", ok, err)
	}
	next := rateKey("busy", clock.Truncate(time.Minute).Unix())
	if n, err := rdb.Get(ctx, next).Int64(); err != nil || n < 1 {
		t.Fatalf("the next window's first check was not counted in Redis: %d %v", n, err)
	}
	if ok, _, err := l.Allow(ctx, "quiet"); err != nil || !ok {
		t.Fatalf("quiet: %v %v", ok, err)
	}
	if n, err := rdb.Get(ctx, rateKey("quiet", clock.Truncate(time.Minute).Unix())).Int64(); err != nil || n != 1 {
		t.Fatalf("a quiet client's first check counted %d (%v), want 1", n, err)
	}
}

func isClusterClient(rdb redis.UniversalClient) bool {
	_, ok := rdb.(*redis.ClusterClient)
	return ok
}

// TestRateLimitRefusesLocallyOnceTheLimitIsReached: after one refusal in
// a window, the rest of the window's checks are refused without a round
// trip, with the time to the window's end; the next window counts again.
func TestRateLimitRefusesLocallyOnceTheLimitIsReached(t *testing.T) {
	mr := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	t.Cleanup(func() { rdb.Close() })
	h := &countIncrs{}
	rdb.AddHook(h)
	ctx := context.Background()
	clock := time.Date(2026, 11, 30, 10, 0, 30, 0, time.UTC)
	l := NewRateLimit(rdb, 10, time.Minute)
	l.now = func() time.Time { return clock }
	for i := range 11 {
		ok, wait, err := l.Allow(ctx, "noisy")
		if err != nil || ok != (i < 10) || !ok && wait != 30*time.Second {
			t.Fatalf("check %d: %v %v %v", i, ok, wait, err)
		}
	}
	trips := h.n.Load()
	for range 100 {
		if ok, wait, err := l.Allow(ctx, "noisy"); err != nil || ok || wait != 30*time.Second {
			t.Fatalf("over the limit: %v %v %v", ok, wait, err)
		}
	}
	if n := h.n.Load() - trips; n != 0 {
		t.Fatalf("%d round trips for checks refused once the limit was reached", n)
	}
	clock = clock.Add(time.Minute)
	if ok, _, err := l.Allow(ctx, "noisy"); err != nil || !ok {
		t.Fatalf("the next window: %v %v", ok, err)
	}
}

// TestRateLimitCallerThatGivesUp: checks whose callers give up while
// Redis is stalled (DEBUG SLEEP) get their context's error, and the count
// that still runs for them afterwards touches nothing they read (the race
// detector fails this test if it does, as it failed TestSlowRedisUnderLoad
// in the gateway suite before the fix).
func TestRateLimitCallerThatGivesUp(t *testing.T) {
	rs := redistest.Start(t, "--enable-debug-command", "yes")
	rdb := redis.NewClient(&redis.Options{Addr: rs.Addr(), PoolSize: 8})
	t.Cleanup(func() { rdb.Close() })
	sleeper := redis.NewClient(&redis.Options{Addr: rs.Addr()})
	t.Cleanup(func() { sleeper.Close() })
	ctx := context.Background()
	l := NewRateLimit(rdb, 6400, time.Minute)
	if ok, _, err := l.Allow(ctx, "busy"); err != nil || !ok { // warm the connection
		t.Fatalf("%v %v", ok, err)
	}
	go sleeper.Do(ctx, "DEBUG", "SLEEP", "0.3")
	time.Sleep(20 * time.Millisecond)
	var wg sync.WaitGroup
	var gaveUp atomic.Int64
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
			defer cancel()
			ok, _, err := l.Allow(cctx, fmt.Sprint("c", rand.IntN(4)))
			if err != nil {
				if ok {
					t.Error("allowed with an error")
				}
				gaveUp.Add(1)
			}
		}()
	}
	wg.Wait()
	if gaveUp.Load() == 0 {
		t.Fatal("no caller gave up: Redis did not stall")
	}
	time.Sleep(400 * time.Millisecond) // the flights finish after their callers left
	if ok, _, err := l.Allow(ctx, "c0"); err != nil || !ok {
		t.Fatalf("after the stall: %v %v", ok, err)
	}
}
