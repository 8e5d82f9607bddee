package sitrep_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/dischargegateway/gateway/adapters/sqlstore"
	"github.com/dischargegateway/gateway/auth"
	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/fhir"
	"github.com/dischargegateway/gateway/internal/pgtest"
	"github.com/dischargegateway/gateway/internal/sqlitetest"
	"github.com/dischargegateway/gateway/sitrep"
)

// forecastStores runs f on a SQLite and a PostgreSQL record.
func forecastStores(t *testing.T, f func(t *testing.T, s *sqlstore.Store)) {
	t.Run("sqlite", func(t *testing.T) {
		s, err := sqlstore.Open(context.Background(), "", sqlitetest.Dir(t))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		f(t, s)
	})
	t.Run("postgres", func(t *testing.T) {
		pg := pgtest.Start(t)
		_, url := pg.NewDatabase(t)
		s, err := sqlstore.Open(context.Background(), url, "")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		f(t, s)
	})
}

// put writes a resource (version v) with its search index.
func put(t *testing.T, s *sqlstore.Store, typ, id string, v int64, doc map[string]any) {
	t.Helper()
	doc["resourceType"], doc["id"] = typ, id
	body, _ := json.Marshal(doc)
	w := fhir.Write{Resource: fhir.Resource{Type: typ, ID: id, VersionID: v, LastUpdated: time.Now(), JSON: body},
		ExpectVersion: v - 1, Index: fhir.IndexEntries(typ, doc)}
	if err := s.Commit(context.Background(), "RXA", []fhir.Write{w}, nil); err != nil {
		t.Fatal(err)
	}
}

// stay is an Encounter of Patient p1 on pathway, due on edd ("" none),
// finished at end (zero: open).
func stay(pathway, edd string, end time.Time) map[string]any {
	const base = "https://fhir.discharge-gateway.example/"
	ext := []any{map[string]any{"url": base + "StructureDefinition/discharge-pathway",
		"valueCodeableConcept": map[string]any{"coding": []any{map[string]any{"system": base + "CodeSystem/discharge-pathway", "code": pathway}}}}}
	if edd != "" {
		ext = append(ext, map[string]any{"url": "http://hl7.org/fhir/5.0/StructureDefinition/extension-Encounter.plannedEndDate", "valueDateTime": edd})
	}
	period := map[string]any{"start": "2026-11-20T09:00:00Z"}
	status := "in-progress"
	if !end.IsZero() {
		period["end"], status = end.UTC().Format(time.RFC3339), "finished"
	}
	return map[string]any{"status": status, "class": map[string]any{"code": "IMP"}, "period": period,
		"subject": map[string]any{"reference": "Patient/p1"}, "extension": ext}
}

