package sqlstore_test

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/dischargegateway/gateway/adapters/sqlstore"
	"github.com/dischargegateway/gateway/internal/pgtest"
)

// BenchmarkStockCopy measures what migration 18's stock copy costs an
// Encounter update that moves a sitrep counter (a new NCTR date), on a
// trust of STOCK_CASES (1,000) open cases, beside the same-run baseline of
// the same update under migration 14's triggers (no copy):
//   - with-copy-mark-present: every write after the day's first (the
//     copy is already there; two index lookups);
//   - first-change-after-close: the day's first write, which copies the
//     trust's stock;
//   - baseline-again: the baseline once more, last, to show the drift.
//
// STOCK_ENGINES=sqlite,postgres chooses the engines (default sqlite).
func BenchmarkStockCopy(b *testing.B) {
	perTrust := envInt("STOCK_CASES", 1000)
	engines := os.Getenv("STOCK_ENGINES")
	if engines == "" {
		engines = "sqlite"
	}
	now := time.Now()
	ctx := context.Background()
	for _, eng := range []string{"sqlite", "postgres"} {
		if !containsWord(engines, eng) {
			continue
		}
		b.Run(eng, func(b *testing.B) {
			var s *sqlstore.Store
			var err error
			if eng == "sqlite" {
				s, err = sqlstore.Open(ctx, "", b.TempDir())
			} else {
				_, url := pgtest.Start(b).NewDatabase(b)
				s, err = sqlstore.Open(ctx, url, "")
			}
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			trust := loadSitrep(b, s, 1, perTrust, now)[0]
			versions := map[string]int64{}
			n := 0
			update := func(b *testing.B) {
				id := fmt.Sprintf("%s-%06d", trust, n%perTrust)
				v := versions[id] + 1
				if v == 1 {
					v = 2
				}
				since := now.Add(-time.Duration(n%30+1) * 24 * time.Hour).Format(time.DateOnly)
				writeSitrepEnc(b, s, trust, v, now, sitrepEnc{id: id, pathway: "1", nctrSince: since, reason: "transport"})
				versions[id] = v
				n++
			}
			baseline := func(b *testing.B) {
				if err := sqlstore.UseStockCopyForTest(ctx, s, false); err != nil {
					b.Fatal(err)
				}
				for range b.N {
					update(b)
				}
			}
			b.Run("baseline-migration-14-triggers", baseline)
			b.Run("with-copy-mark-present", func(b *testing.B) {
				if err := sqlstore.UseStockCopyForTest(ctx, s, true); err != nil {
					b.Fatal(err)
				}
				update(b)
				b.ResetTimer()
				for range b.N {
					update(b)
				}
			})
			b.Run("first-change-after-close", func(b *testing.B) {
				if err := sqlstore.UseStockCopyForTest(ctx, s, true); err != nil {
					b.Fatal(err)
				}
				for range b.N {
					b.StopTimer()
					if err := sqlstore.ForgetStockForTest(ctx, s, trust); err != nil {
						b.Fatal(err)
					}
					b.StartTimer()
					update(b)
				}
			})
			// The baseline again, last: the drift of a growing database and
			// a loaded machine, which the comparison must exceed.
			b.Run("baseline-again", baseline)
		})
	}
}
