package discharge

import (
	"fmt"
	"math"
	"testing"
	"time"
)

func TestCapacityValidate(t *testing.T) {
	now := time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
	good := func() Capacity {
		return Capacity{LocationID: "l", AsOf: now.Add(-time.Hour), Beds: []BedCapacity{
			{Type: BedNursing, MaxCapacity: 30, Occupied: 25, Reserved: 1, AcceptingAdmissions: 4}}}
	}
	if is := good().Validate(now); len(is) != 0 {
		t.Fatalf("valid posting: %+v", is)
	}
	tests := []struct {
		name string
		mut  func(*Capacity)
		kind Kind
		path string
	}{
		{"no asOf", func(c *Capacity) { c.AsOf = time.Time{} }, KindRequired, "asOf"},
		{"asOf in the future", func(c *Capacity) { c.AsOf = now.Add(6 * time.Minute) }, KindValue, "asOf"},
		{"nothing posted", func(c *Capacity) { c.Beds = nil }, KindRequired, "beds"},
		{"unknown bed type", func(c *Capacity) { c.Beds[0].Type = "luxury" }, KindCodeInvalid, "beds[0].type"},
		{"duplicate bed type", func(c *Capacity) { c.Beds = append(c.Beds, c.Beds[0]) }, KindValue, "beds[1].type"},
		{"negative maxCapacity", func(c *Capacity) { c.Beds[0].MaxCapacity = -1 }, KindValue, "beds[0].maxCapacity"},
		{"negative occupied", func(c *Capacity) { c.Beds[0].Occupied = -1 }, KindValue, "beds[0].occupied"},
		{"negative reserved", func(c *Capacity) { c.Beds[0].Reserved = -1 }, KindValue, "beds[0].reserved"},
		{"negative accepting", func(c *Capacity) { c.Beds[0].AcceptingAdmissions = -1 }, KindValue, "beds[0].acceptingAdmissions"},
		{"empty bed type", func(c *Capacity) { c.Beds[0].Type = "" }, KindCodeInvalid, "beds[0].type"},
		{"home care negative hours", func(c *Capacity) {
			c.HomeCare = []HomeCareOffer{{Outcodes: []string{"M14"}, HoursPerWeek: -1, EarliestStart: DateOf(now)}}
		}, KindValue, "homeCare[0]"},
		{"home care NaN hours", func(c *Capacity) {
			c.HomeCare = []HomeCareOffer{{Outcodes: []string{"M14"}, HoursPerWeek: math.NaN(), EarliestStart: DateOf(now)}}
		}, KindValue, "homeCare[0]"},
		{"home care without start", func(c *Capacity) {
			c.HomeCare = []HomeCareOffer{{Outcodes: []string{"M14"}, HoursPerWeek: 10}}
		}, KindRequired, "homeCare[0].earliestStart"},
		{"over capacity", func(c *Capacity) { c.Beds[0].AcceptingAdmissions = 5 }, KindValue, "beds[0]"},
		{"home care without districts", func(c *Capacity) {
			c.HomeCare = []HomeCareOffer{{HoursPerWeek: 10, EarliestStart: DateOf(now)}}
		}, KindRequired, "homeCare[0].outcodes"},
		{"home care bad district", func(c *Capacity) {
			c.HomeCare = []HomeCareOffer{{Outcodes: []string{"NOT A CODE"}, EarliestStart: DateOf(now)}}
		}, KindValue, "homeCare[0].outcodes[0]"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := good()
			tc.mut(&c)
			found := false
			for _, is := range c.Validate(now) {
				if is.Kind == tc.kind && is.Expression == tc.path {
					found = true
				}
			}
			if !found {
				t.Fatalf("no %s at %s: %+v", tc.kind, tc.path, c.Validate(now))
			}
		})
	}
	// Five minutes ahead is tolerated (clock skew), not more.
	for _, ahead := range []time.Duration{4 * time.Minute, 5 * time.Minute} {
		c := good()
		c.AsOf = now.Add(ahead)
		if is := c.Validate(now); len(is) != 0 {
			t.Fatalf("%v ahead: %+v", ahead, is)
		}
	}
	// Exactly full is fine; every count zero is fine.
	c := good()
	c.Beds = append(c.Beds, BedCapacity{Type: BedResidential, MaxCapacity: 3, Occupied: 1, Reserved: 1, AcceptingAdmissions: 1},
		BedCapacity{Type: BedTransitional})
	c.HomeCare = []HomeCareOffer{{Outcodes: []string{"M14", "SK3"}, Packages: 2, EarliestStart: DateOf(now)}}
	if is := c.Validate(now); len(is) != 0 {
		t.Fatalf("%+v", is)
	}
	// Several faults come out in the same order every time.
	bad := good()
	bad.Beds[0] = BedCapacity{Type: BedNursing, MaxCapacity: -1, Occupied: -2, Reserved: -3, AcceptingAdmissions: -4}
	first := fmt.Sprint(bad.Validate(now))
	for range 50 {
		if got := fmt.Sprint(bad.Validate(now)); got != first {
			t.Fatalf("order changed:\n%s\n%s", first, got)
		}
	}
}