// The backtest end to end, worked out by hand, on both engines. Trust
// RXA's patients all live in M14.
//
// Sunday 29 Nov 23:30 (GMT): a (P1, due Sun), b (P3, due Mon), c (P1, due
// Tue) are open. The first report keeps Sunday's forecast: home-care
// {Sun 1, Tue 1}, care-home {Mon 1}. Then a leaves at 23:45 Sunday, d (P2,
// never forecast) left at 20:00 Sunday, and b leaves at 00:15 Monday:
// after midnight, so Monday's.
//
// Monday 00:30: the first report keeps Monday's forecast (home-care
// {Tue 1}) and scores Sunday: h0 home-care |1-1| + step-down |0-1| = 1
// over 2 cells.
//
// Tuesday 09:00: scores Monday: h1 (made Sunday) care-home |1-1| = 0 over
// 1; h0 (made Monday) care-home |0-1| = 1 over 1. The backtest: 2 over 4
// cells, MAE 0.5; horizon 0: 2 over 3 (0.667), horizon 1: 0 over 1.
func TestForecastBacktestEndToEnd(t *testing.T) {
	forecastStores(t, func(t *testing.T, s *sqlstore.Store) {
		ctx := context.Background()
		at := time.Date(2026, 11, 29, 23, 30, 0, 0, time.UTC)
		fc := sitrep.NewForecast(sqlstore.NewForecast(s), nil, func() time.Time { return at })
		trust := &auth.Principal{Org: "RXA", Role: auth.RoleTrust}
		put(t, s, "Patient", "p1", 1, map[string]any{"address": []any{map[string]any{"use": "home", "postalCode": "M14 4AB"}}})
		put(t, s, "Encounter", "a", 1, stay("1", "2026-11-29", time.Time{}))
		put(t, s, "Encounter", "b", 1, stay("3", "2026-11-30", time.Time{}))
		put(t, s, "Encounter", "c", 1, stay("1", "2026-12-01", time.Time{}))

		sun, err := fc.Forecast(ctx, trust, sitrep.ForecastRequest{})
		if err != nil {
			t.Fatal(err)
		}
		if sun.Made.String() != "2026-11-29" || sun.Total[0] != 1 || sun.Total[1] != 1 || sun.Total[2] != 1 || sun.Backtest.Overall.Cells != 0 {
			t.Fatalf("Sunday %+v", sun.Forecast)
		}
		put(t, s, "Encounter", "a", 2, stay("1", "2026-11-29", time.Date(2026, 11, 29, 23, 45, 0, 0, time.UTC)))
		put(t, s, "Encounter", "d", 1, stay("2", "", time.Date(2026, 11, 29, 20, 0, 0, 0, time.UTC)))
		// A second report on Sunday keeps nothing new: the first one's stands.
		again, err := fc.Forecast(ctx, trust, sitrep.ForecastRequest{})
		if err != nil || again.Total[0] != 0 {
			t.Fatalf("Sunday again %+v %v", again.Total, err)
		}
		put(t, s, "Encounter", "b", 2, stay("3", "2026-11-30", time.Date(2026, 11, 30, 0, 15, 0, 0, time.UTC)))

		at = time.Date(2026, 11, 30, 0, 30, 0, 0, time.UTC)
		mon, err := fc.Forecast(ctx, trust, sitrep.ForecastRequest{})
		if err != nil {
			t.Fatal(err)
		}
		if b := mon.Backtest; b.Overall.Cells != 2 || b.Overall.AbsErr != 1 || b.Overall.MAE() != 0.5 || b.ByHorizon[0].Cells != 2 {
			t.Fatalf("Monday's backtest %+v", b)
		}
		if mon.Total[1] != 1 || mon.Total[0] != 0 {
			t.Fatalf("Monday's forecast %+v", mon.Total)
		}

		at = time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
		tue, err := fc.Forecast(ctx, trust, sitrep.ForecastRequest{})
		if err != nil {
			t.Fatal(err)
		}
		b := tue.Backtest
		if b.Overall.Cells != 4 || b.Overall.AbsErr != 2 || b.Overall.MAE() != 0.5 {
			t.Fatalf("Tuesday's backtest %+v", b)
		}
		if h0, h1 := b.ByHorizon[0], b.ByHorizon[1]; h0.Cells != 3 || h0.AbsErr != 2 || h1.Cells != 1 || h1.AbsErr != 0 ||
			fmt.Sprintf("%.3f", h0.MAE()) != "0.667" {
			t.Fatalf("by horizon %+v", b.ByHorizon[:3])
		}
		if tue.Backtest.From.String() != "2026-11-03" || tue.Backtest.To.String() != "2026-11-30" {
			t.Fatalf("window %s..%s", tue.Backtest.From, tue.Backtest.To)
		}
	})
}

// fakeSupply is a hand-written fake of the districts' supply.
type fakeSupply struct{ asked []string }

func (f *fakeSupply) Supply(_ context.Context, districts []string) ([]discharge.SupplyCount, error) {
	f.asked = districts
	return []discharge.SupplyCount{{Setting: discharge.ForecastHomeCare, Outcode: "M14", Vacant: 4, Held: 1}}, nil
}

// Tenancy: a trust reads its own forecast, a hub its members' (added);
// anyone else, and any other subject, is forbidden. Supply is read once
// for the districts with demand.
func TestForecastTenancyAndSupply(t *testing.T) {
	forecastStores(t, func(t *testing.T, s *sqlstore.Store) {
		ctx := context.Background()
		now := func() time.Time { return time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC) }
		sup := &fakeSupply{}
		fc := sitrep.NewForecast(sqlstore.NewForecast(s), sup, now)
		put(t, s, "Patient", "p1", 1, map[string]any{"address": []any{map[string]any{"postalCode": "M14 4AB"}}})
		put(t, s, "Encounter", "a", 1, stay("1", "2026-12-01", time.Time{}))
		hub := &auth.Principal{Org: "HUB1", Role: auth.RoleHub, Members: []string{"RXA", "RXB"}}
		r, err := fc.Forecast(ctx, hub, sitrep.ForecastRequest{})
		if err != nil || r.Subject != "HUB1" || len(r.Trusts) != 2 || r.Total[1] != 1 || len(r.Rows) != 1 || r.Rows[0].Vacant != 4 || !r.Rows[0].SupplyKnown {
			t.Fatalf("hub %+v %v", r, err)
		}
		if len(sup.asked) != 1 || sup.asked[0] != "M14" {
			t.Fatalf("supply asked for %v", sup.asked)
		}
		rxb := &auth.Principal{Org: "RXB", Role: auth.RoleTrust}
		if r, err := fc.Forecast(ctx, rxb, sitrep.ForecastRequest{}); err != nil || r.Total[1] != 0 {
			t.Fatalf("RXB sees RXA's: %+v %v", r.Total, err)
		}
		for _, c := range []struct {
			p       *auth.Principal
			subject string
		}{{rxb, "RXA"}, {hub, "RXC"}, {&auth.Principal{Org: "1-1", Role: auth.RoleCareProvider}, ""}, {nil, ""}} {
			if _, err := fc.Forecast(ctx, c.p, sitrep.ForecastRequest{Subject: c.subject}); discharge.ErrorKind(err) != discharge.KindForbidden {
				t.Errorf("%+v reading %q: %v", c.p, c.subject, err)
			}
		}
	})
}

