package discharge

import (
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
	{string(BedVirtualWard), "Virtual ward", "A virtual-ward (hospital at home) place: maxCapacity is the ward's virtual beds, occupied its patients. Not a Capacity Tracker category and never offered by placement: it feeds the virtual-ward occupancy report (docs/sitrep.md)."},
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
	Type                BedType `validate:"bedtype,firstoftype"`
	MaxCapacity         int     `validate:"gte=0"`
	Occupied            int     `validate:"gte=0"`
	Reserved            int     `validate:"gte=0"`
	AcceptingAdmissions int     `validate:"gte=0"`
	ClosedToAdmissions  bool
}

// HomeCareOffer is home care that can start: hours or packages, by date,
// for the districts served.
type HomeCareOffer struct {
	Outcodes      []string `validate:"min=1,dive,outcode"`
	HoursPerWeek  float64
	Packages      int
	EarliestStart Date
}

// Capacity is one location's current vacancies. Its validate tags, and
// those of BedCapacity and HomeCareOffer, are read by mappings.Validate (see
// validate.go), which also checks what spans fields: a bed type once per
// posting, a bed's counts within its maxCapacity, an offer's hours and
// packages, and its earliestStart.
type Capacity struct {
	LocationID string
	AsOf       time.Time `validate:"instant,notfuture"`
	Version    int64
	Beds       []BedCapacity   `validate:"nonempty_or=HomeCare,dive"`
	HomeCare   []HomeCareOffer `validate:"dive"`
}

// MaxFutureSkew is how far ahead of now an as-of time may be.
const MaxFutureSkew = 5 * time.Minute

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
