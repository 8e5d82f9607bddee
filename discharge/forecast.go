package discharge

import (
	"cmp"
	"slices"
	"time"
)

// The 14-day discharge demand forecast (issue 18) and its backtest.
//
// The model, deliberately simple so a user can check it by hand:
//
//   - Every open inpatient stay (Encounter not finished, cancelled or
//     entered in error) on pathway 1, 2 or 3 is one unit of demand for its
//     pathway's setting (ForecastSettingOf) in the patient's home postcode
//     district, on its due day.
//   - The due day is the Discharge Ready Date when one is recorded (the
//     clinical team says the patient is ready), else the expected discharge
//     date (EDD). A stay with neither is not forecast (ForecastInputs
//     counts nothing for it; docs/sitrep.md says so).
//   - A due day before today (a slipped EDD, or a patient ready and still
//     waiting) is demand today: it is added to day 0 and also shown apart
//     as Overdue. It is not spread over later days: the patient needs the
//     service now.
//   - Pathway 0 (home with no new support) and a missing pathway create no
//     demand on a service and are not forecast.
//   - A stay with no home district known counts under UnknownDistrict.
//
// Supply is what the district has now: vacancies accepting admissions and
// the active holds (beds promised to accepted offers), by setting. The
// forecast does not project supply forward.
//
// The backtest: the first forecast of each day is kept (a snapshot by
// setting, district and target day). When a day has closed, each snapshot
// that covered it is scored against what happened: the discharges on that
// day, by the same setting and district. The error of one cell (made day,
// target day, setting, district) is |forecast - actual|; cells where both
// are zero are not counted. MAE is the mean over the cells, overall and by
// horizon (target day minus made day, 0-13).

// ForecastDays is how many days the forecast covers: today and the next 13.
const ForecastDays = 14

// BacktestDays is how many past days of snapshots the backtest reports on.
const BacktestDays = 28

// UnknownDistrict stands for a stay whose patient has no home postcode
// district recorded.
const UnknownDistrict = "unknown"

// ForecastSetting is the service a pathway's demand falls on.
type ForecastSetting string

// The forecast's settings, one per pathway.
const (
	// ForecastHomeCare is pathway 1: support to recover at home (home care,
	// reablement).
	ForecastHomeCare ForecastSetting = "home-care"
	// ForecastStepDownBed is pathway 2: a rehabilitation or recovery bed
	// (discharge-to-assess, intermediate care).
	ForecastStepDownBed ForecastSetting = "step-down-bed"
	// ForecastCareHome is pathway 3: a residential or nursing home bed.
	ForecastCareHome ForecastSetting = "care-home"
)

// ForecastSettings lists the settings in report order.
func ForecastSettings() []ForecastSetting {
	return []ForecastSetting{ForecastHomeCare, ForecastStepDownBed, ForecastCareHome}
}

// ForecastSettingOf is the setting a pathway's demand falls on; false for
// pathway 0, an unknown pathway or none.
func ForecastSettingOf(pathway string) (ForecastSetting, bool) {
	switch pathway {
	case "1":
		return ForecastHomeCare, true
	case "2":
		return ForecastStepDownBed, true
	case "3":
		return ForecastCareHome, true
	}
	return "", false
}

// DueCount is one counter of open stays: N due (DRD, else EDD) on Day, on
// Pathway, from home district Outcode ("" unknown).
type DueCount struct {
	Day     Date
	Pathway string
	Outcode string
	N       int
}

// DischargeAt is one counter of discharges: N in the hour bucket Hour
// (HourBucket) on Pathway from home district Outcode.
type DischargeAt struct {
	Hour    int64
	Pathway string
	Outcode string
	N       int
}

// SupplyCount is what one district has now for one setting: vacancies
// accepting admissions (beds, or home-care packages) and active holds.
type SupplyCount struct {
	Setting ForecastSetting
	Outcode string
	Vacant  int
	Held    int
}

