package rediscache

import (
	"context"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/dischargegateway/gateway/auth"
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
type RateLimit struct {
	rdb    redis.UniversalClient
	limit  int64
	window time.Duration
	now    func() time.Time
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
	key := rateKey(clientID, start.Unix())
	pipe := l.rdb.TxPipeline()
	n := pipe.Incr(ctx, key)
	pipe.ExpireAt(ctx, key, start.Add(2*l.window))
	if _, err := pipe.Exec(ctx); err != nil {
		return false, 0, classify("rediscache.RateLimit", err)
	}
	if n.Val() > l.limit {
		return false, start.Add(l.window).Sub(now), nil
	}
	return true, 0, nil
}
