package main

import (
	"context"
	"encoding/json"
	"slices"
	"time"

	"github.com/dischargegateway/gateway/adapters/sqlstore"
	"github.com/dischargegateway/gateway/adapters/synthetic"
	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/fhir"
)

// forecastDistricts is how many of the seeded providers' districts the
// synthetic patients live in: few, so each district has demand to show
// beside the providers' vacancies.
const forecastDistricts = 12

// forecastHistoryDays is how many past days of forecasts a seed replays
// for the backtest (the first report after the seed scores them).
const forecastHistoryDays = 14

// seedCasesWithForecast stores the synthetic stays (seedCases) with what
// the 14-day forecast reads: each stay's Patient (a home district among
// the seeded providers' districts), EDD and, for some, Discharge Ready
// Date (synthetic.WithForecast); then keeps the forecasts the last 14
// days' first reports would have made (synthetic.Forecasts), unless a
// forecast of that day is kept already, so the backtest has a history to
// score. It returns how many stays it created.
func seedCasesWithForecast(ctx context.Context, rec *sqlstore.Store, listings []discharge.Listing, cs []synthetic.Case, seed uint64) (int, error) {
	now := time.Now()
	var districts []string
	for _, l := range listings {
		if oc := discharge.Outcode(l.Postcode); discharge.ValidOutcode(oc) && !slices.Contains(districts, oc) && len(districts) < forecastDistricts {
			districts = append(districts, oc)
		}
	}
	cs, pats, stays := synthetic.WithForecast(cs, districts, now, seed)
	for _, p := range pats {
		if _, err := rec.Read(ctx, p.Trust, "Patient", p.ID); err == nil {
			continue
		} else if discharge.ErrorKind(err) != discharge.KindNotFound {
			return 0, err
		}
		var doc map[string]any
		if err := json.Unmarshal(p.JSON, &doc); err != nil {
			return 0, err
		}
		w := fhir.Write{Resource: fhir.Resource{Type: "Patient", ID: p.ID, VersionID: 1, LastUpdated: now.UTC(), JSON: p.JSON},
			Index: fhir.IndexEntries("Patient", doc)}
		if err := rec.Commit(ctx, p.Trust, []fhir.Write{w}, nil); err != nil {
			return 0, err
		}
	}
	created, err := seedCases(ctx, rec, cs)
	if err != nil {
		return created, err
	}
	fc := sqlstore.NewForecast(rec)
	for trust, fs := range synthetic.Forecasts(stays, forecastHistoryDays, now) {
		for _, f := range fs {
			if _, err := fc.Keep(ctx, trust, f.Made, f.Snapshot()); err != nil {
				return created, err
			}
		}
	}
	return created, nil
}
