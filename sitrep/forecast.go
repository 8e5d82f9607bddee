package sitrep

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
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

// KeepDay keeps today's forecast for each of trusts that has none kept
// yet, and scores its closed days, as the day's first report would: the
// daily sweep (RunDaily), so that a day no one asks about still has its
// forecast for the backtest, and the first caller of the day no longer
// pays for keeping it. A trust that fails does not stop the others; the
// errors are returned together.
func (s *Forecast) KeepDay(ctx context.Context, trusts []string) error {
	today := discharge.Today(s.now())
	var errs []error
	for _, t := range trusts {
		if _, err := s.trust(ctx, t, today); err != nil {
			errs = append(errs, fmt.Errorf("trust %s: %w", t, err))
		}
		if ctx.Err() != nil {
			break
		}
	}
	return errors.Join(errs...)
}

// SweepAfterMidnight is how long after a reporting day begins (midnight
// in England) the daily sweep runs: the last discharges of the day before
// are in by then.
const SweepAfterMidnight = 5 * time.Minute

// NextSweep is when the daily sweep runs next after now: SweepAfterMidnight
// into the next reporting day, or into today's when now is before that.
func NextSweep(now time.Time) time.Time {
	today := discharge.Today(now)
	from, _ := discharge.ReportingHours(today)
	at := time.Unix(from*3600, 0).Add(SweepAfterMidnight)
	if !now.Before(at) {
		from, _ = discharge.ReportingHours(discharge.DateOfDay(discharge.DayNumber(today) + 1))
		at = time.Unix(from*3600, 0).Add(SweepAfterMidnight)
	}
	return at
}

// RunDaily keeps each day's forecast for trusts (KeepDay) once at start
// and then just after each midnight in England, until ctx ends: `gateway
// serve` runs it over the trusts its client registry names. Every gateway
// may run one: a day's forecast is kept once (the store keeps the first),
// so two sweeps, or a sweep and a report, keep one.
func (s *Forecast) RunDaily(ctx context.Context, trusts []string, log *slog.Logger) {
	for {
		if err := s.KeepDay(ctx, trusts); err != nil && ctx.Err() == nil {
			log.Warn("forecast sweep", slog.String("detail", err.Error()))
		}
		wait := time.NewTimer(time.Until(NextSweep(s.now())))
		select {
		case <-ctx.Done():
			wait.Stop()
			return
		case <-wait.C:
		}
	}
}
