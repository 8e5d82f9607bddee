package discharge

import (
	"math"
	"slices"
	"time"
)

// Milestones are the first times a case reached each step of the referral
// loop; a zero time is a step not (yet) reached.
type Milestones struct {
	Referred        time.Time
	FirstShortlist  time.Time
	FirstOfferSent  time.Time
	FirstAcceptance time.Time
	Confirmed       time.Time
	Discharged      time.Time
}

// CaseMeasures are one case's measures. A duration is nil when the case
// has no Discharge Ready Date or has not reached the step; NCTRDays is nil
// when the case has never been recorded as not meeting the criteria to
// reside.
type CaseMeasures struct {
	DRDToShortlist    *time.Duration
	DRDToAcceptance   *time.Duration
	DRDToConfirmation *time.Duration
	DRDToDischarge    *time.Duration
	NCTRDays          *int
}

// DayStart is the first instant of d in UTC. Measures count from the
// start of the Discharge Ready Date: the date carries no time of day, and
// a ward records it as the day, not the moment, the patient was ready.
func DayStart(d Date) time.Time {
	return time.Date(d.Year, d.Month, d.Day, 0, 0, 0, 0, time.UTC)
}

// MeasureCase computes a case's measures at now. A step reached before the
// Discharge Ready Date (a shortlist made in anticipation) measures as a
// negative duration: that is the aim, and hiding it would flatter nobody.
func MeasureCase(drd *Date, ctr *CriteriaToReside, m Milestones, now time.Time) CaseMeasures {
	var out CaseMeasures
	if drd != nil && !drd.IsZero() {
		from := DayStart(*drd)
		since := func(t time.Time) *time.Duration {
			if t.IsZero() {
				return nil
			}
			d := t.Sub(from)
			return &d
		}
		out.DRDToShortlist = since(m.FirstShortlist)
		out.DRDToAcceptance = since(m.FirstAcceptance)
		out.DRDToConfirmation = since(m.Confirmed)
		out.DRDToDischarge = since(m.Discharged)
	}
	end := now
	if !m.Discharged.IsZero() {
		end = m.Discharged
	}
	if from, ok := NCTRSince(ctr); ok {
		n := NCTRDays(from, end)
		out.NCTRDays = &n
	}
	return out
}

// NCTRSince is the day the case stopped meeting the criteria to reside:
// ctr says "not met" since a date. Without a date there is nothing to
// count from.
func NCTRSince(ctr *CriteriaToReside) (Date, bool) {
	if ctr == nil || ctr.Met == nil || *ctr.Met || ctr.Since == nil || ctr.Since.IsZero() {
		return Date{}, false
	}
	return *ctr.Since, true
}

// NCTRDays counts the whole days from the start of since (UTC) to end:
// zero on the day itself, and never below zero.
func NCTRDays(since Date, end time.Time) int {
	d := end.Sub(DayStart(since))
	if d < 0 {
		return 0
	}
	return int(d / (24 * time.Hour))
}

// Escalation reasons: why a case is flagged for a senior responsible
// officer.
const (
	// EscalationNoAcceptance: no provider accepted within the wait after
	// the first offer was sent.
	EscalationNoAcceptance = "no-acceptance"
	// EscalationNCTR: the case has not met the criteria to reside for more
	// than the threshold's days.
	EscalationNCTR = "nctr-days"
)

// EscalationRule holds the escalation thresholds (settings).
type EscalationRule struct {
	// OfferWait is how long after the first offer an acceptance is due.
	OfferWait time.Duration
	// NCTRDays is the most days not meeting the criteria to reside before
	// a case is flagged.
	NCTRDays int
}

// Escalate lists the reasons a case is flagged at now, none when it is
// not. A case's first offer sent at m.FirstOfferSent with no acceptance by
// now + OfferWait is flagged; so is one whose NCTR days exceed the
// threshold. A rule with a zero wait or a negative threshold is off.
func (r EscalationRule) Escalate(m Milestones, nctrDays *int, now time.Time) []string {
	var out []string
	if r.OfferWait > 0 && !m.FirstOfferSent.IsZero() && m.FirstAcceptance.IsZero() && !now.Before(m.FirstOfferSent.Add(r.OfferWait)) {
		out = append(out, EscalationNoAcceptance)
	}
	if r.NCTRDays >= 0 && nctrDays != nil && *nctrDays > r.NCTRDays {
		out = append(out, EscalationNCTR)
	}
	return out
}

// DurationSummary summarises durations: how many, their median and 90th
// percentile (nil when there are none).
type DurationSummary struct {
	Count  int
	Median *time.Duration
	P90    *time.Duration
}

// SummariseDurations computes a DurationSummary, by the nearest-rank
// percentile (the value at or below which p% of the values lie).
func SummariseDurations(ds []time.Duration) DurationSummary {
	out := DurationSummary{Count: len(ds)}
	if len(ds) == 0 {
		return out
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	med, p90 := nearestRank(s, 50), nearestRank(s, 90)
	out.Median, out.P90 = &med, &p90
	return out
}

// nearestRank is the p-th percentile of sorted s by the nearest-rank
// method; s is not empty.
func nearestRank[T any](s []T, p float64) T {
	i := int(math.Ceil(p/100*float64(len(s)))) - 1
	return s[min(max(i, 0), len(s)-1)]
}

// SummariseInts summarises counts (NCTR days) as DurationSummary does
// durations.
func SummariseInts(ns []int) (count int, median, p90 *int) {
	if len(ns) == 0 {
		return 0, nil, nil
	}
	s := slices.Clone(ns)
	slices.Sort(s)
	m, p := nearestRank(s, 50), nearestRank(s, 90)
	return len(s), &m, &p
}

// AcceptanceRate is accepted over answered (accepted, rejected or expired
// unanswered), nil when nothing was answered: a provider with no history
// has no rate, not a rate of zero.
func AcceptanceRate(accepted, answered int) *float64 {
	if answered <= 0 {
		return nil
	}
	r := float64(accepted) / float64(answered)
	return &r
}
