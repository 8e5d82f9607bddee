package sqlstore_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/dischargegateway/gateway/adapters/sqlstore"
	"github.com/dischargegateway/gateway/cases"
	"github.com/dischargegateway/gateway/internal/pgtest"
	"github.com/dischargegateway/gateway/referral"
)

// worklistCases is how many open cases the worklist benchmark loads into
// one trust (WORKLIST_CASES overrides it).
func worklistCases() int {
	if n, err := strconv.Atoi(os.Getenv("WORKLIST_CASES")); err == nil && n > 0 {
		return n
	}
	return 10000
}

// loadWorklist stores n open cases in partition "RXA" (and a tenth as many
// discharged, and n/2 in another trust, which the worklist must skip):
// pathways 0-3, a Discharge Ready Date in the last 30 days, seven in ten
// not meeting the criteria to reside, and six in ten with a timeline
// (shortlisted, one to three offers sent, some accepted).
func loadWorklist(tb testing.TB, s *sqlstore.Store, n int, now time.Time) {
	tb.Helper()
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(1, 2))
	day := func(back int) string { return now.Add(-time.Duration(back) * 24 * time.Hour).Format(time.DateOnly) }
	for _, part := range []struct {
		name        string
		open, close int
	}{{"RXA", n, n / 10}, {"RXB", n / 2, 0}} {
		var specs []encounterSpec
		var evs []referral.Event
		for i := 0; i < part.open+part.close; i++ {
			id := fmt.Sprintf("%s-%06d", part.name, i)
			sp := encounterSpec{id: id, pathway: strconv.Itoa(rng.IntN(4)), drd: day(rng.IntN(30)), edd: day(rng.IntN(30)) + "T12:00:00Z"}
			if rng.IntN(10) < 7 {
				sp.nctrSince = day(rng.IntN(40))
			}
			specs = append(specs, sp)
			seq := int64(0)
			ev := func(kind referral.EventKind, state referral.CaseState, at time.Time) {
				seq++
				evs = append(evs, referral.Event{CaseID: id, Seq: seq, At: at, Kind: kind, State: state, Actor: "trust", ActorOrg: part.name})
			}
			t0 := now.Add(-time.Duration(rng.IntN(72*60)) * time.Minute)
			if rng.IntN(10) < 6 {
				ev(referral.EventShortlisted, referral.CaseShortlisted, t0)
				for k := 0; k <= rng.IntN(3); k++ {
					ev(referral.EventOfferSent, referral.CaseOffersSent, t0.Add(time.Duration(k+1)*time.Minute))
				}
				if rng.IntN(3) == 0 {
					ev(referral.EventOfferAccepted, referral.CaseAccepted, t0.Add(3*time.Hour))
				}
			}
			if i >= part.open {
				ev(referral.EventDischarged, referral.CaseDischarged, t0.Add(48*time.Hour))
			}
		}
		putEncounters(tb, s, part.name, now.Add(-72*time.Hour), specs...)
		if err := sqlstore.InsertEvents(ctx, s, part.name, evs); err != nil {
			tb.Fatal(err)
		}
	}
}

// worklistEngines are the engines BenchmarkWorklist runs: both, or the one
// WORKLIST_ENGINE names ("sqlite" or "postgres"), for profiling one.
func worklistEngines(b *testing.B) []struct{ name, url string } {
	var out []struct{ name, url string }
	only := os.Getenv("WORKLIST_ENGINE")
	if only == "" || only == "postgres" {
		_, url := pgtest.Start(b).NewDatabase(b)
		out = append(out, struct{ name, url string }{"postgres", url})
	}
	if only == "" || only == "sqlite" {
		out = append(out, struct{ name, url string }{"sqlite", ""})
	}
	return out
}