// ForecastCount is one cell of a kept forecast: N forecast on Day by the
// forecast made on Made, for Setting in Outcode.
type ForecastCount struct {
	Made, Day Date
	Setting   ForecastSetting
	Outcode   string
	N         int
}

// ForecastError is the scored error of the forecasts for one target day
// made Horizon days before it: Cells compared and the sum of their
// absolute errors.
type ForecastError struct {
	Day     Date
	Horizon int
	Cells   int
	AbsErr  int
}

// ForecastRow is one setting in one district over the forecast's days.
type ForecastRow struct {
	Setting ForecastSetting
	Outcode string
	// Demand[i] is the demand on day i (day 0 includes Overdue).
	Demand  [ForecastDays]int
	Overdue int
	Total   int
	// Vacant and Held are the district's supply now; SupplyKnown is false
	// when no supply was read (Vacant and Held are then zero, not known).
	Vacant, Held int
	SupplyKnown  bool
}

// HorizonMAE is the backtest's error at one horizon.
type HorizonMAE struct {
	Horizon int
	Cells   int
	AbsErr  int
}

// MAE is AbsErr / Cells; zero with no cells (check Cells).
func (h HorizonMAE) MAE() float64 {
	if h.Cells == 0 {
		return 0
	}
	return float64(h.AbsErr) / float64(h.Cells)
}

// Backtest is how far past forecasts missed: overall and by horizon.
type Backtest struct {
	// From and To are the target days scored.
	From, To  Date
	Overall   HorizonMAE
	ByHorizon []HorizonMAE
}

// Forecast is the 14-day demand forecast made on Made.
type Forecast struct {
	Made Date
	// Rows are ordered by setting (ForecastSettings) then district.
	Rows []ForecastRow
	// Total[i] is day i's demand over every row; Overdue their overdue.
	Total    [ForecastDays]int
	Overdue  int
	Backtest Backtest
}

// Day is the date of forecast day i.
func (f Forecast) Day(i int) Date { return DateOfDay(DayNumber(f.Made) + int64(i)) }

type forecastKey struct {
	setting ForecastSetting
	outcode string
}

// orDistrict is the district a counter's outcode stands for: itself when
// it has the shape of a UK postcode district, else UnknownDistrict (none
// recorded, or derived by the store from a postcode that was not a UK
// one).
func orDistrict(o string) string {
	if !ValidOutcode(o) {
		return UnknownDistrict
	}
	return o
}

// ComputeForecast folds due counters into the forecast made on today
// (supply not yet known: WithSupply adds it). A due day after the
// forecast's last day is ignored.
func ComputeForecast(today Date, due []DueCount) Forecast {
	f := Forecast{Made: today}
	rows := map[forecastKey]*ForecastRow{}
	row := func(k forecastKey) *ForecastRow {
		r := rows[k]
		if r == nil {
			r = &ForecastRow{Setting: k.setting, Outcode: k.outcode}
			rows[k] = r
		}
		return r
	}
	t := DayNumber(today)
	for _, d := range due {
		s, ok := ForecastSettingOf(d.Pathway)
		if !ok || d.N == 0 {
			continue
		}
		i := DayNumber(d.Day) - t
		if i >= ForecastDays {
			continue
		}
		r := row(forecastKey{s, orDistrict(d.Outcode)})
		if i < 0 {
			i = 0
			r.Overdue += d.N
			f.Overdue += d.N
		}
		r.Demand[i] += d.N
		r.Total += d.N
		f.Total[i] += d.N
	}
	for _, r := range rows {
		f.Rows = append(f.Rows, *r)
	}
	f.sortRows()
	return f
}

// Snapshot is the forecast as it is kept for the backtest: one count per
// setting, district and target day (overdue folded into day 0).
func (f Forecast) Snapshot() []ForecastCount {
	var out []ForecastCount
	for _, r := range f.Rows {
		for i, n := range r.Demand {
			if n > 0 {
				out = append(out, ForecastCount{Made: f.Made, Day: f.Day(i), Setting: r.Setting, Outcode: r.Outcode, N: n})
			}
		}
	}
	return out
}

