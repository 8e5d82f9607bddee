package discharge

import (
	"fmt"
	"slices"
	"time"
)

// BedType is a Capacity Tracker bed category.
type BedType string

// The Capacity Tracker bed categories (DOMAIN.md).
const (
	BedResidential             BedType = "residential"
	BedResidentialDementia     BedType = "residential-dementia"
	BedNursing                 BedType = "nursing"
	BedNursingDementia         BedType = "nursing-dementia"
	BedLearningDisabilityRes   BedType = "learning-disability-residential"
	BedLearningDisabilityNurs  BedType = "learning-disability-nursing"
	BedMentalHealthResidential BedType = "mental-health-residential"
	BedMentalHealthNursing     BedType = "mental-health-nursing"
	BedTransitional            BedType = "transitional"
	BedYoungPhysicallyDisabled BedType = "young-physically-disabled"
	// BedHospice is not a Capacity Tracker category: hospices are outside
	// the mandate, so the gateway takes their in-patient beds as its own
	// bed type, posted like any other.
	BedHospice BedType = "hospice"
)

var bedTypes = []Concept{
	{string(BedResidential), "Residential", "A residential care home bed for older people without nursing care."},
	{string(BedResidentialDementia), "Residential (dementia)", "A residential care home bed registered for people living with dementia."},
	{string(BedNursing), "Nursing", "A nursing home bed with 24-hour registered nursing care."},
	{string(BedNursingDementia), "Nursing (dementia)", "A nursing home bed registered for people living with dementia."},
	{string(BedLearningDisabilityRes), "Learning disability (residential)", "A residential bed for adults with a learning disability or autism."},
	{string(BedLearningDisabilityNurs), "Learning disability (nursing)", "A nursing bed for adults with a learning disability or autism."},
	{string(BedMentalHealthResidential), "Mental health (residential)", "A residential bed for adults with mental health needs."},
	{string(BedMentalHealthNursing), "Mental health (nursing)", "A nursing bed for adults with mental health needs."},
	{string(BedTransitional), "Transitional / short stay", "A short-stay bed: discharge to assess (D2A), intermediate care, reablement or respite."},
	{string(BedYoungPhysicallyDisabled), "Young physically disabled", "A bed for physically disabled adults aged 18 to 65."},
	{string(BedHospice), "Hospice", "A hospice in-patient bed for specialist palliative or end-of-life care. Not a Capacity Tracker category: the gateway's own, posted by hospices directly."},
}

// BedTypes lists the bed categories with display and definition.
func BedTypes() []Concept { return clone(bedTypes) }

// Valid reports whether t is a known bed category.
func (t BedType) Valid() bool { return has(bedTypes, string(t)) }

// BedTypesFor returns the bed categories that can serve a care setting;
// nil for settings that are not bed-based (home care, reablement at home,
// virtual ward), which post HomeCareOffers instead.
//
// Hospice beds are the gateway's own category (BedHospice), since the
// Capacity Tracker does not collect them; only a hospice bed serves a
// hospice need. A residential need may take a dementia bed (a home registered for
// dementia also takes other residents); the reverse is not true. The
// learning-disability and mental-health categories serve a need only when
// it names that requirement: see BedTypesForNeed. Young physically disabled
// beds have no care setting or requirement that asks for them yet.
func BedTypesFor(s CareSetting) []BedType {
	switch s {
	case CareResidential:
		return []BedType{BedResidential, BedResidentialDementia}
	case CareResidentialDementia:
		return []BedType{BedResidentialDementia}
	case CareNursing:
		return []BedType{BedNursing, BedNursingDementia}
	case CareNursingDementia:
		return []BedType{BedNursingDementia}
	case CareD2ABed, CareIntermediateBed:
		return []BedType{BedTransitional}
	case CareHospice:
		return []BedType{BedHospice}
	}
	return nil
}

// BedTypesForNeed is BedTypesFor(n.Setting) widened by the specialist
// categories the need's requirements call for: a residential need with the
// learning-disability requirement may also take a learning-disability
// residential bed, and likewise for mental health and for nursing. A need
// without the requirement never gets a specialist bed. Nil when the setting
// is not bed-based.
func BedTypesForNeed(n CareNeed) []BedType {
	out := BedTypesFor(n.Setting)
	if out == nil {
		return nil
	}
	residential := slices.Contains(out, BedResidential) || slices.Contains(out, BedResidentialDementia)
	nursing := slices.Contains(out, BedNursing) || slices.Contains(out, BedNursingDementia)
	if n.Has(ReqLearningDisability) {
		if residential {
			out = append(out, BedLearningDisabilityRes)
		}
		if nursing {
			out = append(out, BedLearningDisabilityNurs)
		}
	}
	if n.Has(ReqMentalHealth) {
		if residential {
			out = append(out, BedMentalHealthResidential)
		}
		if nursing {
			out = append(out, BedMentalHealthNursing)
		}
	}
	return out
}

