package main

import (
	"bytes"
	"context"
	"io"
	"path/filepath"
	"testing"
	"time"

	"github.com/dischargegateway/gateway/adapters/sqlstore"
	"github.com/dischargegateway/gateway/auth"
	"github.com/dischargegateway/gateway/sitrep"
)

// TestSitrepPageAfterSeed: after `gateway seed`, the dashboard's sitrep
// page (sitrepPage, as serve wires it) shows the demo hub unmet demand by
// district, the virtual wards against 80 % with their trend, and the 14-day
// forecast, from the real services over the seeded record; the browser test
// fills only sections left empty, so this is what proves the wiring.
func TestSitrepPageAfterSeed(t *testing.T) {
	env := withDataDir(t, map[string]string{"GATEWAY_OUTCODES_CSV": filepath.Join("..", "..", "configs", "geo", "uk-outcode-centroids.csv")})
	if err := run(context.Background(), []string{"seed", "--providers", "20", "--cases", "120"}, func(k string) string { return env[k] }, &bytes.Buffer{}, io.Discard, nil); err != nil {
		t.Fatal(err)
	}
	s, err := sqlstore.Open(context.Background(), env["DATABASE_URL"], env["GATEWAY_DATA_DIR"])
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	counters := sqlstore.NewSitrep(s)
	page := sitrepPage{
		svc:      sitrep.New(counters, nil).WithHistory(counters),
		wards:    sitrep.NewVirtualWards(sqlstore.NewVirtualWards(s), sitrep.DirectoryPlaces{Store: s}, nil),
		forecast: sitrep.NewForecast(sqlstore.NewForecast(s), nil, nil),
	}
	hub := &auth.Principal{Org: "QXH", Role: auth.RoleHub, Members: []string{"RXA", "RXB"}}
	v, err := page.Sitrep(context.Background(), hub, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if len(v.Unmet) == 0 || v.Unmet[0].District == "" || v.Unmet[0].Waiting == 0 {
		t.Errorf("unmet demand: %+v", v.Unmet)
	}
	if len(v.VirtualWards) == 0 {
		t.Errorf("no virtual wards")
	}
	for _, w := range v.VirtualWards {
		if w.Name == "" || w.Capacity == 0 || len(w.Trend) < 2 {
			t.Errorf("ward %+v", w)
		}
	}
	if len(v.Forecast) == 0 || len(v.Forecast) > maxForecastRows {
		t.Fatalf("forecast rows: %d", len(v.Forecast))
	}
	for i, f := range v.Forecast {
		if f.Demand <= 0 || f.Held > f.Vacant || (i > 0 && f.Day.Before(v.Forecast[i-1].Day)) {
			t.Errorf("forecast row %d: %+v", i, f)
		}
	}
	// A care provider reads no sitrep: the page is refused, not emptied.
	if _, err := page.Sitrep(context.Background(), &auth.Principal{Org: "1-000000001", Role: auth.RoleCareProvider}, time.Now()); err == nil {
		t.Error("a care provider read the sitrep page")
	}
}
