package sitrep

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/dischargegateway/gateway/auth"
	"github.com/dischargegateway/gateway/discharge"
)

// History is what the store keeps beyond the day's counters, per trust
// (its partition); sqlstore.Sitrep provides it and Service.WithHistory
// wires it.
type History interface {
	// UnmetDemand returns the unmet-demand counters (placement searches
	// that found fewer than discharge.MinOptions options) of the weeks
	// (discharge.WeekOf) from..to, by district and need.
	UnmetDemand(ctx context.Context, partition string, fromWeek, toWeek int64) ([]discharge.DemandCount, error)
	// StockAt returns the NCTR stock at the close closeHour of a day that
	// has closed (the end of discharge.ReportingHours); kept is false
	// when the store has no record that far back.
	StockAt(ctx context.Context, partition string, closeHour int64) (open []discharge.OpenNCTR, kept bool, err error)
}

// MaxWeeks is the longest period one unmet-demand request covers: a
// quarter.
const MaxWeeks = 13

// UnmetReport is the unmet demand of a subject, week by week.
type UnmetReport struct {
	Subject   string
	Trusts    []string
	Generated time.Time
	Weeks     []discharge.UnmetWeek
}

// UnmetRow is one line of the dashboard's unmet demand: a district and
// setting, the searches short of options (Waiting) and the hard filter
// that most often excluded the providers nearby ("" when none did: there
// were too few providers at all).
type UnmetRow struct {
	District  string
	Setting   string
	Waiting   int
	TopFilter string
}

// WithHistory makes s report unmet demand and past periods' stock from h
// (nil: unmet demand answers not-supported, and a past period shows the
// stock now) and returns s, for wiring.
func (s *Service) WithHistory(h History) *Service {
	s.history = h
	return s
}

// UnmetDemand reports the unmet demand r asks for, over the trusts p reads
// aggregates of (MayReadAggregates): one week per Monday to Sunday that
// r.From..r.To touches (zero: this week), at most MaxWeeks. Nothing in it
// names a patient.
func (s *Service) UnmetDemand(ctx context.Context, p *auth.Principal, r Request) (UnmetReport, error) {
	if err := MayReadAggregates(p); err != nil {
		return UnmetReport{}, err
	}
	dc := s.history
	if dc == nil {
		return UnmetReport{}, discharge.E(discharge.KindNotSupported, "", "This gateway keeps no unmet-demand counters.")
	}
	now := s.now()
	if r.From.IsZero() {
		r.From = discharge.Today(now)
	}
	if r.To.IsZero() {
		r.To = r.From
	}
	if r.To.Before(r.From) {
		return UnmetReport{}, discharge.E(discharge.KindValue, "period", "The period ends before it starts.")
	}
	fromWeek, toWeek := discharge.WeekOf(r.From), discharge.WeekOf(r.To)
	if (toWeek-fromWeek)/7 >= MaxWeeks {
		return UnmetReport{}, discharge.E(discharge.KindTooLarge, "period", "An unmet-demand request covers at most 13 weeks.")
	}
	subject, trusts, err := subjectTrusts(p, r.Subject)
	if err != nil {
		return UnmetReport{}, err
	}
	// One small read per trust (a few rows per district and need), in
	// trust order: a national view of a few hundred trusts reads them one
	// after another, which is fine at weekly granularity.
	var all []discharge.DemandCount
	for _, t := range trusts {
		got, err := dc.UnmetDemand(ctx, t, fromWeek, toWeek)
		if err != nil {
			return UnmetReport{}, err
		}
		all = append(all, got...)
	}
	return UnmetReport{Subject: subject, Trusts: trusts, Generated: now,
		Weeks: discharge.ComputeUnmetDemand(r.From, r.To, all)}, nil
}

// UnmetRows flattens a report into the dashboard's rows: per district and
// setting over all its weeks, most searches first (ties by district, then
// setting), each with the filter that was the top exclusion most often.
func UnmetRows(rep UnmetReport) []UnmetRow {
	type key struct{ district, setting string }
	waiting := map[key]int{}
	filters := map[key]map[discharge.Filter]int{}
	for _, w := range rep.Weeks {
		for _, d := range w.Districts {
			for _, c := range d.Cells {
				k := key{d.Outcode, string(c.Setting)}
				waiting[k] += c.N
				if filters[k] == nil {
					filters[k] = map[discharge.Filter]int{}
				}
				filters[k][c.TopFilter] += c.N
			}
		}
	}
	rows := make([]UnmetRow, 0, len(waiting))
	for k, n := range waiting {
		rows = append(rows, UnmetRow{District: k.district, Setting: k.setting, Waiting: n,
			TopFilter: string(discharge.TopExclusion(withoutNone(filters[k])))})
	}
	slices.SortFunc(rows, func(a, b UnmetRow) int {
		if a.Waiting != b.Waiting {
			return b.Waiting - a.Waiting
		}
		if c := strings.Compare(a.District, b.District); c != 0 {
			return c
		}
		return strings.Compare(a.Setting, b.Setting)
	})
	return rows
}

func withoutNone(m map[discharge.Filter]int) map[discharge.Filter]int {
	delete(m, "")
	return m
}
