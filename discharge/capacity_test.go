package discharge

import (
	"fmt"
	"testing"
	"time"
)

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
	// (mappings.TestValidatePosting: a hospice posting is accepted.)
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
