package main

import (
	"bytes"
	"context"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/dischargegateway/gateway/adapters/sqlstore"
	"github.com/dischargegateway/gateway/auth"
	"github.com/dischargegateway/gateway/sitrep"
)

// TestSeedCreatesVirtualWards: `gateway seed` stores the synthetic virtual
// wards once, with two weeks of postings, and the report reads them by
// ward, ICB and district over those days; a second seed creates none.
func TestSeedCreatesVirtualWards(t *testing.T) {
	env := withDataDir(t, map[string]string{"GATEWAY_OUTCODES_CSV": filepath.Join("..", "..", "configs", "geo", "uk-outcode-centroids.csv")})
	for _, want := range []string{"seeded 6 synthetic virtual wards (0 already there)", "seeded 0 synthetic virtual wards (6 already there)"} {
		var out bytes.Buffer
		if err := run(context.Background(), []string{"seed", "--providers", "5", "--cases", "0"}, func(k string) string { return env[k] }, &out, io.Discard, nil); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(out.String(), want) {
			t.Fatalf("want %s in %s", want, out.String())
		}
	}
	if n := recordCount(t, env, "directory", "Organization"); n < 3 {
		t.Fatalf("%d Organizations", n)
	}
	s, err := sqlstore.Open(context.Background(), env["DATABASE_URL"], env["GATEWAY_DATA_DIR"])
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	svc := sitrep.NewVirtualWards(sqlstore.NewVirtualWards(s), sitrep.DirectoryPlaces{Store: s}, nil)
	rep, err := svc.Report(context.Background(), &auth.Principal{Org: "QXH", Role: auth.RoleHub}, sitrep.WardRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Days) != sitrep.DefaultWardDays {
		t.Fatalf("%d days", len(rep.Days))
	}
	for _, d := range rep.Days {
		// The Wirral ward posts every third day and is carried forward
		// between: every day has all six.
		if len(d.Wards) != len(seedWards) {
			t.Errorf("%s: %d wards", d.Day, len(d.Wards))
		}
	}
	last := rep.Last()
	var icbs, districts []string
	below := 0
	for _, f := range last.ICBs {
		icbs = append(icbs, f.Key)
	}
	for _, f := range last.Districts {
		districts = append(districts, f.Key)
	}
	for _, f := range last.Wards {
		if f.BelowTarget() {
			below++
		}
	}
	if !slices.Equal(icbs, []string{"QOP", "QWO", "QYG"}) || len(districts) != 6 || below == 0 || below == len(last.Wards) {
		t.Errorf("ICBs %v districts %v below target %d", icbs, districts, below)
	}
}