func TestVacancy(t *testing.T) {
	c := Capacity{Beds: []BedCapacity{{Type: BedNursing, MaxCapacity: 5, AcceptingAdmissions: 2},
		{Type: BedResidential, MaxCapacity: 5, AcceptingAdmissions: 3, ClosedToAdmissions: true}}}
	for _, tc := range []struct {
		t          BedType
		n, vacant  int
		wantClosed bool
	}{{BedNursing, 2, 2, false}, {BedResidential, 3, 0, true}, {BedTransitional, 0, 0, false}} {
		n, closed := c.Vacancy(tc.t)
		if n != tc.n || closed != tc.wantClosed || c.Vacant(tc.t) != tc.vacant {
			t.Errorf("%s: Vacancy = %d, %v; Vacant = %d", tc.t, n, closed, c.Vacant(tc.t))
		}
	}
}

func TestNewer(t *testing.T) {
	t0 := time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC)
	at := func(d time.Duration, v int64) Capacity { return Capacity{AsOf: t0.Add(d), Version: v} }
	for _, tc := range []struct {
		name           string
		posting, store Capacity
		want           bool
	}{
		{"later figures", at(time.Minute, 0), at(0, 3), true},
		{"earlier figures are ignored", at(-time.Minute, 0), at(0, 3), false},
		{"same moment: a correction replaces", at(0, 0), at(0, 3), true},
		{"same moment, both versioned: higher wins", at(0, 4), at(0, 3), true},
		{"same moment, both versioned: lower loses", at(0, 2), at(0, 3), false},
		{"same moment, same version: no change", at(0, 3), at(0, 3), false},
		{"nothing stored", at(0, 0), Capacity{}, true},
		{"other zone, same instant", Capacity{AsOf: t0.In(time.FixedZone("BST", 3600))}, at(0, 0), true},
	} {
		if got := tc.posting.Newer(tc.store); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestFreshness(t *testing.T) {
	asOf := time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)
	p := DefaultFreshness
	for _, tc := range []struct {
		after time.Duration
		want  Freshness
	}{{-time.Minute, Fresh}, {0, Fresh}, {23 * time.Hour, Fresh}, {24 * time.Hour, Fresh}, {24*time.Hour + time.Second, Stale},
		{6 * 24 * time.Hour, Stale}, {7 * 24 * time.Hour, Stale}, {7*24*time.Hour + time.Second, Unknown}, {8 * 24 * time.Hour, Unknown}} {
		if got := p.Of(asOf, asOf.Add(tc.after)); got != tc.want {
			t.Errorf("after %v: %s, want %s", tc.after, got, tc.want)
		}
	}
	if p.Of(time.Time{}, asOf) != Unknown {
		t.Fatal("never posted must be unknown")
	}
}

func TestBedTypes(t *testing.T) {
	if got := BedTypesFor(CareNursingDementia); len(got) != 1 || got[0] != BedNursingDementia {
		t.Fatalf("%v", got)
	}
	for _, s := range []CareSetting{CareHomeCare, CareReablement, CareVirtualWard} {
		if BedTypesFor(s) != nil {
			t.Fatalf("%s has no Capacity Tracker bed type", s)
		}
	}
	// Hospice beds are the gateway's own bed type, so a hospice need can
	// match a posting (it was always capacity-unknown before).
	if got := BedTypesFor(CareHospice); len(got) != 1 || got[0] != BedHospice {
		t.Fatalf("hospice: %v", got)
	}
	hospice := Capacity{LocationID: "h", AsOf: time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC),
		Beds: []BedCapacity{{Type: BedHospice, MaxCapacity: 12, Occupied: 10, AcceptingAdmissions: 2}}}
	if is := hospice.Validate(hospice.AsOf); len(is) != 0 {
		t.Fatalf("a hospice posting is refused: %+v", is)
	}
	for _, s := range CareSettings() {
		for _, b := range BedTypesFor(CareSetting(s.Code)) {
			if !b.Valid() {
				t.Fatalf("%s: %s", s.Code, b)
			}
		}
	}
	for _, tc := range []struct {
		need CareNeed
		want string
	}{
		{CareNeed{Setting: CareResidential}, "[residential residential-dementia]"},
		{CareNeed{Setting: CareResidential, Requirements: []Requirement{ReqLearningDisability}}, "[residential residential-dementia learning-disability-residential]"},
		{CareNeed{Setting: CareNursingDementia, Requirements: []Requirement{ReqMentalHealth}}, "[nursing-dementia mental-health-nursing]"},
		{CareNeed{Setting: CareD2ABed, Requirements: []Requirement{ReqMentalHealth}}, "[transitional]"},
		{CareNeed{Setting: CareHomeCare, Requirements: []Requirement{ReqMentalHealth}}, "[]"},
		{CareNeed{Setting: CareHospice, Requirements: []Requirement{ReqMentalHealth}}, "[hospice]"},
	} {
		if got := fmt.Sprint(BedTypesForNeed(tc.need)); got != tc.want {
			t.Errorf("%+v: %s, want %s", tc.need, got, tc.want)
		}
	}
	for _, b := range BedTypes() {
		if b.Display == "" || b.Definition == "" || !BedType(b.Code).Valid() {
			t.Fatalf("%+v", b)
		}
	}
}
