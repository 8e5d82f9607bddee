package sqlstore_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dischargegateway/gateway/adapters/sqlstore"
	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/internal/pgtest"
	"github.com/dischargegateway/gateway/internal/sqlitetest"
)

// sqlEngines gives each case a fresh SQL store on SQLite and on a real
// PostgreSQL (one server for all the cases).
func sqlEngines(t *testing.T, cases map[string]func(t *testing.T, s *sqlstore.Store)) {
	for _, eng := range []string{"sqlite", "postgres"} {
		t.Run(eng, func(t *testing.T) {
			var open func(t *testing.T) *sqlstore.Store
			if eng == "sqlite" {
				open = func(t *testing.T) *sqlstore.Store {
					s, err := sqlstore.Open(context.Background(), "", sqlitetest.Dir(t))
					if err != nil {
						t.Fatal(err)
					}
					t.Cleanup(func() { s.Close() })
					return s
				}
			} else {
				pg := pgtest.Start(t)
				open = func(t *testing.T) *sqlstore.Store {
					_, url := pg.NewDatabase(t)
					s, err := sqlstore.Open(context.Background(), url, "")
					if err != nil {
						t.Fatal(err)
					}
					t.Cleanup(func() { s.Close() })
					return s
				}
			}
			for name, c := range cases {
				t.Run(name, func(t *testing.T) { c(t, open(t)) })
			}
		})
	}
}

func posting(loc string, asOf time.Time, free int) discharge.Capacity {
	return discharge.Capacity{LocationID: loc, AsOf: asOf,
		Beds: []discharge.BedCapacity{{Type: discharge.BedNursing, MaxCapacity: 10, Occupied: 10 - free, AcceptingAdmissions: free}}}
}