// dischargesOn folds discharge counters into one reporting day's actual
// demand met, by setting and district (pathway 0 and unknown pathways
// left out). Counters outside day are ignored.
func dischargesOn(day Date, at []DischargeAt) map[forecastKey]int {
	out := map[forecastKey]int{}
	for _, c := range at {
		s, ok := ForecastSettingOf(c.Pathway)
		if !ok || c.N == 0 || ReportingDay(time.Unix(c.Hour*3600, 0)) != day {
			continue
		}
		out[forecastKey{s, orDistrict(c.Outcode)}] += c.N
	}
	return out
}

// ScoreDay scores the kept forecasts for day (made on day or in the 13
// days before; others are ignored) against the discharges that happened
// on it: one ForecastError per horizon that has a forecast kept. A cell
// is a setting and district where the forecast or the outcome is not
// zero. made lists the days a forecast was kept, even an empty one (a
// kept forecast of nothing still misses every discharge).
func ScoreDay(day Date, made []Date, kept []ForecastCount, discharges []DischargeAt) []ForecastError {
	actual := dischargesOn(day, discharges)
	byMade := map[Date]map[forecastKey]int{}
	for _, k := range kept {
		if k.Day != day {
			continue
		}
		if byMade[k.Made] == nil {
			byMade[k.Made] = map[forecastKey]int{}
		}
		byMade[k.Made][forecastKey{k.Setting, orDistrict(k.Outcode)}] += k.N
	}
	var out []ForecastError
	seen := map[Date]bool{}
	for _, m := range made {
		h := Days(m, day)
		if h < 0 || h >= ForecastDays || seen[m] {
			continue
		}
		seen[m] = true
		fc := byMade[m]
		e := ForecastError{Day: day, Horizon: h}
		for k, n := range fc {
			e.Cells++
			e.AbsErr += abs(n - actual[k])
		}
		for k, n := range actual {
			if _, seen := fc[k]; !seen {
				e.Cells++
				e.AbsErr += n
			}
		}
		out = append(out, e)
	}
	slices.SortFunc(out, func(a, b ForecastError) int { return cmp.Compare(a.Horizon, b.Horizon) })
	return out
}

// ComputeBacktest adds scored errors for the target days from..to into
// the overall MAE and one MAE per horizon (0..ForecastDays-1, each listed
// even with no cells).
func ComputeBacktest(from, to Date, errs []ForecastError) Backtest {
	b := Backtest{From: from, To: to, ByHorizon: make([]HorizonMAE, ForecastDays)}
	for i := range b.ByHorizon {
		b.ByHorizon[i].Horizon = i
	}
	for _, e := range errs {
		if e.Day.Before(from) || e.Day.After(to) || e.Horizon < 0 || e.Horizon >= ForecastDays {
			continue
		}
		b.ByHorizon[e.Horizon].Cells += e.Cells
		b.ByHorizon[e.Horizon].AbsErr += e.AbsErr
		b.Overall.Cells += e.Cells
		b.Overall.AbsErr += e.AbsErr
	}
	return b
}