// BenchmarkWorklist measures the worklist over worklistCases() open cases
// on PostgreSQL and SQLite beside a raw SELECT of a page (and its count)
// of the same Encounters run the same way, in the same run. Each reports
// its p50 and p99 per query; the target is p99 <= 50 ms.
func BenchmarkWorklist(b *testing.B) {
	ctx := context.Background()
	now := time.Now()
	n := worklistCases()
	for _, eng := range worklistEngines(b) {
		dir := ""
		if eng.url == "" {
			dir = b.TempDir()
		}
		s, err := sqlstore.Open(ctx, eng.url, dir)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { s.Close() })
		loadWorklist(b, s, n, now)
		if err := sqlstore.Analyze(ctx, s); err != nil {
			b.Fatal(err)
		}
		c := sqlstore.NewCases(s)
		rule := cases.DefaultConfig().Escalation
		base := cases.WorklistQuery{Sort: cases.SortNCTRDays, Limit: 20, OfferCutoff: now.Add(-rule.OfferWait),
			NCTRCutoff: now.Add(-time.Duration(rule.NCTRDays+1) * 24 * time.Hour)}
		yes := true
		for _, bc := range []struct {
			name string
			run  func() (int, error)
		}{
			{"raw-select-page", func() (int, error) {
				return sqlstore.RawRows(ctx, s, "RXA", "SELECT id, last_updated FROM resources WHERE partition = $1 AND type = $2 ORDER BY id LIMIT 20", "RXA", "Encounter")
			}},
			{"raw-select-page-and-count", func() (int, error) {
				return sqlstore.RawRows(ctx, s, "RXA", "SELECT COUNT(*) OVER (), id, last_updated FROM resources WHERE partition = $1 AND type = $2 ORDER BY last_updated DESC, id LIMIT 20", "RXA", "Encounter")
			}},
			{"worklist-default", func() (int, error) {
				res, err := c.Worklist(ctx, "RXA", base)
				return res.Total, err
			}},
			{"worklist-pathway3-escalated-by-drd", func() (int, error) {
				q := base
				q.Pathways, q.Escalated, q.Sort = []string{"3"}, &yes, cases.SortDRD
				res, err := c.Worklist(ctx, "RXA", q)
				return res.Total, err
			}},
			{"worklist-updated-offset-5000", func() (int, error) {
				q := base
				q.Sort, q.Offset = cases.SortUpdated, 5000
				res, err := c.Worklist(ctx, "RXA", q)
				return res.Total, err
			}},
		} {
			b.Run(eng.name+"/"+bc.name, func(b *testing.B) {
				var ds []time.Duration
				for b.Loop() {
					t0 := time.Now()
					got, err := bc.run()
					ds = append(ds, time.Since(t0))
					if err != nil || got == 0 {
						b.Fatal(got, err)
					}
				}
				slices.Sort(ds)
				pct := func(p float64) float64 {
					return float64(ds[min(len(ds)-1, int(p*float64(len(ds))))].Microseconds()) / 1000
				}
				b.ReportMetric(pct(0.50), "p50-ms")
				b.ReportMetric(pct(0.99), "p99-ms")
			})
		}
	}
}

// TestWorklistTotalAtScale checks, over a smaller load, that the
// benchmark's data gives the totals the worklist must count: every open
// case of the trust, none of the other trust's, none discharged.
func TestWorklistTotalAtScale(t *testing.T) {
	ctx := context.Background()
	now := time.Now()
	s, err := sqlstore.Open(ctx, "", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	loadWorklist(t, s, 500, now)
	res, err := sqlstore.NewCases(s).Worklist(ctx, "RXA", cases.WorklistQuery{Sort: cases.SortNCTRDays, Limit: 20})
	if err != nil {
		t.Fatal(err)
	}
	if res.Total != 500 || len(res.Rows) != 20 {
		t.Fatalf("total %d rows %d, want 500 and 20", res.Total, len(res.Rows))
	}
}

// TestWorklistPlan prints the worklist's plan over WORKLIST_PLAN cases
// (skipped unless set): a tool for tuning, not a check.
func TestWorklistPlan(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("WORKLIST_PLAN"))
	if n == 0 {
		t.Skip("WORKLIST_PLAN=<cases> prints the worklist's plans")
	}
	ctx := context.Background()
	now := time.Now()
	pg := pgtest.Start(t)
	_, url := pg.NewDatabase(t)
	for _, u := range []string{url, ""} {
		dir := ""
		if u == "" {
			dir = t.TempDir()
		}
		s, err := sqlstore.Open(ctx, u, dir)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		loadWorklist(t, s, n, now)
		if err := sqlstore.Analyze(ctx, s); err != nil {
			t.Fatal(err)
		}
		rule := cases.DefaultConfig().Escalation
		q, args := sqlstore.WorklistSQL(sqlstore.NewCases(s), "RXA", cases.WorklistQuery{Sort: cases.SortNCTRDays, Limit: 20,
			OfferCutoff: now.Add(-rule.OfferWait), NCTRCutoff: now.Add(-time.Duration(rule.NCTRDays+1) * 24 * time.Hour)})
		plan, err := sqlstore.Explain(ctx, s, "RXA", q, args...)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s plan:\n%s", s.Engine(), plan)
	}
}
