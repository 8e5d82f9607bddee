package discharge

import (
	"slices"
	"strings"
)

// NoRequirements names, in a report, the searches that asked for no
// special requirement; NoFilter the searches in which no hard filter
// excluded anyone (there were too few providers at all).
const (
	NoRequirements = "none"
	NoFilter       = "none"
)

// UnmetWeek is the unmet demand of one week (Monday to Sunday, England)
// over some trusts: placement searches that found fewer than MinOptions
// options, by postcode district.
type UnmetWeek struct {
	Week  Date // its Monday
	Total int
	// Districts are the districts with unmet demand, most searches first
	// (ties by outcode).
	Districts []DistrictUnmet
}

// DistrictUnmet is one postcode district's unmet demand in a week.
type DistrictUnmet struct {
	Outcode string
	Total   int
	// BySetting, ByRequirements (sorted requirements joined by "+", or
	// NoRequirements) and ByFilter (the hard filter that excluded most
	// candidates of each search, or NoFilter) each add up to Total.
	BySetting, ByRequirements, ByFilter map[string]int
	// TopFilter is the filter that most often excluded the most providers
	// near this district's patients (ties by code); "" when no search had
	// one.
	TopFilter Filter
	// Cells are the counters, one per need and top filter, sorted.
	Cells []DemandCount
}

// RequirementsKey is how a report names a set of requirements: sorted,
// joined by "+"; NoRequirements when there are none.
func RequirementsKey(rs []Requirement) string {
	if len(rs) == 0 {
		return NoRequirements
	}
	s := make([]string, len(rs))
	for i, r := range rs {
		s[i] = string(r)
	}
	slices.Sort(s)
	return strings.Join(s, "+")
}

// FilterKey is how a report names a search's top filter: NoFilter for "".
func FilterKey(f Filter) string {
	if f == "" {
		return NoFilter
	}
	return string(f)
}

// ComputeUnmetDemand folds unmet-demand counters (of one or more trusts)
// into one UnmetWeek per week from the week of from to the week of to,
// empty weeks included, so a series has no gaps. Counters outside those
// weeks are ignored.
func ComputeUnmetDemand(from, to Date, counts []DemandCount) []UnmetWeek {
	first, last := WeekOf(from), WeekOf(to)
	var weeks []UnmetWeek
	index := map[int64]int{}
	for w := first; w <= last; w += 7 {
		index[w] = len(weeks)
		weeks = append(weeks, UnmetWeek{Week: DateOfDay(w)})
	}
	type key struct {
		week    int64
		outcode string
	}
	districts := map[key]*DistrictUnmet{}
	cells := map[key]map[string]int{} // cell key -> index in Cells
	for _, c := range counts {
		w := WeekOf(c.Week)
		i, ok := index[w]
		if !ok || c.N <= 0 {
			continue
		}
		k := key{w, c.Outcode}
		d := districts[k]
		if d == nil {
			d = &DistrictUnmet{Outcode: c.Outcode, BySetting: map[string]int{}, ByRequirements: map[string]int{}, ByFilter: map[string]int{}}
			districts[k] = d
			cells[k] = map[string]int{}
		}
		weeks[i].Total += c.N
		d.Total += c.N
		req := RequirementsKey(c.Requirements)
		d.BySetting[string(c.Setting)] += c.N
		d.ByRequirements[req] += c.N
		d.ByFilter[FilterKey(c.TopFilter)] += c.N
		// The same need may come from several trusts: one cell.
		ck := string(c.Setting) + "\x00" + req + "\x00" + string(c.TopFilter)
		if j, ok := cells[k][ck]; ok {
			d.Cells[j].N += c.N
			continue
		}
		cells[k][ck] = len(d.Cells)
		cell := c
		cell.Week = DateOfDay(w)
		cell.Requirements = slices.Clone(c.Requirements)
		slices.Sort(cell.Requirements)
		d.Cells = append(d.Cells, cell)
	}
	for k, d := range districts {
		byFilter := map[Filter]int{}
		for f, n := range d.ByFilter {
			if f != NoFilter {
				byFilter[Filter(f)] = n
			}
		}
		d.TopFilter = TopExclusion(byFilter)
		slices.SortFunc(d.Cells, func(a, b DemandCount) int {
			return strings.Compare(string(a.Setting)+"\x00"+RequirementsKey(a.Requirements)+"\x00"+string(a.TopFilter),
				string(b.Setting)+"\x00"+RequirementsKey(b.Requirements)+"\x00"+string(b.TopFilter))
		})
		i := index[k.week]
		weeks[i].Districts = append(weeks[i].Districts, *d)
	}
	for i := range weeks {
		slices.SortFunc(weeks[i].Districts, func(a, b DistrictUnmet) int {
			if a.Total != b.Total {
				return b.Total - a.Total
			}
			return strings.Compare(a.Outcode, b.Outcode)
		})
	}
	return weeks
}
