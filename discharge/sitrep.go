package discharge

import (
	"sort"
	"time"
)

// The daily discharge sitrep's rules: delay bands, the reporting day
// (midnight to midnight in England, Europe/London), the weekend split and
// discharges before noon. The figures themselves come from counters the
// store keeps as cases change (see sitrep/ and docs/sitrep.md); these
// functions only fold the counters into a day's report, so a sitrep costs
// the counters' rows, never a scan of the cases.

// DelayBand is a band of days since a patient stopped meeting the
// criteria to reside, as the national return groups them.
type DelayBand struct {
	Code     string
	Min, Max int // Max < 0: no upper bound
}

var delayBands = []DelayBand{
	{"0-1", 0, 1}, {"2-3", 2, 3}, {"4-6", 4, 6}, {"7-13", 7, 13}, {"14-20", 14, 20}, {"21+", 21, -1},
}

// DelayBands lists the bands in order, each day count in exactly one.
func DelayBands() []DelayBand { return append([]DelayBand(nil), delayBands...) }

// BandOf is the index in DelayBands of the band holding days. A negative
// count (an NCTR date in the future, as sent) falls in the first band.
func BandOf(days int) int {
	for i, b := range delayBands {
		if b.Max < 0 || days <= b.Max {
			return i
		}
	}
	return len(delayBands) - 1
}

// DayNumber is d as days since 1970-01-01: how the store keys a civil day.
func DayNumber(d Date) int64 { return DayStart(d).Unix() / 86400 }

// DateOfDay is the civil date of a DayNumber.
func DateOfDay(n int64) Date { return DateOf(time.Unix(n*86400, 0).UTC()) }

// Days is the number of days from a to b (negative when b is before a).
func Days(a, b Date) int { return int(DayNumber(b) - DayNumber(a)) }

// ReportingDay (like Today, in the ward calendar's zone) is the day of the sitrep t falls in: the civil date in
// England, so a discharge at 00:30 BST on 1 June counts on 1 June though it
// is 31 May in UTC.
func ReportingDay(t time.Time) Date { return DateOf(t.In(london)) }

// BeforeNoon reports whether t is before 12:00 on the clock in England.
func BeforeNoon(t time.Time) bool { return t.In(london).Hour() < 12 }

// Weekend reports whether d is a Saturday or a Sunday.
func Weekend(d Date) bool { w := d.Weekday(); return w == time.Saturday || w == time.Sunday }

// HourBucket is the hour (since the epoch, UTC) holding t: the store keys
// discharges by it. UK offsets are whole hours, so an hour bucket lies in
// one reporting day and wholly before or after noon.
func HourBucket(t time.Time) int64 { return t.Unix() / 3600 }

// ReportingHours is the half-open range of hour buckets making up the
// reporting day d (23, 24 or 25 hours at the clock changes).
func ReportingHours(d Date) (from, to int64) {
	start := time.Date(d.Year, d.Month, d.Day, 0, 0, 0, 0, london)
	end := time.Date(d.Year, d.Month, d.Day+1, 0, 0, 0, 0, london)
	return HourBucket(start), HourBucket(end)
}

// UnknownPathway stands for a case with no pathway recorded.
const UnknownPathway = "unknown"

// NotRecorded stands for an NCTR patient with no delay reason recorded.
const NotRecorded = "not-recorded"

// OpenNCTR is one counter of patients in hospital not meeting the criteria
// to reside: N of them since Since, on Pathway, delayed for Reason.
type OpenNCTR struct {
	Since           Date
	Pathway, Reason string
	N               int
}

// DischargeCount is one counter of discharges: N in the hour bucket Hour
// (HourBucket) on Pathway.
type DischargeCount struct {
	Hour    int64
	Pathway string
	N       int
}

// NewNCTRCount is one counter of patients who stopped meeting the criteria
// to reside on Day, on Pathway.
type NewNCTRCount struct {
	Day     Date
	Pathway string
	N       int
}

// SitrepDay is one reporting day's flows.
type SitrepDay struct {
	Day     Date
	Weekend bool
	// Discharges by pathway (UnknownPathway for none), their total and
	// those before noon.
	Discharges           map[string]int
	DischargeTotal       int
	DischargesBeforeNoon int
	// NewNCTR are the patients who stopped meeting the criteria on Day.
	NewNCTR      map[string]int
	NewNCTRTotal int
}

// Sitrep is the discharge sitrep of a set of trusts over a period:
// the patients not meeting the criteria to reside on AsOf (the stock),
// and each day's discharges and new NCTR patients (the flows).
type Sitrep struct {
	AsOf     Date
	From, To Date
	// NCTR is the stock on AsOf; ByPathway, ByReason and ByBand (indexed
	// as DelayBands) each add up to it.
	NCTR      int
	ByPathway map[string]int
	ByReason  map[string]int
	ByBand    []int
	Days      []SitrepDay
	// Weekday and weekend discharge totals over the period.
	WeekdayDischarges, WeekendDischarges int
}

