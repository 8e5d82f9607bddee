package sqlstore_test

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/dischargegateway/gateway/adapters/sqlstore"
	"github.com/dischargegateway/gateway/discharge"
)

// TestCapacityHistoryPage: a location's history is every posting the
// record applied, newest first, paged with an offset, and its total counts
// them all, not the page: an older posting it ignored is not in it, nor
// another location's postings.
func TestCapacityHistoryPage(t *testing.T) {
	t0 := time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC)
	sqlEngines(t, map[string]func(t *testing.T, s *sqlstore.Store){
		"pages": func(t *testing.T, s *sqlstore.Store) {
			ctx := context.Background()
			c := sqlstore.NewCapacity(s)
			for i := range 5 {
				if _, applied, err := c.Record(ctx, posting("H1", t0.Add(time.Duration(i)*time.Hour), i)); err != nil || !applied {
					t.Fatal(applied, err)
				}
			}
			if _, applied, err := c.Record(ctx, posting("H1", t0.Add(-time.Hour), 9)); err != nil || applied {
				t.Fatalf("an older posting was applied (%v) or failed: %v", applied, err)
			}
			if _, _, err := c.Record(ctx, posting("H2", t0, 1)); err != nil {
				t.Fatal(err)
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
					page, total, err := c.HistoryPage(ctx, "H1", tc.offset, tc.count)
					if err != nil || total != 5 || len(page) != len(tc.versions) {
						t.Fatalf("page %+v total %d err %v", page, total, err)
					}
					for i, v := range tc.versions {
						if page[i].Version != v || page[i].LocationID != "H1" {
							t.Fatalf("entry %d is %s version %d, want H1 version %d", i, page[i].LocationID, page[i].Version, v)
						}
						// Version v was posted with v-1 beds free, as of t0 + (v-1) h.
						if free := page[i].Beds[0].AcceptingAdmissions; free != int(v-1) || !page[i].AsOf.Equal(t0.Add(time.Duration(v-1)*time.Hour)) {
							t.Fatalf("version %d holds %d free as of %v", v, free, page[i].AsOf)
						}
					}
				})
			}
			for _, loc := range []string{"never-posted", "", "bad\x00id", "\xff"} {
				if page, total, err := c.HistoryPage(ctx, loc, 0, 10); err != nil || total != 0 || len(page) != 0 {
					t.Fatalf("%q: %v %d %v", loc, page, total, err)
				}
			}
		},
		// More postings than the cache's stream used to keep (about 500):
		// the record keeps and counts them all.
		"every posting": func(t *testing.T, s *sqlstore.Store) {
			ctx := context.Background()
			c := sqlstore.NewCapacity(s)
			const n = 620
			for i := 0; i < n; i += 62 {
				batch := make([]discharge.Capacity, 62)
				for j := range batch {
					batch[j] = posting("H3", t0.Add(time.Duration(i+j)*time.Minute), (i+j)%10)
				}
				if _, err := c.RecordBatch(ctx, batch); err != nil {
					t.Fatal(err)
				}
			}
			page, total, err := c.HistoryPage(ctx, "H3", n-1, 5)
			if err != nil || total != n || len(page) != 1 || page[0].Version != 1 {
				t.Fatalf("total %d, last page %+v, err %v", total, page, err)
			}
		},
	})
}
