package rediscache

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
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

// Audit keeps audit entries in a Redis stream trimmed to a retention
// period. The stream holds who, what and when, never clinical content.
type Audit struct {
	rdb       redis.UniversalClient
	retention time.Duration
}

var _ auth.AuditLog = (*Audit)(nil)

// NewAudit returns the audit log with the given retention.
func NewAudit(rdb redis.UniversalClient, retention time.Duration) *Audit {
	return &Audit{rdb: rdb, retention: retention}
}

// maxAuditScan bounds how many entries one audit search reads.
const maxAuditScan = 20000

// Record implements auth.AuditLog.
func (a *Audit) Record(ctx context.Context, e auth.AuditEntry) error {
	b, _ := json.Marshal(e)
	minID := strconv.FormatInt(time.Now().Add(-a.retention).UnixMilli(), 10)
	err := a.rdb.XAdd(ctx, &redis.XAddArgs{Stream: auditKey, MinID: minID, Approx: true, Values: []any{"e", b}}).Err()
	return classify("rediscache.Audit", err)
}

// Search implements auth.AuditLog, newest first.
func (a *Audit) Search(ctx context.Context, q auth.AuditQuery) ([]auth.AuditEntry, error) {
	hi, lo := "+", "-"
	if !q.To.IsZero() {
		hi = strconv.FormatInt(q.To.UnixMilli(), 10)
	}
	if !q.From.IsZero() {
		lo = strconv.FormatInt(q.From.UnixMilli(), 10)
	}
	msgs, err := a.rdb.XRevRangeN(ctx, auditKey, hi, lo, maxAuditScan).Result()
	if err != nil {
		return nil, classify("rediscache.Audit", err)
	}
	limit := q.Limit
	if limit <= 0 {
		limit = 100
	}
	var out []auth.AuditEntry
	for _, m := range msgs {
		s, _ := m.Values["e"].(string)
		var e auth.AuditEntry
		if json.Unmarshal([]byte(s), &e) != nil {
			continue
		}
		if q.Agent != "" && q.Agent != e.ClientID && q.Agent != e.Org {
			continue
		}
		if q.Entity != "" {
			ref := e.ResourceType + "/" + e.ResourceID
			if q.Entity != ref && q.Entity != e.ResourceType && !strings.HasSuffix(q.Entity, "/"+ref) {
				continue
			}
		}
		out = append(out, e)
		if len(out) == limit {
			break
		}
	}
	return out, nil
}