func TestCapacityRecord(t *testing.T) {
	t0 := time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)
	sqlEngines(t, map[string]func(t *testing.T, s *sqlstore.Store){
		// The cache's rule: a newer asOf applies, an older one is ignored
		// and answers the newer one kept, an equal one is a correction.
		"newer applies, older is ignored, equal corrects": func(t *testing.T, s *sqlstore.Store) {
			ctx := context.Background()
			rec := sqlstore.NewCapacity(s)
			for i, step := range []struct {
				p           discharge.Capacity
				applied     bool
				version     int64
				free        int
				wantAsOfMin int
			}{
				{posting("L1", t0, 3), true, 1, 3, 0},
				{posting("L1", t0.Add(time.Minute), 2), true, 2, 2, 1},
				{posting("L1", t0.Add(-time.Minute), 9), false, 2, 2, 1},
				{posting("L1", t0.Add(time.Minute), 1), true, 3, 1, 1},
			} {
				cur, applied, err := rec.Record(ctx, step.p)
				if err != nil {
					t.Fatal(err)
				}
				if applied != step.applied || cur.Version != step.version || cur.Beds[0].AcceptingAdmissions != step.free ||
					!cur.AsOf.Equal(t0.Add(time.Duration(step.wantAsOfMin)*time.Minute)) || cur.LocationID != "L1" {
					t.Fatalf("step %d: applied %v, current %+v", i, applied, cur)
				}
			}
		},
		// Every location's latest posting, once, across page boundaries,
		// with home care read back as recorded.
		"each latest": func(t *testing.T, s *sqlstore.Store) {
			defer sqlstore.SetLatestPageSize(3)()
			ctx := context.Background()
			rec := sqlstore.NewCapacity(s)
			want := map[string]int{}
			for i := range 7 {
				loc := fmt.Sprintf("L%d", i)
				for v := range i%3 + 1 {
					if _, _, err := rec.Record(ctx, posting(loc, t0.Add(time.Duration(v)*time.Minute), v)); err != nil {
						t.Fatal(err)
					}
				}
				want[loc] = i % 3
			}
			start, err := discharge.ParseDate("2026-11-02")
			if err != nil {
				t.Fatal(err)
			}
			hc := discharge.Capacity{LocationID: "M1", AsOf: t0,
				HomeCare: []discharge.HomeCareOffer{{Outcodes: []string{"M14"}, HoursPerWeek: 20, Packages: 2, EarliestStart: start}}}
			if _, _, err := rec.Record(ctx, hc); err != nil {
				t.Fatal(err)
			}
			got := map[string]int{}
			err = rec.EachLatest(ctx, func(c discharge.Capacity) error {
				if _, dup := got[c.LocationID]; dup {
					t.Errorf("%s twice", c.LocationID)
				}
				if c.LocationID == "M1" {
					if len(c.HomeCare) != 1 || c.HomeCare[0].Outcodes[0] != "M14" || c.HomeCare[0].Packages != 2 || c.Version != 1 {
						t.Errorf("home care read back as %+v", c)
					}
					got["M1"] = -1
					return nil
				}
				got[c.LocationID] = c.Beds[0].AcceptingAdmissions
				if c.Version != int64(want[c.LocationID]+1) {
					t.Errorf("%s at version %d", c.LocationID, c.Version)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			want["M1"] = -1
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("latest %v, want %v", got, want)
			}
		},
		// A group commit: postings in order in one transaction (a later one
		// sees an earlier one of the same batch), a member the record
		// cannot hold refused on its own, the others kept.
		"batch": func(t *testing.T, s *sqlstore.Store) {
			ctx := context.Background()
			rec := sqlstore.NewCapacity(s)
			if _, _, err := rec.Record(ctx, posting("OLD", t0.Add(time.Hour), 7)); err != nil {
				t.Fatal(err)
			}
			outs, err := rec.RecordBatch(ctx, []discharge.Capacity{
				posting("A", t0, 1),
				posting("bad\x00id", t0, 2),
				posting("A", t0.Add(time.Minute), 3),
				posting("OLD", t0, 4),
				posting("A", t0, 5),
				posting("bad\xff", t0, 2),
			})
			if err != nil {
				t.Fatal(err)
			}
			type o struct {
				applied bool
				version int64
				free    int
				refused bool
			}
			want := []o{{true, 1, 1, false}, {false, 0, 2, true}, {true, 2, 3, false}, {false, 1, 7, false}, {false, 2, 3, false}, {false, 0, 2, true}}
			for i, w := range want {
				g := outs[i]
				got := o{g.Applied, g.Current.Version, g.Current.Beds[0].AcceptingAdmissions, g.Err != nil}
				if got != w {
					t.Errorf("member %d: %+v (%v), want %+v", i, got, g.Err, w)
				}
				if w.refused && (discharge.ErrorKind(g.Err) != discharge.KindValue) {
					t.Errorf("member %d refused as %v", i, g.Err)
				}
			}
			n := 0
			if err := rec.EachLatest(ctx, func(c discharge.Capacity) error { n++; return nil }); err != nil || n != 2 {
				t.Fatalf("%d locations recorded (%v), want A and OLD", n, err)
			}
		},
		// Postings racing for one location: each applied one gets its own
		// version, and the newest asOf ends up latest whatever the order.
		// They wait for each other (on PostgreSQL, the location's lock)
		// rather than collide on the next version and run again: with
		// 64 racing, retries ran out and some answered unavailable.
		"concurrent postings": func(t *testing.T, s *sqlstore.Store) {
			ctx := context.Background()
			rec := sqlstore.NewCapacity(s)
			var wg sync.WaitGroup
			const n = 64
			errs := make(chan error, n)
			retries := s.Retries()
			for i := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					if _, _, err := rec.Record(ctx, posting("L", t0.Add(time.Duration(i)*time.Second), i%10)); err != nil {
						errs <- err
					}
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatal(err)
			}
			var latest discharge.Capacity
			if err := rec.EachLatest(ctx, func(c discharge.Capacity) error { latest = c; return nil }); err != nil {
				t.Fatal(err)
			}
			if !latest.AsOf.Equal(t0.Add((n-1)*time.Second)) || latest.Version < 1 || latest.Version > n {
				t.Fatalf("latest %+v", latest)
			}
			if r := s.Retries() - retries; r != 0 {
				t.Errorf("%d postings ran again after colliding on a version", r)
			}
		},
	})
}

// TestOpenCurrentRequiresMigrations: with migrations left to `gateway
// migrate`, a database that never saw them is refused with that advice,
// and one migrated is opened.
func TestOpenCurrentRequiresMigrations(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	if s, err := sqlstore.OpenCurrent(ctx, "", dir); err == nil || !strings.Contains(err.Error(), "gateway migrate") {
		if s != nil {
			s.Close()
		}
		t.Fatalf("opened an unmigrated database: %v", err)
	}
	if err := sqlstore.Migrate(ctx, "", dir); err != nil {
		t.Fatal(err)
	}
	s, err := sqlstore.OpenCurrent(ctx, "", dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, _, err := sqlstore.NewCapacity(s).Record(ctx, posting("L", time.Now(), 1)); err != nil {
		t.Fatal(err)
	}
}
