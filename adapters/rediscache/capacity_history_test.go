package rediscache_test

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/dischargegateway/gateway/adapters/rediscache"
)

// TestCapacityHistoryPage checks that a history page counts every posting
// kept, not the page, and pages newest first with an offset.
func TestCapacityHistoryPage(t *testing.T) {
	both(t, func(t *testing.T, rdb redis.UniversalClient) {
		ctx := context.Background()
		cs := rediscache.NewCapacityStore(rdb, 100)
		t0 := time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC)
		for i := range 5 {
			if _, applied, err := cs.Put(ctx, posting("H1", t0.Add(time.Duration(i)*time.Hour), i), nil, ""); err != nil || !applied {
				t.Fatal(applied, err)
			}
		}
		for _, tc := range []struct {
			name          string
			offset, count int
			versions      []int64
		}{
			{"first page", 0, 2, []int64{5, 4}},
			{"second page", 2, 2, []int64{3, 2}},
			{"last, short", 4, 2, []int64{1}},
			{"past the end", 9, 2, nil},
			{"count zero", 0, 0, nil},
			{"negative offset", -3, 1, []int64{5}},
			{"huge offset", math.MaxInt, 5, nil},
		} {
			t.Run(tc.name, func(t *testing.T) {
				page, total, err := cs.HistoryPage(ctx, "H1", tc.offset, tc.count)
				if err != nil || total != 5 || len(page) != len(tc.versions) {
					t.Fatalf("page %+v total %d err %v", page, total, err)
				}
				for i, v := range tc.versions {
					if page[i].Version != v {
						t.Fatalf("entry %d is version %d, want %d", i, page[i].Version, v)
					}
				}
			})
		}
		if page, total, err := cs.HistoryPage(ctx, "never-posted", 0, 10); err != nil || total != 0 || len(page) != 0 {
			t.Fatalf("absent: %v %d %v", page, total, err)
		}
	})
}
