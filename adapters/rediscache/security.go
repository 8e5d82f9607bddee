package rediscache

import (
	"context"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/dischargegateway/gateway/auth"
	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/internal/coalesce"
)

// Replay remembers client-assertion ids so a replayed assertion is refused.
// Each key lives until the assertion expires: SET NX with an expiry is the
// whole check, atomic on any topology.
type Replay struct{ rdb redis.UniversalClient }

var _ auth.ReplayCache = (*Replay)(nil)

// NewReplay returns a Redis replay cache.
func NewReplay(rdb redis.UniversalClient) *Replay { return &Replay{rdb: rdb} }

// Remember implements auth.ReplayCache.
func (r *Replay) Remember(ctx context.Context, clientID, jti string, until time.Time) (bool, error) {
	ttl := time.Until(until)
	if ttl < time.Second {
		ttl = time.Second
	}
	ok, err := r.rdb.SetNX(ctx, jtiKey(clientID, jti), 1, ttl).Result()
	if err != nil {
		return false, classify("rediscache.Replay", err)
	}
	return ok, nil
}

// RateLimit is a fixed-window request counter per client: one key per
// client and window, so it is cluster-safe and spreads clients over slots.
//
// Concurrent checks share round trips, as capacity postings share a
// commit: while one pipeline of checks is in flight, the checks that
// arrive wait and go together in the next, which is sent when that one
// ends. Every check is still counted in Redis before its caller goes on,
// by a pipeline sent after it arrived. A key is created with its expiry
// (SET NX EXAT) and then incremented, so no key is ever left without one,
// whatever happens between the two commands, and neither needs MULTI or
// a script.
//
// A busy client's checks are counted ahead, in leases: a check that finds
// no units left in this process's lease for the client and window counts
// a lease of units at once (INCRBY), takes one and keeps the rest for the
// next checks here, which then pass without a round trip (the counter's
// round trip was about 0.55 ms of a capacity posting's 4.1 at 16 clients,
// bench/ratelimit-lease-2026-11-30.md). A lease starts at one unit and
// doubles each time one is used up, up to maxLease: limit/64 units, at
// most 64 (none below a limit of 128, where each check is counted alone
// as before). So Redis still counts every request of every gateway before
// it is served, never fewer: a process's unspent units when the window
// ends were counted and not used, so a client may be refused up to
// maxLease-1 requests early per gateway process (under 1.6 % of the limit
// each; a process counts one lease of more than a unit at a time), never
// allowed one more than the limit across all of them.
//
// Once a process sees the window's limit reached for a client, it refuses
// that client's checks until the window ends without asking Redis (the
// counter cannot go down within a window); such refusals are not counted,
// which changes nothing, the limit being reached already. This holds at
// any limit, so a client refused with 429 costs Redis nothing more.
type RateLimit struct {
	rdb    redis.UniversalClient
	limit  int64
	window time.Duration
	now    func() time.Time

	// flights are the pipelines of checks: one in flight, the next
	// gathering the checks that arrive meanwhile.
	flights coalesce.Flights[*rateCheck]

	maxLease int64
	mu       sync.Mutex
	leases   map[string]*lease // by client id
}

// lease is the units of one client's current window that this process has
// counted in Redis and not yet used.
type lease struct {
	window  int64 // the window's start (Unix seconds)
	left    int64 // units counted and not used
	next    int64 // units the next lease counts
	full    bool  // the limit is reached: refuse the rest of the window
	leasing bool  // a lease of more than one unit is being counted
}

// maxLeases bounds the clients whose leases a process keeps; past it,
// leases of windows already over are dropped (a client's next check
// then starts a lease afresh).
const maxLeases = 10000

// rateCheck is one caller's count in a pipeline of checks.
type rateCheck struct {
	key      string
	expireAt time.Time
	by       int64 // units counted: the lease
	n        int64
	err      error
}

var _ auth.RateLimiter = (*RateLimit)(nil)

// NewRateLimit allows limit requests per client per window.
func NewRateLimit(rdb redis.UniversalClient, limit int, window time.Duration) *RateLimit {
	return &RateLimit{rdb: rdb, limit: int64(limit), window: window, now: time.Now,
		maxLease: min(max(int64(limit)/64, 1), 64), leases: map[string]*lease{}}
}

