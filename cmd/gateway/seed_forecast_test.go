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
	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/internal/testclock"
	"github.com/dischargegateway/gateway/sitrep"
)

// TestSeedGivesAForecast: after `gateway seed`, the demo hub's forecast
// has demand in the next 14 days in the seeded providers' districts, and
// its first report scores the replayed history: the backtest has cells.
func TestSeedGivesAForecast(t *testing.T) {
	env := withDataDir(t, map[string]string{"GATEWAY_OUTCODES_CSV": filepath.Join("..", "..", "configs", "geo", "uk-outcode-centroids.csv")})
	var out bytes.Buffer
	if err := run(context.Background(), []string{"seed", "--providers", "20", "--cases", "120"}, func(k string) string { return env[k] }, &out, io.Discard, nil); err != nil {
		t.Fatal(err)
	}
	s, err := sqlstore.Open(context.Background(), env["DATABASE_URL"], env["GATEWAY_DATA_DIR"])
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	hub := &auth.Principal{Org: "QXH", Role: auth.RoleHub, Members: []string{"RXA", "RXB"}}
	rep, err := sitrep.NewForecast(sqlstore.NewForecast(s), nil, nil).Forecast(context.Background(), hub, sitrep.ForecastRequest{})
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	for _, n := range rep.Total {
		total += n
	}
	if total == 0 || len(rep.Districts()) < 2 {
		t.Fatalf("seeded forecast: %d over %v", total, rep.Districts())
	}
	if rep.Backtest.Overall.Cells == 0 {
		t.Fatalf("no backtest after seed: %+v", rep.Backtest)
	}
	t.Logf("seeded forecast: %d stays due over %d districts; backtest MAE %.2f over %d cells", total, len(rep.Districts()), rep.Backtest.Overall.MAE(), rep.Backtest.Overall.Cells)
}

// `gateway serve` keeps today's forecast of every trust its registry names
// without anyone asking for a report (the daily sweep, started at serve's
// start), so the backtest has every day.
func TestServeKeepsTodaysForecast(t *testing.T) {
	now := testclock.AwayFromMidnight()
	env := withDataDir(t, map[string]string{})
	_, stop, done, logs := startRun(t, env)
	today := discharge.DayNumber(discharge.Today(now))
	kept := func(trust string) bool {
		s, err := sqlstore.Open(context.Background(), env["DATABASE_URL"], env["GATEWAY_DATA_DIR"])
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		in, err := sqlstore.NewForecast(s).Inputs(context.Background(), trust, today, today+discharge.ForecastDays-1, today-1, today-1)
		if err != nil {
			t.Fatal(err)
		}
		return in.Kept
	}
	deadline := time.Now().Add(30 * time.Second)
	for !(kept("RXA") && kept("RXB")) {
		if time.Now().After(deadline) {
			t.Fatalf("no forecast kept for the demo trusts RXA and RXB 30 s after start\n%s", logs)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if kept("RXZ") {
		t.Fatal("a forecast kept for a trust no client names")
	}
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