// The daily sweep keeps a day's forecast though no one asks for a report
// that day, so the next day's backtest scores it: Sunday's forecast is
// kept by the sweep alone, and Monday's first report finds Sunday's
// discharge forecast and scored. A second sweep keeps nothing new.
func TestForecastKeptByTheDailySweep(t *testing.T) {
	forecastStores(t, func(t *testing.T, s *sqlstore.Store) {
		ctx := context.Background()
		at := time.Date(2026, 11, 29, 0, 5, 0, 0, time.UTC)
		fc := sitrep.NewForecast(sqlstore.NewForecast(s), nil, func() time.Time { return at })
		put(t, s, "Patient", "p1", 1, map[string]any{"address": []any{map[string]any{"use": "home", "postalCode": "M14 4AB"}}})
		put(t, s, "Encounter", "a", 1, stay("1", "2026-11-29", time.Time{}))
		if err := fc.KeepDay(ctx, []string{"RXA", "RXB"}); err != nil {
			t.Fatal(err)
		}
		// Changed after the sweep: the kept forecast does not move.
		put(t, s, "Encounter", "e", 1, stay("1", "2026-11-29", time.Time{}))
		if err := fc.KeepDay(ctx, []string{"RXA"}); err != nil {
			t.Fatal(err)
		}
		put(t, s, "Encounter", "a", 2, stay("1", "2026-11-29", time.Date(2026, 11, 29, 15, 0, 0, 0, time.UTC)))
		at = time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
		mon, err := fc.Forecast(ctx, &auth.Principal{Org: "RXA", Role: auth.RoleTrust}, sitrep.ForecastRequest{})
		if err != nil {
			t.Fatal(err)
		}
		// Sunday: one stay forecast (a; e came after the sweep), one
		// discharged: one cell, no error.
		if b := mon.Backtest; b.Overall.Cells != 1 || b.Overall.AbsErr != 0 {
			t.Fatalf("Monday's backtest %+v: Sunday's forecast was not kept by the sweep", b.Overall)
		}
	})
}

// The sweep runs five minutes into each reporting day, midnight in
// England: 00:05 UTC in winter, 23:05 UTC the day before in summer.
func TestNextSweep(t *testing.T) {
	for _, c := range []struct{ now, want time.Time }{
		{time.Date(2026, 11, 30, 0, 2, 0, 0, time.UTC), time.Date(2026, 11, 30, 0, 5, 0, 0, time.UTC)},
		{time.Date(2026, 11, 30, 0, 5, 0, 0, time.UTC), time.Date(2026, 12, 1, 0, 5, 0, 0, time.UTC)},
		{time.Date(2026, 11, 30, 13, 0, 0, 0, time.UTC), time.Date(2026, 12, 1, 0, 5, 0, 0, time.UTC)},
		{time.Date(2026, 7, 1, 12, 0, 0, 0, time.UTC), time.Date(2026, 7, 1, 23, 5, 0, 0, time.UTC)},
		{time.Date(2026, 7, 1, 23, 1, 0, 0, time.UTC), time.Date(2026, 7, 1, 23, 5, 0, 0, time.UTC)},
		// The clocks go back on 25 October 2026: that day has 25 hours.
		{time.Date(2026, 10, 24, 23, 30, 0, 0, time.UTC), time.Date(2026, 10, 26, 0, 5, 0, 0, time.UTC)},
	} {
		if got := sitrep.NextSweep(c.now); !got.Equal(c.want) {
			t.Errorf("NextSweep(%s) = %s, want %s", c.now, got.UTC(), c.want)
		}
	}
}
