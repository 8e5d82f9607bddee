package sqlstore_test

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/dischargegateway/gateway/adapters/rediscache"
	"github.com/dischargegateway/gateway/adapters/sqlstore"
	"github.com/dischargegateway/gateway/capacity"
	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/internal/pgtest"
)

// BenchmarkPostings measures capacity postings from concurrent callers
// (b.SetParallelism(4): 8 on 2 cores, as cmd/loadgen's 8 workers) through
// the record and the cache, in the same run:
//   - one-by-one: each posting its own transaction and its own cache
//     script and pipeline, as capacity.Recorded did before group commit;
//   - group-commit-N-batches: capacity.Recorded.Put, postings that arrive
//     together recorded in one transaction and cached in one pipeline,
//     with at most N batches committing at once;
//   - raw-insert: the floor, a single-row INSERT into a table of its own
//     per posting, each its own durable commit, from as many callers.
//
// The record is SQLite (a file, WAL, synchronous FULL, as the store opens
// it) and a private PostgreSQL (fsync and synchronous_commit on); the
// cache an embedded Redis. Locations: 300, as loadgen posts for.
func BenchmarkPostings(b *testing.B) {
	ctx := context.Background()
	for _, eng := range []string{"sqlite", "postgres"} {
		b.Run(eng, func(b *testing.B) {
			var s *sqlstore.Store
			var raw func(id int64, body string) error
			var err error
			if eng == "sqlite" {
				dir := b.TempDir()
				if s, err = sqlstore.Open(ctx, "", dir); err != nil {
					b.Fatal(err)
				}
				db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "raw.db")+"?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_txlock=immediate")
				if err != nil {
					b.Fatal(err)
				}
				db.SetMaxOpenConns(8)
				b.Cleanup(func() { db.Close() })
				if _, err := db.Exec("CREATE TABLE raw (id BIGINT PRIMARY KEY, body TEXT NOT NULL)"); err != nil {
					b.Fatal(err)
				}
				raw = func(id int64, body string) error {
					_, err := db.ExecContext(ctx, "INSERT INTO raw (id, body) VALUES ($1, $2)", id, body)
					return err
				}
			} else {
				pg := pgtest.Start(b)
				_, url := pg.NewDatabase(b)
				if s, err = sqlstore.Open(ctx, url, ""); err != nil {
					b.Fatal(err)
				}
				pool, err := pgxpool.New(ctx, url)
				if err != nil {
					b.Fatal(err)
				}
				b.Cleanup(pool.Close)
				if _, err := pool.Exec(ctx, "CREATE TABLE raw (id BIGINT PRIMARY KEY, body TEXT NOT NULL)"); err != nil {
					b.Fatal(err)
				}
				raw = func(id int64, body string) error {
					_, err := pool.Exec(ctx, "INSERT INTO raw (id, body) VALUES ($1, $2)", id, body)
					return err
				}
			}
			b.Cleanup(func() { s.Close() })
			rc, err := rediscache.Open(ctx, rediscache.Config{})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { rc.Close() })
			record, cache := sqlstore.NewCapacity(s), rediscache.NewCapacityStore(rc.Client)
			var seq atomic.Int64
			posting := func(r *rand.Rand) discharge.Capacity {
				return discharge.Capacity{LocationID: fmt.Sprintf("L%03d", r.IntN(300)),
					AsOf: time.Now().Add(time.Duration(seq.Add(1)) * time.Microsecond),
					Beds: []discharge.BedCapacity{{Type: discharge.BedNursing, MaxCapacity: 10, Occupied: 4, AcceptingAdmissions: 6}}}
			}
			run := func(b *testing.B, post func(discharge.Capacity) error) {
				b.SetParallelism(4)
				b.ResetTimer()
				b.RunParallel(func(pb *testing.PB) {
					r := rand.New(rand.NewPCG(rand.Uint64(), 1))
					for pb.Next() {
						if err := post(posting(r)); err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			b.Run("one-by-one", func(b *testing.B) {
				run(b, func(c discharge.Capacity) error {
					cur, applied, err := record.Record(ctx, c)
					if err == nil && applied {
						_, _, err = cache.Put(ctx, cur, nil, "")
					}
					return err
				})
			})
			for _, n := range []int{1, 2, 4} {
				b.Run(fmt.Sprintf("group-commit-%d-batches", n), func(b *testing.B) {
					rec := capacity.NewRecorded(record, cache, slog.New(slog.NewJSONHandler(io.Discard, nil)))
					rec.SetBatches(n)
					run(b, func(c discharge.Capacity) error {
						_, _, err := rec.Put(ctx, c, nil, "")
						return err
					})
				})
			}
			b.Run("raw-insert", func(b *testing.B) {
				run(b, func(c discharge.Capacity) error { return raw(seq.Add(1), c.LocationID) })
			})
		})
	}
}