// ComputeSitrep folds counters into the sitrep for the days from..to
// (inclusive) with the stock as of asOf. Counters outside the period are
// ignored; the caller reads only the period's.
func ComputeSitrep(asOf, from, to Date, open []OpenNCTR, discharges []DischargeCount, newNCTR []NewNCTRCount) Sitrep {
	s := Sitrep{AsOf: asOf, From: from, To: to, ByPathway: map[string]int{}, ByReason: map[string]int{}, ByBand: make([]int, len(delayBands))}
	for _, o := range open {
		if o.N == 0 {
			continue
		}
		s.NCTR += o.N
		s.ByPathway[orUnknown(o.Pathway, UnknownPathway)] += o.N
		s.ByReason[CurrentDelayReason(orUnknown(o.Reason, NotRecorded))] += o.N
		s.ByBand[BandOf(Days(o.Since, asOf))] += o.N
	}
	index := map[Date]int{}
	for d := from; !d.After(to); d = DateOfDay(DayNumber(d) + 1) {
		index[d] = len(s.Days)
		s.Days = append(s.Days, SitrepDay{Day: d, Weekend: Weekend(d), Discharges: map[string]int{}, NewNCTR: map[string]int{}})
	}
	for _, c := range discharges {
		at := time.Unix(c.Hour*3600, 0)
		i, ok := index[ReportingDay(at)]
		if !ok || c.N == 0 {
			continue
		}
		d := &s.Days[i]
		d.Discharges[orUnknown(c.Pathway, UnknownPathway)] += c.N
		d.DischargeTotal += c.N
		if BeforeNoon(at) {
			d.DischargesBeforeNoon += c.N
		}
		if d.Weekend {
			s.WeekendDischarges += c.N
		} else {
			s.WeekdayDischarges += c.N
		}
	}
	for _, c := range newNCTR {
		i, ok := index[c.Day]
		if !ok || c.N == 0 {
			continue
		}
		s.Days[i].NewNCTR[orUnknown(c.Pathway, UnknownPathway)] += c.N
		s.Days[i].NewNCTRTotal += c.N
	}
	return s
}

// SitrepPathways are the pathway keys of a sitrep in report order.
func SitrepPathways() []string { return []string{"0", "1", "2", "3", UnknownPathway} }

// SortedKeys lists a count map's keys in order, for stable output.
func SortedKeys(m map[string]int) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func orUnknown(s, unknown string) string {
	if s == "" {
		return unknown
	}
	return s
}

// SitrepCounters are one trust's counters for a period: the open NCTR
// stock (now) and the period's discharge and new-NCTR counters.
type SitrepCounters struct {
	Open       []OpenNCTR
	Discharges []DischargeCount
	NewNCTR    []NewNCTRCount
}

// Add appends o's counters to c (a hub's or the system's report adds its
// trusts').
func (c *SitrepCounters) Add(o SitrepCounters) {
	c.Open = append(c.Open, o.Open...)
	c.Discharges = append(c.Discharges, o.Discharges...)
	c.NewNCTR = append(c.NewNCTR, o.NewNCTR...)
}

// DelaySpell is one stretch of a case's delay history: Reason held from
// From until To (zero To: it still holds).
type DelaySpell struct {
	Reason   string
	From, To time.Time
}

// MinOptions is the fewest placement options that meet demand: a search
// finding fewer is unmet demand (issue 18).
const MinOptions = 3

// Demand is one placement search that found fewer than MinOptions
// options, with no patient identity: the need, the patient's postcode
// district, and the hard filter that excluded most of the nearby
// providers.
type Demand struct {
	At           time.Time
	Outcode      string
	Setting      CareSetting
	Requirements []Requirement
	Options      int
	// TopFilter is the filter that excluded the most candidates ("" when
	// none was excluded: there were too few providers at all).
	TopFilter Filter
}

// TopExclusion is the filter with the highest count, ties broken by the
// filter's code so the answer is stable.
func TopExclusion(counts map[Filter]int) Filter {
	var top Filter
	for f, n := range counts {
		if n > 0 && (n > counts[top] || (n == counts[top] && f < top)) {
			top = f
		}
	}
	return top
}

// WeekOf is the DayNumber of the Monday of d's week: how unmet demand is
// counted, a week at a time.
func WeekOf(d Date) int64 {
	back := (int(d.Weekday()) + 6) % 7
	return DayNumber(d) - int64(back)
}

// DemandCount is one unmet-demand counter: N searches in the week starting
// Week, from district Outcode, for Setting with Requirements, most
// excluded by TopFilter.
type DemandCount struct {
	Week         Date
	Outcode      string
	Setting      CareSetting
	Requirements []Requirement
	TopFilter    Filter
	N            int
}
