package rediscache_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/dischargegateway/gateway/adapters/rediscache"
)

// TestSessions: a session reads back as stored, is gone after Delete, and
// expires with its ttl, on a real redis-server and on the embedded one.
func TestSessions(t *testing.T) {
	both(t, func(t *testing.T, rdb redis.UniversalClient) {
		ctx := context.Background()
		s := rediscache.NewSessions(rdb)
		if _, ok, err := s.Get(ctx, "nobody"); ok || err != nil {
			t.Fatalf("missing session: ok %v err %v", ok, err)
		}
		// A session id with braces must not move the key to another slot
		// or break the key.
		for _, id := range []string{"abc", "a{b}c"} {
			if err := s.Put(ctx, id, []byte(`{"org":"QXH"}`), time.Minute); err != nil {
				t.Fatal(err)
			}
			got, ok, err := s.Get(ctx, id)
			if err != nil || !ok || !bytes.Equal(got, []byte(`{"org":"QXH"}`)) {
				t.Fatalf("%s: got %q ok %v err %v", id, got, ok, err)
			}
			if err := s.Delete(ctx, id); err != nil {
				t.Fatal(err)
			}
			if _, ok, _ := s.Get(ctx, id); ok {
				t.Fatalf("%s: still there after Delete", id)
			}
		}
		if err := s.Put(ctx, "short", []byte("x"), time.Second); err != nil {
			t.Fatal(err)
		}
		if ttl := rdb.TTL(ctx, "dg:{web:short}").Val(); ttl <= 0 || ttl > time.Second {
			t.Fatalf("ttl %v, want (0, 1s]", ttl)
		}
	})
}
