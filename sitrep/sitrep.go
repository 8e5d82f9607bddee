// Package sitrep is the system view of discharge: the daily discharge
// sitrep (patients not meeting the criteria to reside by pathway, delay
// reason and delay band; discharges per day by pathway, weekends apart and
// before noon; new NCTR patients per day) for a trust, a hub across its
// members or a system client (commissioner, ICB, national) across its
// trusts, computed from counters the store keeps in the transaction of
// every Encounter write (adapters/sqlstore/sitrep.go); the weekly unmet
// placement demand by district (unmet.go); the stock at a past day's close
// (stock.go); and the one access rule of every aggregate report
// (access.go). A report costs the
// counters' rows of the trusts in it, never a scan of their cases; the
// rules that fold counters into a report are discharge's (ComputeSitrep).
// docs/sitrep.md records the decisions.
package sitrep

import (
	"context"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/dischargegateway/gateway/auth"
	"github.com/dischargegateway/gateway/discharge"
)

// Counters are the sitrep counters of one trust (its partition).
type Counters interface {
	// Counters returns the open NCTR stock, the discharge counters in
	// the hour buckets [fromHour, toHour) and the new-NCTR counters on
	// days [fromDay, toDay] (discharge.HourBucket, discharge.DayNumber).
	Counters(ctx context.Context, partition string, fromHour, toHour, fromDay, toDay int64) (discharge.SitrepCounters, error)
	// DelayHistory returns a case's delay reasons in order.
	DelayHistory(ctx context.Context, partition, caseID string) ([]discharge.DelaySpell, error)
}

// MaxDays is the longest period one report covers: a quarter.
const MaxDays = 92

// readers bounds the trusts whose counters one report reads at once: a
// few of the store's connections (20 on PostgreSQL, 8 on SQLite).
const readers = 4

// Service computes sitreps.
type Service struct {
	counters Counters
	now      func() time.Time
	history  History // nil: no unmet demand, no past stock (unmet.go, stock.go)
}

// New returns a Service reading c; now is the clock (time.Now when nil).
func New(c Counters, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	return &Service{counters: c, now: now}
}

// Request is what one report is asked for.
type Request struct {
	// Subject is the ODS code the report is for: a trust, or the hub
	// itself for all its members; "" is every trust the caller reads.
	Subject string
	// From and To are the reporting days (inclusive); zero: today.
	From, To discharge.Date
}

// Report is one sitrep with what it covers.
type Report struct {
	Subject string
	// Trusts are the trusts whose counters were added.
	Trusts    []string
	Generated time.Time
	discharge.Sitrep
}

// MayRead is the sitrep's access rule, which the route table declares:
// MayReadAggregates (a trust its own, a hub its members', a system client
// the trusts it is registered for); anyone else is KindForbidden.
func MayRead(p *auth.Principal) error { return MayReadAggregates(p) }

// Sitrep computes the report r asks for, over the trusts p may read.
// A subject p may not read is KindForbidden, named at "subject".
func (s *Service) Sitrep(ctx context.Context, p *auth.Principal, r Request) (Report, error) {
	if err := MayRead(p); err != nil {
		return Report{}, err
	}
	now := s.now()
	today := discharge.Today(now)
	if r.From.IsZero() {
		r.From = today
	}
	if r.To.IsZero() {
		r.To = r.From
	}
	if r.To.Before(r.From) {
		return Report{}, discharge.E(discharge.KindValue, "period", "The period ends before it starts.")
	}
	if discharge.Days(r.From, r.To) >= MaxDays {
		return Report{}, discharge.E(discharge.KindTooLarge, "period", "A report covers at most 92 days.")
	}
	subject, trusts, err := subjectTrusts(p, r.Subject)
	if err != nil {
		return Report{}, err
	}
	fromHour, _ := discharge.ReportingHours(r.From)
	_, toHour := discharge.ReportingHours(r.To)
	// One read per trust, up to readers at once: a hub's or a region's
	// report waits for its slowest trusts, not for their sum. Results are
	// added in trust order, so the report does not depend on timing.
	got := make([]discharge.SitrepCounters, len(trusts))
	errs := make([]error, len(trusts))
	sem := make(chan struct{}, readers)
	var wg sync.WaitGroup
	for i, t := range trusts {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			got[i], errs[i] = s.counters.Counters(ctx, t, fromHour, toHour, discharge.DayNumber(r.From), discharge.DayNumber(r.To))
		}()
	}
	wg.Wait()
	var all discharge.SitrepCounters
	for i := range trusts {
		if errs[i] != nil {
			return Report{}, errs[i]
		}
		all.Add(got[i])
	}
	// A past period's stock is the stock at its close, when the store kept
	// it (stock.go): its delay bands are counted to the period's last day.
	asOf, err := s.pastStock(ctx, trusts, today, r.To, &all)
	if err != nil {
		return Report{}, err
	}
	return Report{Subject: subject, Trusts: trusts, Generated: now,
		Sitrep: discharge.ComputeSitrep(asOf, r.From, r.To, all.Open, all.Discharges, all.NewNCTR)}, nil
}

// DelayHistory returns a case's delay history, for a caller that sees the
// trust's patients (auth.Principal.CanSee: never a system client, whose
// reports are aggregates only).
func (s *Service) DelayHistory(ctx context.Context, p *auth.Principal, trust, caseID string) ([]discharge.DelaySpell, error) {
	if !p.CanSee(trust) {
		return nil, discharge.E(discharge.KindNotFound, "", "No such case.")
	}
	return s.counters.DelayHistory(ctx, trust, caseID)
}

// ParsePeriod reads the FHIR period search (period=YYYY-MM-DD for one
// day; period=geYYYY-MM-DD&period=leYYYY-MM-DD for a range; eq allowed)
// or $evaluate-measure's periodStart/periodEnd into days. Errors name the
// parameter.
func ParsePeriod(q url.Values) (from, to discharge.Date, err error) {
	date := func(name, v string) (discharge.Date, error) {
		d, err := discharge.ParseDate(v)
		if err != nil {
			return discharge.Date{}, discharge.E(discharge.KindValue, name, name+" is a date: YYYY-MM-DD.")
		}
		return d, nil
	}
	for _, v := range q["period"] {
		prefix, rest := "eq", v
		if len(v) > 2 && v[0] >= 'a' && v[0] <= 'z' {
			prefix, rest = v[:2], v[2:]
		}
		d, err := date("period", rest)
		if err != nil {
			return from, to, err
		}
		switch prefix {
		case "eq":
			from, to = d, d
		case "ge":
			from = d
		case "le":
			to = d
		default:
			return from, to, discharge.E(discharge.KindNotSupported, "period", "period takes eq, ge or le.")
		}
	}
	for name, dst := range map[string]*discharge.Date{"periodStart": &from, "periodEnd": &to} {
		if v := q.Get(name); v != "" {
			d, err := date(name, v)
			if err != nil {
				return from, to, err
			}
			*dst = d
		}
	}
	if from.IsZero() && !to.IsZero() {
		from = to
	}
	return from, to, nil
}

// ParseSubject reads subject=Organization/{ODS} (the ODS code is the
// Organization's id here) or a bare ODS code; "" when absent.
func ParseSubject(q url.Values) (string, error) {
	v := q.Get("subject")
	if v == "" {
		return "", nil
	}
	v = strings.TrimPrefix(v, "Organization/")
	if v == "" || strings.ContainsAny(v, "/|") || len(v) > 10 {
		return "", discharge.E(discharge.KindValue, "subject", "subject is Organization/{ODS code} of a trust or hub.")
	}
	return v, nil
}
