package auth

import (
	"context"
	"sync"
	"time"
)

// FallbackLimiter is the rate limiter the gateway runs with: a shared
// limiter (Redis, counting across every gateway) and, while the shared one
// cannot answer, a count kept in this process instead.
//
// Rate limits are not a record: losing the shared count for a while lets a
// client through up to the limit on each gateway rather than across all of
// them. Refusing every authenticated request instead (failing closed) would
// turn a cache outage into a full outage although the record, which serves
// almost every request, is up. So a failed shared check falls back, and
// the shared limiter is not asked again for Cooldown, so a Redis that hangs
// rather than refuses does not add its timeout to every request.
type FallbackLimiter struct {
	Shared RateLimiter
	// Limit requests per client per Window, as the shared limiter counts.
	Limit  int
	Window time.Duration
	// Cooldown is how long the shared limiter rests after a failure
	// (default one second).
	Cooldown time.Duration
	// OnFallback, if set, hears each failure of the shared limiter that
	// starts a fallback period (at most once per Cooldown).
	OnFallback func(error)
	// Now is the clock (time.Now when nil).
	Now func() time.Time

	mu      sync.Mutex
	resting time.Time // the shared limiter is not asked before this
	start   time.Time // the local window's start
	counts  map[string]int
}

var _ RateLimiter = (*FallbackLimiter)(nil)

// Allow implements RateLimiter. It fails only when ctx is done.
func (l *FallbackLimiter) Allow(ctx context.Context, clientID string) (bool, time.Duration, error) {
	now := l.now()
	l.mu.Lock()
	rest := now.Before(l.resting)
	l.mu.Unlock()
	if !rest {
		ok, wait, err := l.Shared.Allow(ctx, clientID)
		if err == nil {
			return ok, wait, nil
		}
		if ctx.Err() != nil {
			return false, 0, err
		}
		cool := l.Cooldown
		if cool <= 0 {
			cool = time.Second
		}
		l.mu.Lock()
		l.resting = now.Add(cool)
		l.mu.Unlock()
		if l.OnFallback != nil {
			l.OnFallback(err)
		}
	}
	return l.local(now, clientID)
}

// local is a fixed-window count in this process.
func (l *FallbackLimiter) local(now time.Time, clientID string) (bool, time.Duration, error) {
	w := l.Window
	if w <= 0 {
		w = time.Minute
	}
	start := now.Truncate(w)
	l.mu.Lock()
	defer l.mu.Unlock()
	if !start.Equal(l.start) || l.counts == nil {
		l.start, l.counts = start, map[string]int{}
	}
	l.counts[clientID]++
	if l.Limit > 0 && l.counts[clientID] > l.Limit {
		return false, start.Add(w).Sub(now), nil
	}
	return true, 0, nil
}

func (l *FallbackLimiter) now() time.Time {
	if l.Now != nil {
		return l.Now()
	}
	return time.Now()
}
