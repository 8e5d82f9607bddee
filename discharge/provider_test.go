package discharge

import (
	"math"
	"testing"
	"time"
)

func TestDetained(t *testing.T) {
	for _, tc := range []struct {
		code string
		want bool
	}{
		{"", false},   // no legal status recorded
		{"01", false}, // informal
		{"35", false}, // guardianship, section 7
		{"36", false}, // guardianship, section 37
		{"98", false}, // not applicable
		{"02", true},  // section 2
		{"03", true},  // section 3
		{"20", true},  // section 136
		{"37", true},  // section 45A
		{"99", true},  // not known: fails safe
		{"zz", true},  // not a code the gateway knows: fails safe
		{" 01", true}, // not trimmed: mappings pass codes as sent
	} {
		if got := Detained(tc.code); got != tc.want {
			t.Errorf("Detained(%q) = %v, want %v", tc.code, got, tc.want)
		}
	}
}

func TestDateRangeContains(t *testing.T) {
	r := DateRange{From: Date{2026, 12, 24}, To: Date{2026, 12, 26}}
	for _, tc := range []struct {
		d    Date
		want bool
	}{{Date{2026, 12, 23}, false}, {Date{2026, 12, 24}, true}, {Date{2026, 12, 26}, true}, {Date{2026, 12, 27}, false}} {
		if r.Contains(tc.d) != tc.want {
			t.Errorf("%s: %v", tc.d, !tc.want)
		}
	}
	open := DateRange{From: Date{2026, 12, 24}}
	if !open.Contains(Date{2030, 1, 1}) || open.Contains(Date{2026, 12, 23}) {
		t.Error("open-ended range")
	}
}

func TestAdmitsAndWeekday(t *testing.T) {
	if got := (Date{2026, 11, 24}).Weekday(); got != time.Tuesday {
		t.Fatalf("2026-11-24 is a %s", got)
	}
	weekdays := []AdmissionWindow{{Days: []time.Weekday{time.Monday, time.Tuesday, time.Wednesday, time.Thursday, time.Friday}}}
	for _, tc := range []struct {
		ws   []AdmissionWindow
		d    Date
		want bool
	}{
		{nil, Date{2026, 11, 29}, true}, // no windows: any day
		{weekdays, Date{2026, 11, 24}, true},
		{weekdays, Date{2026, 11, 29}, false}, // Sunday
		{append(weekdays, AdmissionWindow{Days: []time.Weekday{time.Sunday}, Start: "10:00", End: "12:00"}), Date{2026, 11, 29}, true},
		{[]AdmissionWindow{{}}, Date{2026, 11, 24}, false}, // a window with no days admits on none
	} {
		if got := admits(tc.ws, tc.d); got != tc.want {
			t.Errorf("%v on %s: %v", tc.ws, tc.d, got)
		}
	}
}

func TestRefers(t *testing.T) {
	p := Provider{ServiceID: "hs1", LocationID: "loc1", OrganizationID: "org1"}
	for _, tc := range []struct {
		ref  string
		want bool
	}{
		{"HealthcareService/hs1", true}, {"Location/loc1", true}, {"Organization/org1", true},
		{"hs1", true}, {"loc1", true}, {"org1", true},
		{"Location/hs1", false}, {"Organization/loc1", false}, {"Practitioner/hs1", false},
		{"", false}, {"HealthcareService/", false}, {"hs2", false},
	} {
		if got := refers(tc.ref, p); got != tc.want {
			t.Errorf("refers(%q) = %v", tc.ref, got)
		}
	}
	if refers("", Provider{}) {
		t.Error("an empty reference names nobody, even a provider with empty ids")
	}
}

func TestDistanceKm(t *testing.T) {
	manchester := Position{Lat: 53.4808, Lon: -2.2426}
	london := Position{Lat: 51.5074, Lon: -0.1278}
	for _, tc := range []struct {
		name string
		a, b Position
		want float64 // km, from published great-circle figures
		tol  float64
	}{
		{"same point", manchester, manchester, 0, 1e-9},
		{"Manchester to London", manchester, london, 262.0, 1.5},
		{"one degree of latitude", Position{Lat: 0, Lon: 0}, Position{Lat: 1, Lon: 0}, 111.195, 0.01},
		{"antipodes", Position{Lat: 0, Lon: 0}, Position{Lat: 0, Lon: 180}, math.Pi * 6371.0088, 1e-6},
		{"across the antimeridian", Position{Lat: 0, Lon: 179.5}, Position{Lat: 0, Lon: -179.5}, 111.195, 0.01},
	} {
		got := DistanceKm(tc.a, tc.b)
		if math.Abs(got-tc.want) > tc.tol || math.Abs(got-DistanceKm(tc.b, tc.a)) > 1e-9 {
			t.Errorf("%s: %.3f km, want %.3f", tc.name, got, tc.want)
		}
	}
}

func TestPositionValidate(t *testing.T) {
	for _, tc := range []struct {
		p     Position
		paths []string
	}{
		{Position{53.4, -2.2}, nil},
		{Position{90, 180}, nil},
		{Position{-90, -180}, nil},
		{Position{90.1, 0}, []string{"position.latitude"}},
		{Position{0, -180.1}, []string{"position.longitude"}},
		{Position{math.NaN(), math.Inf(1)}, []string{"position.latitude", "position.longitude"}},
	} {
		is := tc.p.Validate("position")
		if len(is) != len(tc.paths) || tc.p.Valid() != (len(tc.paths) == 0) {
			t.Errorf("%+v: %+v", tc.p, is)
			continue
		}
		for i, want := range tc.paths {
			if is[i].Expression != want || is[i].Kind != KindValue {
				t.Errorf("%+v: %+v", tc.p, is[i])
			}
		}
	}
	if is := (Position{Lat: 91}).Validate(""); len(is) != 1 || is[0].Expression != "latitude" {
		t.Errorf("no prefix: %+v", is)
	}
}
