package main

import (
	"bytes"
	"context"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dischargegateway/gateway/adapters/sqlstore"
	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/internal/testclock"
)

// TestSeedCreatesSyntheticCases: `gateway seed` also stores synthetic
// inpatient stays for the sitrep, split over the trusts, once: a second
// seed finds them there.
func TestSeedCreatesSyntheticCases(t *testing.T) {
	now := testclock.AwayFromMidnight()
	env := withDataDir(t, map[string]string{"GATEWAY_OUTCODES_CSV": filepath.Join("..", "..", "configs", "geo", "uk-outcode-centroids.csv")})
	for _, want := range []string{"seeded 40 synthetic inpatient stays (0 already there)|seeded 16 synthetic unmet placement searches",
		"seeded 0 synthetic inpatient stays (40 already there)|seeded 0 synthetic unmet placement searches"} {
		var out bytes.Buffer
		if err := run(context.Background(), []string{"seed", "--providers", "5", "--cases", "40"}, func(k string) string { return env[k] }, &out, io.Discard, nil); err != nil {
			t.Fatal(err)
		}
		for _, w := range strings.Split(want, "|") {
			if !strings.Contains(out.String(), w) {
				t.Fatalf("want %s in %s", w, out.String())
			}
		}
	}
	for _, trust := range []string{"RXA", "RXB"} {
		if n := recordCount(t, env, trust, "Encounter"); n != 20 {
			t.Fatalf("%d Encounters of %s, want 20", n, trust)
		}
		if n := unmetCount(t, env, trust, now); n != 8 {
			t.Fatalf("%d unmet searches of %s, want 8 (40 cases / 5)", n, trust)
		}
	}
}

// unmetCount is how many unmet placement searches partition has counted
// in the last four weeks.
func unmetCount(t *testing.T, env map[string]string, partition string, now time.Time) int {
	t.Helper()
	s, err := sqlstore.Open(context.Background(), env["DATABASE_URL"], env["GATEWAY_DATA_DIR"])
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	week := discharge.WeekOf(discharge.Today(now))
	cs, err := sqlstore.NewSitrep(s).UnmetDemand(context.Background(), partition, week-21, week)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, c := range cs {
		n += c.N
	}
	return n
}
