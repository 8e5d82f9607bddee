package sqlstore_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/dischargegateway/gateway/adapters/sqlstore"
	"github.com/dischargegateway/gateway/auth"
	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/internal/pgtest"
	"github.com/dischargegateway/gateway/sitrep"
)

func envInt(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n > 0 {
		return n
	}
	return def
}

// loadSitrep writes trusts × perTrust open cases through Commit (so the
// triggers keep the counters, as in production), seven in ten not meeting
// the criteria to reside, with a pathway, a delay reason and an NCTR date
// in the last 40 days, plus a tenth as many discharged in the last week.
func loadSitrep(b *testing.B, s *sqlstore.Store, trusts, perTrust int, now time.Time) []string {
	b.Helper()
	rng := rand.New(rand.NewPCG(3, 4))
	reasons := discharge.DelayReasons()
	day := func(back int) string { return now.Add(-time.Duration(back) * 24 * time.Hour).Format(time.DateOnly) }
	var names []string
	for t := 0; t < trusts; t++ {
		name := fmt.Sprintf("R%03d", t)
		names = append(names, name)
		var es []sitrepEnc
		for i := 0; i < perTrust+perTrust/10; i++ {
			e := sitrepEnc{id: fmt.Sprintf("%s-%06d", name, i), pathway: strconv.Itoa(rng.IntN(4))}
			if rng.IntN(10) < 7 {
				e.nctrSince = day(rng.IntN(40))
				e.reason = reasons[rng.IntN(len(reasons))].Code
			}
			if i >= perTrust {
				e.status = "finished"
				e.end = now.Add(-time.Duration(rng.IntN(7*24*60)) * time.Minute).UTC().Format(time.RFC3339)
			}
			es = append(es, e)
		}
		for i := 0; i < len(es); i += 500 {
			writeSitrepEnc(b, s, name, 1, now.Add(-72*time.Hour), es[i:min(i+500, len(es))]...)
		}
	}
	return names
}

// BenchmarkSitrep measures a hub's sitrep over SITREP_TRUSTS (100) member
// trusts of SITREP_CASES (1,000) open cases each, for a seven-day period,
// beside the same-run baseline of one raw read by key per trust (the one
// round trip per trust the sitrep also makes). Target: <= 1 s.
// SITREP_ENGINES=sqlite,postgres chooses the engines (default sqlite).
func BenchmarkSitrep(b *testing.B) {
	trusts, perTrust := envInt("SITREP_TRUSTS", 100), envInt("SITREP_CASES", 1000)
	engines := os.Getenv("SITREP_ENGINES")
	if engines == "" {
		engines = "sqlite"
	}
	now := time.Now()
	for _, eng := range []string{"sqlite", "postgres"} {
		if !containsWord(engines, eng) {
			continue
		}
		b.Run(eng, func(b *testing.B) {
			var s *sqlstore.Store
			var err error
			if eng == "sqlite" {
				s, err = sqlstore.Open(context.Background(), "", b.TempDir())
			} else {
				_, url := pgtest.Start(b).NewDatabase(b)
				s, err = sqlstore.Open(context.Background(), url, "")
			}
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			start := time.Now()
			names := loadSitrep(b, s, trusts, perTrust, now)
			b.Logf("%s: loaded %d trusts x %d open cases in %s", eng, trusts, perTrust, time.Since(start).Round(time.Second))
			svc := sitrep.New(sqlstore.NewSitrep(s), nil)
			hub := &auth.Principal{Org: "HUB", Role: auth.RoleHub, Members: names}
			today := discharge.Today(now)
			req := sitrep.Request{From: discharge.DateOfDay(discharge.DayNumber(today) - 6), To: today}
			ctx := context.Background()
			b.Run("sitrep", func(b *testing.B) {
				for b.Loop() {
					rep, err := svc.Sitrep(ctx, hub, req)
					if err != nil {
						b.Fatal(err)
					}
					if rep.NCTR < trusts*perTrust/2 {
						b.Fatalf("NCTR %d", rep.NCTR)
					}
				}
			})
			b.Run("baseline-read-per-trust", func(b *testing.B) {
				for b.Loop() {
					for _, n := range names {
						if _, err := s.Read(ctx, n, "Encounter", n+"-000000"); err != nil {
							b.Fatal(err)
						}
					}
				}
			})
		})
	}
}

func containsWord(list, w string) bool {
	for i := 0; i+len(w) <= len(list); i++ {
		if list[i:i+len(w)] == w && (i == 0 || list[i-1] == ',') && (i+len(w) == len(list) || list[i+len(w)] == ',') {
			return true
		}
	}
	return false
}
