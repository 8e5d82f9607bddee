package rediscache_test

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/dischargegateway/gateway/adapters/rediscache"
	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/internal/redistest"
)

// both runs a test against a real redis-server and against the embedded
// miniredis, which must behave the same for everything the cache uses.
func both(t *testing.T, f func(t *testing.T, rdb redis.UniversalClient)) {
	t.Run("redis-server", func(t *testing.T) {
		target := redistest.Open(t) // a cluster or Sentinel with REDISTEST_MODE
		c, err := rediscache.Open(context.Background(), rediscache.Config{URL: target.URL, Addrs: target.Addrs,
			SentinelMaster: target.SentinelMaster, Timeout: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		f(t, c.Client)
	})
	t.Run("embedded", func(t *testing.T) {
		c, err := rediscache.Open(context.Background(), rediscache.Config{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		if !c.Embedded {
			t.Fatal("not embedded")
		}
		f(t, c.Client)
	})
}

func kindOf(err error) discharge.Kind { return discharge.ErrorKind(err) }

// startRedis is a client of a standalone redis-server of the test's own.
func startRedis(t *testing.T) redis.UniversalClient {
	rs := redistest.Start(t)
	c, err := rediscache.Open(context.Background(), rediscache.Config{URL: rs.URL()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c.Client
}
