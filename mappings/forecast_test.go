package mappings_test

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"testing"
	"time"

	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/mappings"
)

// FuzzForecastToMeasureReport: no forecast makes the mapping panic or
// write invalid JSON, and the demand group's strata add up to its count
// (by setting, by day and by setting-district-day alike).
func FuzzForecastToMeasureReport(f *testing.F) {
	f.Add(int8(0), "1", "M14", uint8(2), int8(-3), "3", "", uint8(1))
	f.Add(int8(13), "2", "LS6", uint8(9), int8(20), "0", "B1", uint8(4))
	f.Fuzz(func(t *testing.T, d1 int8, p1, o1 string, n1 uint8, d2 int8, p2, o2 string, n2 uint8) {
		today := discharge.Date{Year: 2026, Month: 11, Day: 30}
		at := func(off int8) discharge.Date { return discharge.DateOfDay(discharge.DayNumber(today) + int64(off)) }
		fc := discharge.ComputeForecast(today, []discharge.DueCount{{Day: at(d1), Pathway: p1, Outcode: o1, N: int(n1)}, {Day: at(d2), Pathway: p2, Outcode: o2, N: int(n2)}})
		fc = fc.WithSupply([]discharge.SupplyCount{{Setting: discharge.ForecastCareHome, Outcode: o1, Vacant: int(n2), Held: 1}})
		fc.Backtest = discharge.ComputeBacktest(at(-28), at(-1), []discharge.ForecastError{{Day: at(-2), Horizon: int(n1) % 14, Cells: int(n2), AbsErr: int(n1)}})
		b := mappings.ForecastToMeasureReport("forecast-x", "RXA", time.Unix(0, 0), fc)
		var mr struct {
			Group []struct {
				Code       struct{ Coding []struct{ Code string } }
				Population []struct{ Count int }
				Stratifier []struct {
					Stratum []struct{ Population []struct{ Count int } }
				}
			}
		}
		if err := json.Unmarshal(b, &mr); err != nil {
			t.Fatalf("invalid JSON: %v", err)
		}
		demand := mr.Group[0]
		if demand.Code.Coding[0].Code != mappings.ForecastDemand {
			t.Fatalf("first group %+v", demand.Code)
		}
		for i, s := range demand.Stratifier {
			n := 0
			for _, st := range s.Stratum {
				n += st.Population[0].Count
			}
			if n != demand.Population[0].Count {
				t.Fatalf("stratifier %d adds up to %d, demand %d", i, n, demand.Population[0].Count)
			}
		}
		recs, err := csv.NewReader(bytes.NewReader(mappings.ForecastCSV("RXA", fc))).ReadAll()
		if err != nil || len(recs) != len(fc.Rows)+2 {
			t.Fatalf("%d CSV records for %d rows: %v", len(recs), len(fc.Rows), err)
		}
		for _, r := range fc.Rows {
			if r.Outcode != discharge.UnknownDistrict && !discharge.ValidOutcode(r.Outcode) {
				t.Fatalf("district %q", r.Outcode)
			}
		}
	})
}