// Allow implements auth.RateLimiter.
func (l *RateLimit) Allow(ctx context.Context, clientID string) (bool, time.Duration, error) {
	now := l.now()
	start := now.Truncate(l.window)
	window := start.Unix()
	by, found := l.take(clientID, window)
	switch found {
	case spent:
		return true, 0, nil
	case spentAll:
		return false, start.Add(l.window).Sub(now), nil
	}
	c := &rateCheck{key: rateKey(clientID, window), expireAt: start.Add(2 * l.window), by: by}
	err := l.count(ctx, c)
	var usable int64
	if err == nil {
		// This lease is the units (n-by, n]; those up to the limit are
		// usable. (Not read on an error: a caller that gave up may find
		// its check still being counted by the flight it joined.)
		usable = min(c.n, l.limit) - (c.n - c.by)
	}
	l.keep(clientID, window, by, err == nil, usable)
	switch {
	case err != nil:
		return false, 0, err
	case usable <= 0:
		return false, start.Add(l.window).Sub(now), nil
	}
	return true, 0, nil
}

// What take found.
const (
	unleased = iota // no unit left here: count a lease of the size given
	spent           // a unit of the lease taken
	spentAll        // the window's limit is reached: refuse until it ends
)

// take spends one unit of the client's lease for the window if any is
// left; else it says how many units to count: the next lease's size, or
// one while another lease of more is in flight for the client (so a
// process holds at most one lease's spare units at once, whatever its
// concurrency).
func (l *RateLimit) take(clientID string, window int64) (int64, int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	ls := l.leases[clientID]
	if ls == nil {
		if len(l.leases) >= maxLeases {
			for id, o := range l.leases {
				if o.window < window && !o.leasing {
					delete(l.leases, id)
				}
			}
		}
		ls = &lease{window: window, next: 1}
		l.leases[clientID] = ls
	}
	if ls.window < window {
		// A new window: what was left of the old one is gone; the lease
		// size carries over, as the client is as busy as it was.
		ls.window, ls.left, ls.full = window, 0, false
	}
	switch {
	case ls.window > window:
		return 1, unleased // a check begun in the window before
	case ls.left > 0: // units counted before the limit was reached
		ls.left--
		return 0, spent
	case ls.full:
		return 0, spentAll
	case ls.leasing || ls.next == 1:
		return 1, unleased
	}
	ls.leasing = true
	return ls.next, unleased
}

// keep ends a count of by units for the client's window: when counted, it
// adds the lease's spare units (usable less the one this check takes) to
// the client's and doubles the next lease, or, when none was usable,
// records that the window's limit is reached (a counter only grows within
// its window, so every later check of the window is refused here without a
// round trip).
func (l *RateLimit) keep(clientID string, window, by int64, counted bool, usable int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	ls := l.leases[clientID]
	if ls == nil {
		return // dropped meanwhile (only possible for a window already over)
	}
	if by > 1 {
		ls.leasing = false
	}
	if !counted || ls.window != window {
		return
	}
	if usable <= 0 {
		ls.full = true
		return
	}
	ls.left += usable - 1
	ls.next = min(ls.next*2, l.maxLease)
}

// count counts c in a pipeline sent after this call began: its own when
// none is in flight, else the next one, shared with the checks that
// arrive meanwhile.
func (l *RateLimit) count(ctx context.Context, c *rateCheck) error {
	if err := l.flights.Do(ctx, c, l.send); err != nil {
		return classify("rediscache.RateLimit", err)
	}
	return c.err
}

// send counts a batch's checks in one pipeline (in the context
// coalesce.Flights gives it: the sender's deadline, without its
// cancellation, as the other callers wait for the answer too).
func (l *RateLimit) send(ctx context.Context, checks []*rateCheck) {
	failed := discharge.E(discharge.KindInternal, "rediscache.RateLimit", "The rate limit could not be checked.")
	for _, c := range checks {
		c.err = failed // until counted: a panic below answers this
	}
	pipe := l.rdb.Pipeline()
	incrs := make([]*redis.IntCmd, len(checks))
	for i, c := range checks {
		pipe.SetArgs(ctx, c.key, 0, redis.SetArgs{Mode: "NX", ExpireAt: c.expireAt})
		if c.by > 1 {
			incrs[i] = pipe.IncrBy(ctx, c.key, c.by)
		} else {
			incrs[i] = pipe.Incr(ctx, c.key)
		}
	}
	_, _ = pipe.Exec(ctx) // SET NX answers nil for a key that exists; each INCR's error is its own
	for i, c := range checks {
		c.n, c.err = incrs[i].Result()
		c.err = classify("rediscache.RateLimit", c.err)
	}
}
