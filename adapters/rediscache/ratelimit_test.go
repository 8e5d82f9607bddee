package rediscache_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/dischargegateway/gateway/adapters/rediscache"
)

// TestRateLimitCountsEveryConcurrentCheck: checks made at once (which
// share pipelines) are each counted, so exactly limit of them pass; another
// client has its own budget; the window's key expires.
func TestRateLimitCountsEveryConcurrentCheck(t *testing.T) {
	both(t, func(t *testing.T, rdb redis.UniversalClient) {
		ctx := context.Background()
		const limit, callers = 50, 200
		l := rediscache.NewRateLimit(rdb, limit, time.Hour)
		var allowed, refused atomic.Int64
		var wg sync.WaitGroup
		for range callers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ok, wait, err := l.Allow(ctx, "busy")
				switch {
				case err != nil:
					t.Error(err)
				case ok:
					allowed.Add(1)
				case wait <= 0 || wait > time.Hour:
					t.Errorf("refused with Retry-After %v", wait)
				default:
					refused.Add(1)
				}
			}()
		}
		wg.Wait()
		if allowed.Load() != limit || refused.Load() != callers-limit {
			t.Fatalf("%d allowed and %d refused of %d, want %d allowed", allowed.Load(), refused.Load(), callers, limit)
		}
		if ok, _, err := l.Allow(ctx, "quiet"); err != nil || !ok {
			t.Fatalf("another client: %v %v", ok, err)
		}
		keys, err := rdb.Keys(ctx, "*rl:*").Result()
		if err != nil {
			t.Fatal(err)
		}
		if len(keys) == 0 && !isCluster(rdb) {
			t.Fatal("no rate limit keys")
		}
		for _, k := range keys {
			if ttl, err := rdb.TTL(ctx, k).Result(); err != nil || ttl <= time.Hour || ttl > 2*time.Hour {
				t.Fatalf("%s: TTL %v %v, want between one and two windows", k, ttl, err)
			}
		}
	})
}

func isCluster(rdb redis.UniversalClient) bool {
	_, ok := rdb.(*redis.ClusterClient)
	return ok
}
