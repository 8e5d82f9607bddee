package discharge

import (
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
		{"negative count", func(c *Capacity) { c.Beds[0].Occupied = -1 }, KindValue, "beds[0].occupied"},
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
	c := good()
	c.AsOf = now.Add(4 * time.Minute)
	if is := c.Validate(now); len(is) != 0 {
		t.Fatalf("%+v", is)
	}
}

func TestFreshness(t *testing.T) {
	asOf := time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)
	p := DefaultFreshness
	for _, tc := range []struct {
		after time.Duration
		want  Freshness
	}{{0, Fresh}, {23 * time.Hour, Fresh}, {25 * time.Hour, Stale}, {6 * 24 * time.Hour, Stale}, {8 * 24 * time.Hour, Unknown}} {
		if got := p.Of(asOf, asOf.Add(tc.after)); got != tc.want {
			t.Errorf("after %v: %s, want %s", tc.after, got, tc.want)
		}
	}
	if p.Of(time.Time{}, asOf) != Unknown {
		t.Fatal("never posted must be unknown")
	}
}

func TestVacantAndBedTypesFor(t *testing.T) {
	c := Capacity{Beds: []BedCapacity{{Type: BedNursing, MaxCapacity: 5, AcceptingAdmissions: 2}, {Type: BedResidential, MaxCapacity: 5, AcceptingAdmissions: 3, ClosedToAdmissions: true}}}
	if c.Vacant(BedNursing) != 2 || c.Vacant(BedResidential) != 0 || c.Vacant(BedTransitional) != 0 {
		t.Fatal("vacant")
	}
	if got := BedTypesFor(CareNursingDementia); len(got) != 1 || got[0] != BedNursingDementia {
		t.Fatalf("%v", got)
	}
	if BedTypesFor(CareHomeCare) != nil {
		t.Fatal("home care is not bed-based")
	}
	for _, b := range BedTypes() {
		if b.Display == "" || b.Definition == "" || !BedType(b.Code).Valid() {
			t.Fatalf("%+v", b)
		}
	}
}
