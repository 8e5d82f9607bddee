package auth_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/dischargegateway/gateway/auth"
)

// sharedLimiter answers from a script: an error while down, else the count
// against limit.
type sharedLimiter struct {
	down  bool
	calls int
	n     map[string]int
	limit int
}

func (s *sharedLimiter) Allow(_ context.Context, id string) (bool, time.Duration, error) {
	s.calls++
	if s.down {
		return false, 0, errors.New("connection refused")
	}
	s.n[id]++
	return s.n[id] <= s.limit, time.Second, nil
}

func TestFallbackLimiter(t *testing.T) {
	now := time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)
	shared := &sharedLimiter{n: map[string]int{}, limit: 2}
	fallbacks := 0
	l := &auth.FallbackLimiter{Shared: shared, Limit: 3, Window: time.Minute, Cooldown: time.Second,
		Now: func() time.Time { return now }, OnFallback: func(error) { fallbacks++ }}
	ctx := context.Background()
	allow := func(id string) bool {
		t.Helper()
		ok, _, err := l.Allow(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}

	// Up: the shared limiter decides.
	if !allow("a") || !allow("a") || allow("a") {
		t.Fatal("the shared limiter's answers were not passed on")
	}

	// Down: counted locally up to Limit, and the shared limiter rests.
	shared.down = true
	calls := shared.calls
	for i := 1; i <= 3; i++ {
		if !allow("b") {
			t.Fatalf("request %d refused while the shared limiter is down", i)
		}
	}
	if allow("b") {
		t.Fatal("the local count let a fourth request through in one window")
	}
	if shared.calls != calls+1 || fallbacks != 1 {
		t.Fatalf("shared asked %d times and %d fallbacks during the cooldown, want 1 and 1", shared.calls-calls, fallbacks)
	}

	// After the cooldown the shared limiter is asked again, and once it is
	// back it decides again.
	now = now.Add(2 * time.Second)
	shared.down = false
	if !allow("c") || shared.calls != calls+2 {
		t.Fatal("the shared limiter was not asked again after its cooldown")
	}

	// A cancelled request is an error, not a fallback.
	shared.down = true
	now = now.Add(2 * time.Second)
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, _, err := l.Allow(cctx, "d"); err == nil {
		t.Fatal("a cancelled request fell back instead of failing")
	}
}
