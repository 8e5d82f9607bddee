package rediscache_test

import (
	"context"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/dischargegateway/gateway/adapters/rediscache"
)

// TestCapacityStoreEmptyInputs sweeps the capacity store's methods and
// scripts with empty inputs: no ids, no areas, no bed types.
func TestCapacityStoreEmptyInputs(t *testing.T) {
	both(t, func(t *testing.T, rdb redis.UniversalClient) {
		ctx := context.Background()
		cs := rediscache.NewCapacityStore(rdb)
		if got, err := cs.Get(ctx); err != nil || len(got) != 0 {
			t.Fatalf("Get(): %v %v", got, err)
		}
		if got, err := cs.Get(ctx, "", "never-posted"); err != nil || len(got) != 0 {
			t.Fatalf("Get(absent): %v %v", got, err)
		}
		if got, err := cs.Versions(ctx); err != nil || len(got) != 0 {
			t.Fatalf("Versions(): %v %v", got, err)
		}
		if got, err := cs.Versions(ctx, ""); err != nil || len(got) != 1 || got[0] != 0 {
			t.Fatalf("Versions(\"\"): %v %v", got, err)
		}
		if got, err := cs.Near(ctx, nil, nil, 53.4, -2.2, 10, 0); err != nil || len(got) != 0 {
			t.Fatalf("Near(no areas): %v %v", got, err)
		}
		if got, err := cs.Near(ctx, []string{"M"}, nil, 53.4, -2.2, 10, 5); err != nil || len(got) != 0 {
			t.Fatalf("Near(no bed types): %v %v", got, err)
		}
		if got, err := cs.NearLocations(ctx, nil, 53.4, -2.2, 10, 0); err != nil || len(got) != 0 {
			t.Fatalf("NearLocations(no areas): %v %v", got, err)
		}
		if got, err := cs.NearLocations(ctx, []string{"", "M"}, 53.4, -2.2, 10, 0); err != nil || len(got) != 0 {
			t.Fatalf("NearLocations(empty area, no limit): %v %v", got, err)
		}
		if got, err := cs.Covering(ctx, ""); err != nil || len(got) != 0 {
			t.Fatalf("Covering(\"\"): %v %v", got, err)
		}
	})
}
