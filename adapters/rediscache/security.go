package rediscache

import (
	"context"
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
type RateLimit struct {
	rdb    redis.UniversalClient
	limit  int64
	window time.Duration
	now    func() time.Time

	// flights are the pipelines of checks: one in flight, the next
	// gathering the checks that arrive meanwhile.
	flights coalesce.Flights[*rateCheck]
}

// rateCheck is one caller's count in a pipeline of checks.
type rateCheck struct {
	key      string
	expireAt time.Time
	n        int64
	err      error
}

var _ auth.RateLimiter = (*RateLimit)(nil)

// NewRateLimit allows limit requests per client per window.
func NewRateLimit(rdb redis.UniversalClient, limit int, window time.Duration) *RateLimit {
	return &RateLimit{rdb: rdb, limit: int64(limit), window: window, now: time.Now}
}

// Allow implements auth.RateLimiter.
func (l *RateLimit) Allow(ctx context.Context, clientID string) (bool, time.Duration, error) {
	now := l.now()
	start := now.Truncate(l.window)
	c := &rateCheck{key: rateKey(clientID, start.Unix()), expireAt: start.Add(2 * l.window)}
	if err := l.count(ctx, c); err != nil {
		return false, 0, err
	}
	if c.n > l.limit {
		return false, start.Add(l.window).Sub(now), nil
	}
	return true, 0, nil
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
		incrs[i] = pipe.Incr(ctx, c.key)
	}
	_, _ = pipe.Exec(ctx) // SET NX answers nil for a key that exists; each INCR's error is its own
	for i, c := range checks {
		c.n, c.err = incrs[i].Result()
		c.err = classify("rediscache.RateLimit", c.err)
	}
}
