package main

import (
	"bytes"
	"context"
	"io"
	"path/filepath"
	"strings"
	"testing"
)

// TestSeedCreatesSyntheticCases: `gateway seed` also stores synthetic
// inpatient stays for the sitrep, split over the trusts, once: a second
// seed finds them there.
func TestSeedCreatesSyntheticCases(t *testing.T) {
	env := withDataDir(t, map[string]string{"GATEWAY_OUTCODES_CSV": filepath.Join("..", "..", "configs", "geo", "uk-outcode-centroids.csv")})
	for _, want := range []string{"seeded 40 synthetic inpatient stays (0 already there)", "seeded 0 synthetic inpatient stays (40 already there)"} {
		var out bytes.Buffer
		if err := run(context.Background(), []string{"seed", "--providers", "5", "--cases", "40"}, func(k string) string { return env[k] }, &out, io.Discard, nil); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(out.String(), want) {
			t.Fatalf("want %s in %s", want, out.String())
		}
	}
	for _, trust := range []string{"RXA", "RXB"} {
		if n := recordCount(t, env, trust, "Encounter"); n != 20 {
			t.Fatalf("%d Encounters of %s, want 20", n, trust)
		}
	}
}
