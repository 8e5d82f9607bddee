package sitrep

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/dischargegateway/gateway/auth"
	"github.com/dischargegateway/gateway/discharge"
)

// The 14-day demand forecast and its backtest (discharge/forecast.go has
// the model; docs/sitrep.md, "Forecast", the decisions). A forecast reads,
// per trust, the due counters the store keeps in the Encounter write's
// transaction (adapters/sqlstore/forecast.go) and the backtest's scored
// errors: never the cases. The first report of a day for a trust also
// keeps that day's forecast and scores the closed days not yet scored.

// ForecastStore is the forecast's counters, kept forecasts and scores of
// one trust (its partition); adapters/sqlstore.Forecast is one.
type ForecastStore interface {
	// Inputs returns the due counters up to toDay (overdue days
	// included), whether a forecast was kept on madeDay and the scored
	// errors of the target days fromErr..toErr (discharge.DayNumber),
	// which may come summed by horizon, dated within the window.
	Inputs(ctx context.Context, partition string, madeDay, toDay, fromErr, toErr int64) (discharge.ForecastInputs, error)
	// Keep stores the day's forecast unless one is kept; it reports
	// whether it stored it.
	Keep(ctx context.Context, partition string, made discharge.Date, cells []discharge.ForecastCount) (bool, error)
	// ScoringInputs returns what scoring the days from..to needs, with the
	// discharges in the hour buckets [fromHour, toHour).
	ScoringInputs(ctx context.Context, partition string, from, to, fromHour, toHour int64) (discharge.ScoringInputs, error)
	// SaveScores stores the errors of days, each day once.
	SaveScores(ctx context.Context, partition string, days []discharge.Date, errs []discharge.ForecastError) error
}

// Supply reads what districts have now: vacancies accepting admissions
// and active holds, by forecast setting. It is optional: without it the
// forecast says supply is not known.
type Supply interface {
	Supply(ctx context.Context, districts []string) ([]discharge.SupplyCount, error)
}

// Forecast computes 14-day forecasts.
type Forecast struct {
	store  ForecastStore
	supply Supply
	now    func() time.Time
}

// NewForecast returns a Forecast reading st and, when not nil, supply; now
// is the clock (time.Now when nil).
func NewForecast(st ForecastStore, supply Supply, now func() time.Time) *Forecast {
	if now == nil {
		now = time.Now
	}
	return &Forecast{store: st, supply: supply, now: now}
}

// ForecastRequest is what one forecast is asked for.
type ForecastRequest struct {
	// Subject is the ODS code of a trust, or the hub itself for all its
	// members; "" is every trust the caller reads.
	Subject string
}

// ForecastReport is one forecast with what it covers.
type ForecastReport struct {
	Subject   string
	Trusts    []string
	Generated time.Time
	discharge.Forecast
}

// Forecast computes the forecast r asks for, over the trusts p may read
// (MayRead's rule: a trust its own, a hub its members'). A subject p may
// not read is KindForbidden at "subject".
func (s *Forecast) Forecast(ctx context.Context, p *auth.Principal, r ForecastRequest) (ForecastReport, error) {
	if err := MayRead(p); err != nil {
		return ForecastReport{}, err
	}
	trusts := p.ReadableOrgs()
	subject := r.Subject
	switch {
	case subject == "" || subject == p.Org:
		subject = p.Org
	case slices.Contains(trusts, subject):
		trusts = []string{subject}
	default:
		return ForecastReport{}, discharge.E(discharge.KindForbidden, "subject", "The caller does not read that organisation's forecast.")
	}
	now := s.now()
	today := discharge.Today(now)
	got := make([]discharge.Forecast, len(trusts))
	errs := make([]error, len(trusts))
	sem := make(chan struct{}, readers)
	var wg sync.WaitGroup
	for i, t := range trusts {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			got[i], errs[i] = s.trust(ctx, t, today)
		}()
	}
	wg.Wait()
	all := discharge.Forecast{Made: today}
	for i := range trusts {
		if errs[i] != nil {
			return ForecastReport{}, errs[i]
		}
		all.Add(got[i])
	}
	if s.supply != nil {
		sup, err := s.supply.Supply(ctx, all.Districts())
		if err != nil {
			return ForecastReport{}, err
		}
		if sup == nil {
			sup = []discharge.SupplyCount{}
		}
		all = all.WithSupply(sup)
	}
	return ForecastReport{Subject: subject, Trusts: trusts, Generated: now, Forecast: all}, nil
}

// backtestDays are the target days the backtest reports on: the
// BacktestDays before today.
func backtestDays(today discharge.Date) (from, to int64) {
	t := discharge.DayNumber(today)
	return t - discharge.BacktestDays, t - 1
}

// trust is one trust's forecast; the day's first also keeps it and scores
// the closed days.
func (s *Forecast) trust(ctx context.Context, trust string, today discharge.Date) (discharge.Forecast, error) {
	t := discharge.DayNumber(today)
	from, to := backtestDays(today)
	in, err := s.store.Inputs(ctx, trust, t, t+discharge.ForecastDays-1, from, to)
	if err != nil {
		return discharge.Forecast{}, err
	}
	f := discharge.ComputeForecast(today, in.Due)
	if !in.Kept {
		if err := s.keepAndScore(ctx, trust, f, from, to); err != nil {
			return discharge.Forecast{}, err
		}
		if in, err = s.store.Inputs(ctx, trust, t, t+discharge.ForecastDays-1, from, to); err != nil {
			return discharge.Forecast{}, err
		}
	}
	f.Backtest = discharge.ComputeBacktest(discharge.DateOfDay(from), discharge.DateOfDay(to), in.Errors)
	return f, nil
}

// keepAndScore keeps today's forecast and scores the closed days of the
// backtest's window not yet scored against the discharges on them. A day
// is scored once, at the first report after it closed: a discharge
// corrected later does not change its score (docs/sitrep.md).
func (s *Forecast) keepAndScore(ctx context.Context, trust string, f discharge.Forecast, from, to int64) error {
	if _, err := s.store.Keep(ctx, trust, f.Made, f.Snapshot()); err != nil {
		return err
	}
	fromHour, _ := discharge.ReportingHours(discharge.DateOfDay(from))
	_, toHour := discharge.ReportingHours(discharge.DateOfDay(to))
	in, err := s.store.ScoringInputs(ctx, trust, from, to, fromHour, toHour)
	if err != nil || len(in.Unscored) == 0 {
		return err
	}
	var errs []discharge.ForecastError
	for _, d := range in.Unscored {
		errs = append(errs, discharge.ScoreDay(d, in.Made, in.Kept, in.Discharges)...)
	}
	return s.store.SaveScores(ctx, trust, in.Unscored, errs)
}
