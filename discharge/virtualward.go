package discharge

import (
	"sort"
	"time"
)

// Virtual wards (issue 18): providers of hospital-level care at home post
// their virtual beds and how many are occupied through the capacity path,
// as a posting with a BedVirtualWard bed (maxCapacity = virtual beds,
// occupied = patients on the ward). The store keeps one row per ward and
// day (its last posting of the day in England, and the day's peak), and
// these rules fold those rows into occupancy against the national target
// per provider, ICB and postcode district, day by day. docs/sitrep.md
// records the decisions.

// BedVirtualWard is a virtual-ward (hospital at home) place. It is the
// gateway's own bed type, not a Capacity Tracker category, and no care
// setting maps to it (BedTypesFor): placement never offers a virtual-ward
// place as a care-home bed. Its postings feed the virtual-ward occupancy
// report only.
const BedVirtualWard BedType = "virtual-ward"

// VirtualWardTargetPercent is NHS England's occupancy target for virtual
// wards: 80 % of the virtual beds in use. A ward below it is under-used.
const VirtualWardTargetPercent = 80

// VirtualWardCarryDays is how many days after its posting day a ward's
// last figures still stand when it has posted nothing since: a ward that
// posts weekly keeps counting; one that stopped posting drops out of the
// report a week later instead of counting forever.
const VirtualWardCarryDays = 7

// WardDay is a virtual ward's figures on one day (England's civil day of
// the postings' as-of times): those of its last posting that day, and the
// highest occupancy any posting of the day reported.
type WardDay struct {
	Location     string
	Day          Date
	Occupied     int
	Capacity     int
	PeakOccupied int
}

// WardPlace is what the report groups a ward by: its name, the postcode
// district of its Location and its integrated care board (ODS code).
// Empty fields are reported as WardUnknown.
type WardPlace struct {
	Name, District, ICB string
}

// WardUnknown is the district or ICB of a ward the directory does not place.
const WardUnknown = "unknown"

// WardFigure is the occupancy of one ward, ICB, district or of all wards
// on one day.
type WardFigure struct {
	// Key is the Location id, ICB code or district; "" for the total.
	Key string
	// Name is the ward's name (wards only).
	Name string
	// Occupied and Capacity add the wards' figures.
	Occupied, Capacity int
	// Peak adds the wards' peak occupancy of the day.
	Peak int
	// Wards counts the wards added.
	Wards int
	// Posted is the day of the figures (wards only): the report day, or an
	// earlier day whose figures are carried forward.
	Posted Date
}

// Percent is the occupancy in percent; 0 when there are no places.
func (f WardFigure) Percent() float64 {
	if f.Capacity <= 0 {
		return 0
	}
	return 100 * float64(f.Occupied) / float64(f.Capacity)
}

// BelowTarget reports whether occupancy is under VirtualWardTargetPercent
// (exactly, in integers). No places at all is not below target: there is
// nothing to fill.
func (f WardFigure) BelowTarget() bool {
	return f.Capacity > 0 && f.Occupied*100 < VirtualWardTargetPercent*f.Capacity
}

// WardDayReport is one day of the virtual-ward report.
type WardDayReport struct {
	Day   Date
	Total WardFigure
	// Wards, ICBs and Districts are sorted by Key.
	Wards, ICBs, Districts []WardFigure
}

// VirtualWardReport is occupancy day by day, oldest first.
type VirtualWardReport struct {
	From, To Date
	Days     []WardDayReport
}

// Last is the report's last day (zero when it has none).
func (r VirtualWardReport) Last() WardDayReport {
	if len(r.Days) == 0 {
		return WardDayReport{}
	}
	return r.Days[len(r.Days)-1]
}

// ComputeVirtualWards folds the wards' daily rows into a report of the days
// from..to. On each day a ward counts with its row of that day, else its
// latest earlier row if no more than VirtualWardCarryDays old; wards with
// neither are left out. keep, when not nil, selects the wards reported.
func ComputeVirtualWards(from, to Date, rows []WardDay, places map[string]WardPlace, keep func(loc string, p WardPlace) bool) VirtualWardReport {
	byLoc := map[string][]WardDay{}
	for _, r := range rows {
		byLoc[r.Location] = append(byLoc[r.Location], r)
	}
	locs := make([]string, 0, len(byLoc))
	placed := make(map[string]WardPlace, len(byLoc))
	for l, rs := range byLoc {
		sort.Slice(rs, func(i, j int) bool { return rs[i].Day.Before(rs[j].Day) })
		p := places[l]
		p.District, p.ICB = orUnknown(p.District, WardUnknown), orUnknown(p.ICB, WardUnknown)
		if p.Name == "" {
			p.Name = l
		}
		placed[l] = p
		if keep == nil || keep(l, p) {
			locs = append(locs, l)
		}
	}
	sort.Strings(locs)
	rep := VirtualWardReport{From: from, To: to}
	if to.Before(from) {
		return rep
	}
	for n := DayNumber(from); n <= DayNumber(to); n++ {
		day := DateOfDay(n)
		dr := WardDayReport{Day: day}
		icbs, districts := map[string]*WardFigure{}, map[string]*WardFigure{}
		for _, l := range locs {
			w, ok := standing(byLoc[l], day)
			if !ok {
				continue
			}
			p := placed[l]
			f := WardFigure{Key: l, Name: p.Name, Occupied: w.Occupied, Capacity: w.Capacity, Peak: w.PeakOccupied, Wards: 1, Posted: w.Day}
			if w.Day != day {
				// Carried forward: nothing was posted that day, so the
				// day's peak is the standing figure.
				f.Peak = w.Occupied
			}
			dr.Wards = append(dr.Wards, f)
			addFigure(&dr.Total, f)
			addTo(icbs, p.ICB, f)
			addTo(districts, p.District, f)
		}
		dr.ICBs, dr.Districts = sortedFigures(icbs), sortedFigures(districts)
		rep.Days = append(rep.Days, dr)
	}
	return rep
}

// standing is the row that stands for a ward on day: the latest on or
// before it, within VirtualWardCarryDays.
func standing(rows []WardDay, day Date) (WardDay, bool) {
	for i := len(rows) - 1; i >= 0; i-- {
		if rows[i].Day.After(day) {
			continue
		}
		if Days(rows[i].Day, day) > VirtualWardCarryDays {
			return WardDay{}, false
		}
		return rows[i], true
	}
	return WardDay{}, false
}

func addFigure(dst *WardFigure, f WardFigure) {
	dst.Occupied += f.Occupied
	dst.Capacity += f.Capacity
	dst.Peak += f.Peak
	dst.Wards += f.Wards
}

func addTo(m map[string]*WardFigure, key string, f WardFigure) {
	g := m[key]
	if g == nil {
		g = &WardFigure{Key: key}
		m[key] = g
	}
	addFigure(g, f)
}

func sortedFigures(m map[string]*WardFigure) []WardFigure {
	out := make([]WardFigure, 0, len(m))
	for _, f := range m {
		out = append(out, *f)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}

// WardDayOf is the day a posting's figures count on: England's civil day
// of its as-of time.
func WardDayOf(asOf time.Time) Date { return ReportingDay(asOf) }

// VirtualWardBeds returns a posting's virtual-ward bed, if it has one.
func (c Capacity) VirtualWardBeds() (BedCapacity, bool) {
	for _, b := range c.Beds {
		if b.Type == BedVirtualWard {
			return b, true
		}
	}
	return BedCapacity{}, false
}