// BedCapacity is the DHSC mandate's four fields for one bed type, plus
// whether the home is closed to admissions for it.
type BedCapacity struct {
	Type                BedType
	MaxCapacity         int
	Occupied            int
	Reserved            int
	AcceptingAdmissions int
	ClosedToAdmissions  bool
}

// HomeCareOffer is home care that can start: hours or packages, by date,
// for the districts served.
type HomeCareOffer struct {
	Outcodes      []string
	HoursPerWeek  float64
	Packages      int
	EarliestStart Date
}

// Capacity is one location's current vacancies.
type Capacity struct {
	LocationID string
	AsOf       time.Time
	Version    int64
	Beds       []BedCapacity
	HomeCare   []HomeCareOffer
}

// MaxFutureSkew is how far ahead of now an as-of time may be.
const MaxFutureSkew = 5 * time.Minute

// Validate checks a posting. Paths are the model's (beds[1].occupied, see
// validate.go); capacity.Service.Post renames them for the shape the
// posting came in (MeasureReport elements, CSV columns) and keeps them for
// the JSON API, whose wire names are the same.
func (c Capacity) Validate(now time.Time) Issues {
	var is Issues
	switch {
	case c.AsOf.IsZero():
		is.Add(KindRequired, "asOf", "asOf, the time the figures were true, is required.")
	case c.AsOf.After(now.Add(MaxFutureSkew)):
		is.Add(KindValue, "asOf", "asOf is more than 5 minutes in the future.")
	}
	if len(c.Beds) == 0 && len(c.HomeCare) == 0 {
		is.Add(KindRequired, "beds", "A posting needs beds or homeCare.")
	}
	seen := map[BedType]bool{}
	for i, b := range c.Beds {
		at := fmt.Sprintf("beds[%d]", i)
		if !b.Type.Valid() {
			is.Add(KindCodeInvalid, at+".type", fmt.Sprintf("Unknown bed type %q: use the gateway's bed-type code system.", b.Type))
		} else if seen[b.Type] {
			is.Add(KindValue, at+".type", fmt.Sprintf("Bed type %q appears twice.", b.Type))
		}
		seen[b.Type] = true
		// A slice, not a map, so the issues come out in the same order
		// every time.
		for _, f := range []struct {
			name string
			n    int
		}{{"maxCapacity", b.MaxCapacity}, {"occupied", b.Occupied}, {"reserved", b.Reserved}, {"acceptingAdmissions", b.AcceptingAdmissions}} {
			if f.n < 0 {
				is.Add(KindValue, at+"."+f.name, f.name+" must be 0 or more.")
			}
		}
		if b.Occupied+b.Reserved+b.AcceptingAdmissions > b.MaxCapacity {
			is.Add(KindValue, at, "occupied + reserved + acceptingAdmissions exceeds maxCapacity.")
		}
	}
	for i, h := range c.HomeCare {
		at := fmt.Sprintf("homeCare[%d]", i)
		if len(h.Outcodes) == 0 {
			is.Add(KindRequired, at+".outcodes", "Home care is posted for the districts it serves.")
		}
		for j, o := range h.Outcodes {
			if !ValidOutcode(o) {
				is.Add(KindValue, fmt.Sprintf("%s.outcodes[%d]", at, j), "Not a postcode district (outcode).")
			}
		}
		if !(h.HoursPerWeek >= 0) || h.Packages < 0 { // NaN hours fail too
			is.Add(KindValue, at, "hoursPerWeek and packages must be 0 or more.")
		}
		if h.EarliestStart.IsZero() {
			is.Add(KindRequired, at+".earliestStart", "earliestStart is required.")
		}
	}
	return is
}

// Vacant returns the vacancies accepting admissions for a bed type; zero
// when closed to admissions. Vacancy tells the two apart.
func (c Capacity) Vacant(t BedType) int {
	n, closed := c.Vacancy(t)
	if closed {
		return 0
	}
	return n
}

// Vacancy returns the beds of type t posted as vacant and accepting
// admissions, and whether the home has closed that bed type to admissions.
// A bed type not posted is (0, false). accepting is as posted even when
// closed: a closed home's figure is kept for the explanation, never used.
func (c Capacity) Vacancy(t BedType) (accepting int, closed bool) {
	for _, b := range c.Beds {
		if b.Type == t {
			return b.AcceptingAdmissions, b.ClosedToAdmissions
		}
	}
	return 0, false
}

// Newer reports whether posting c should replace stored, the location's
// current capacity. Figures that were true earlier never overwrite later
// ones, so a posting with an older AsOf is ignored. An equal AsOf replaces:
// it is a correction of the same moment's figures, and the posting that
// arrives later wins (rediscache applies the same rule atomically). When
// both carry a store-assigned Version (comparing two stored snapshots), an
// equal AsOf is decided by the higher Version instead.
func (c Capacity) Newer(stored Capacity) bool {
	switch {
	case c.AsOf.After(stored.AsOf):
		return true
	case c.AsOf.Before(stored.AsOf):
		return false
	case c.Version != 0 && stored.Version != 0:
		return c.Version > stored.Version
	}
	return true
}