// Add adds o's rows, totals and backtest to f (a hub's forecast adds its
// trusts'; rows of the same setting and district are merged). Both must
// be made on the same day.
func (f *Forecast) Add(o Forecast) {
	idx := map[forecastKey]int{}
	for i, r := range f.Rows {
		idx[forecastKey{r.Setting, r.Outcode}] = i
	}
	for _, r := range o.Rows {
		i, ok := idx[forecastKey{r.Setting, r.Outcode}]
		if !ok {
			idx[forecastKey{r.Setting, r.Outcode}] = len(f.Rows)
			f.Rows = append(f.Rows, r)
			continue
		}
		d := &f.Rows[i]
		for j := range d.Demand {
			d.Demand[j] += r.Demand[j]
		}
		d.Overdue += r.Overdue
		d.Total += r.Total
	}
	f.sortRows()
	for i := range f.Total {
		f.Total[i] += o.Total[i]
	}
	f.Overdue += o.Overdue
	if f.Backtest.ByHorizon == nil {
		f.Backtest = Backtest{From: o.Backtest.From, To: o.Backtest.To, ByHorizon: make([]HorizonMAE, ForecastDays)}
		for i := range f.Backtest.ByHorizon {
			f.Backtest.ByHorizon[i].Horizon = i
		}
	}
	for i, h := range o.Backtest.ByHorizon {
		f.Backtest.ByHorizon[i].Cells += h.Cells
		f.Backtest.ByHorizon[i].AbsErr += h.AbsErr
	}
	f.Backtest.Overall.Cells += o.Backtest.Overall.Cells
	f.Backtest.Overall.AbsErr += o.Backtest.Overall.AbsErr
}

// WithSupply sets each row's supply from supply (rows for districts with
// supply but no demand are added), for a forecast whose trusts were added
// without it: supply is the district's, not a trust's, so a hub's
// forecast reads it once. A row's supply is known when supply has any
// count for its district (a reader returns every setting of a district
// it read, zeros included); other rows' supply stays not known.
func (f Forecast) WithSupply(supply []SupplyCount) Forecast {
	read := map[string]bool{}
	for _, s := range supply {
		read[orDistrict(s.Outcode)] = true
	}
	idx := map[forecastKey]int{}
	for i := range f.Rows {
		f.Rows[i].SupplyKnown = read[f.Rows[i].Outcode]
		f.Rows[i].Vacant, f.Rows[i].Held = 0, 0
		idx[forecastKey{f.Rows[i].Setting, f.Rows[i].Outcode}] = i
	}
	for _, s := range supply {
		k := forecastKey{s.Setting, orDistrict(s.Outcode)}
		i, ok := idx[k]
		if !ok {
			idx[k] = len(f.Rows)
			f.Rows = append(f.Rows, ForecastRow{Setting: k.setting, Outcode: k.outcode, SupplyKnown: true})
			i = idx[k]
		}
		f.Rows[i].Vacant += s.Vacant
		f.Rows[i].Held += s.Held
	}
	f.sortRows()
	return f
}

func (f *Forecast) sortRows() {
	order := map[ForecastSetting]int{}
	for i, s := range ForecastSettings() {
		order[s] = i
	}
	slices.SortFunc(f.Rows, func(a, b ForecastRow) int {
		return cmp.Or(cmp.Compare(order[a.Setting], order[b.Setting]), cmp.Compare(a.Outcode, b.Outcode))
	})
}

// Districts lists the forecast's districts with demand (UnknownDistrict
// left out), the most demand first (ties by name), for reading their
// supply.
func (f Forecast) Districts() []string {
	demand := map[string]int{}
	for _, r := range f.Rows {
		if r.Outcode != UnknownDistrict {
			demand[r.Outcode] += r.Total
		}
	}
	out := make([]string, 0, len(demand))
	for d := range demand {
		out = append(out, d)
	}
	slices.SortFunc(out, func(a, b string) int { return cmp.Or(cmp.Compare(demand[b], demand[a]), cmp.Compare(a, b)) })
	return out
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}

// ForecastInputs are what one trust's forecast reads: its due counters,
// whether today's forecast is kept already, and the scored errors of the
// backtest's days.
type ForecastInputs struct {
	Due    []DueCount
	Kept   bool
	Errors []ForecastError
}

// ScoringInputs are what scoring closed days needs: the days not yet
// scored, the days a forecast was kept on, the kept cells of the days
// scored and the discharges in them (by hour bucket).
type ScoringInputs struct {
	Unscored   []Date
	Made       []Date
	Kept       []ForecastCount
	Discharges []DischargeAt
}
