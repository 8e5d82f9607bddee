package discharge_test

import (
	"slices"
	"testing"
	"time"

	"github.com/dischargegateway/gateway/discharge"
)

func d(s string) discharge.Date {
	x, err := discharge.ParseDate(s)
	if err != nil {
		panic(err)
	}
	return x
}

// wardFixture: four wards over three report days, computed by hand below.
// W1 exactly at 80 % on day 1 (not below target); W4 is not placed by the
// directory and its posting of 16 Nov stands for 7 days (to 23 Nov) only.
func wardFixture() ([]discharge.WardDay, map[string]discharge.WardPlace) {
	rows := []discharge.WardDay{
		{Location: "W1", Day: d("2026-11-25"), Occupied: 12, Capacity: 20, PeakOccupied: 15},
		{Location: "W1", Day: d("2026-11-23"), Occupied: 16, Capacity: 20, PeakOccupied: 18},
		{Location: "W2", Day: d("2026-11-23"), Occupied: 9, Capacity: 10, PeakOccupied: 9},
		{Location: "W3", Day: d("2026-11-24"), Occupied: 5, Capacity: 10, PeakOccupied: 7},
		{Location: "W4", Day: d("2026-11-16"), Occupied: 1, Capacity: 4, PeakOccupied: 1},
	}
	places := map[string]discharge.WardPlace{
		"W1": {Name: "Alpha", District: "M14", ICB: "QOP"},
		"W2": {Name: "Beta", District: "M14", ICB: "QOP"},
		"W3": {Name: "Gamma", District: "SK3", ICB: "QWO"},
	}
	return rows, places
}

type fig struct {
	key                      string
	occupied, capacity, peak int
	below                    bool
}

func figs(fs []discharge.WardFigure) []fig {
	out := make([]fig, len(fs))
	for i, f := range fs {
		out[i] = fig{f.Key, f.Occupied, f.Capacity, f.Peak, f.BelowTarget()}
	}
	return out
}

func TestComputeVirtualWards(t *testing.T) {
	rows, places := wardFixture()
	rep := discharge.ComputeVirtualWards(d("2026-11-23"), d("2026-11-25"), rows, places, nil)
	if len(rep.Days) != 3 {
		t.Fatalf("days: %d", len(rep.Days))
	}
	want := []struct {
		total              fig
		wards, icbs, dists []fig
	}{
		{ // 23 Nov: W1 16/20, W2 9/10, W4 1/4 (posted 7 days before)
			total: fig{"", 26, 34, 28, true},
			wards: []fig{{"W1", 16, 20, 18, false}, {"W2", 9, 10, 9, false}, {"W4", 1, 4, 1, true}},
			icbs:  []fig{{"QOP", 25, 30, 27, false}, {"unknown", 1, 4, 1, true}},
			dists: []fig{{"M14", 25, 30, 27, false}, {"unknown", 1, 4, 1, true}},
		},
		{ // 24 Nov: W1, W2 carried (peak = standing figure), W3 posts, W4 too old
			total: fig{"", 30, 40, 32, true},
			wards: []fig{{"W1", 16, 20, 16, false}, {"W2", 9, 10, 9, false}, {"W3", 5, 10, 7, true}},
			icbs:  []fig{{"QOP", 25, 30, 25, false}, {"QWO", 5, 10, 7, true}},
			dists: []fig{{"M14", 25, 30, 25, false}, {"SK3", 5, 10, 7, true}},
		},
		{ // 25 Nov: W1 posts 12/20, W2 and W3 carried
			total: fig{"", 26, 40, 29, true},
			wards: []fig{{"W1", 12, 20, 15, true}, {"W2", 9, 10, 9, false}, {"W3", 5, 10, 5, true}},
			icbs:  []fig{{"QOP", 21, 30, 24, true}, {"QWO", 5, 10, 5, true}},
			dists: []fig{{"M14", 21, 30, 24, true}, {"SK3", 5, 10, 5, true}},
		},
	}
	for i, w := range want {
		day := rep.Days[i]
		got := figs([]discharge.WardFigure{day.Total})[0]
		if got != w.total || !slices.Equal(figs(day.Wards), w.wards) || !slices.Equal(figs(day.ICBs), w.icbs) || !slices.Equal(figs(day.Districts), w.dists) {
			t.Errorf("%s:\n got %+v %+v %+v %+v\nwant %+v %+v %+v %+v", day.Day, got, figs(day.Wards), figs(day.ICBs), figs(day.Districts), w.total, w.wards, w.icbs, w.dists)
		}
		// Invariant: the ICB and district roll-ups add up to the total.
		for _, roll := range [][]discharge.WardFigure{day.ICBs, day.Districts, day.Wards} {
			var o, c int
			for _, f := range roll {
				o, c = o+f.Occupied, c+f.Capacity
			}
			if o != day.Total.Occupied || c != day.Total.Capacity {
				t.Errorf("%s: roll-up %d/%d, total %d/%d", day.Day, o, c, day.Total.Occupied, day.Total.Capacity)
			}
		}
	}
	if rep.Days[1].Wards[0].Posted != d("2026-11-23") || rep.Days[1].Wards[2].Posted != d("2026-11-24") {
		t.Errorf("posted days: %+v", rep.Days[1].Wards)
	}
	if rep.Last().Day != d("2026-11-25") || rep.Days[0].Wards[0].Name != "Alpha" || rep.Days[0].Wards[2].Name != "W4" {
		t.Errorf("last day or names: %+v", rep.Last())
	}
	if p := rep.Days[1].Total.Percent(); p != 75 {
		t.Errorf("percent: %v", p)
	}
	// A filter keeps one ICB's wards.
	qop := discharge.ComputeVirtualWards(d("2026-11-25"), d("2026-11-25"), rows, places,
		func(_ string, p discharge.WardPlace) bool { return p.ICB == "QOP" })
	if got := figs([]discharge.WardFigure{qop.Last().Total})[0]; got != (fig{"", 21, 30, 24, true}) {
		t.Errorf("QOP only: %+v", got)
	}
	// The caller's map is not changed.
	if _, ok := places["W4"]; ok {
		t.Error("ComputeVirtualWards wrote into the caller's places")
	}
}

func TestWardTargetBoundary(t *testing.T) {
	for _, c := range []struct {
		occ, cap int
		below    bool
	}{{8, 10, false}, {7, 10, true}, {79, 100, true}, {80, 100, false}, {0, 0, false}, {0, 1, true}, {5, 4, false}} {
		if got := (discharge.WardFigure{Occupied: c.occ, Capacity: c.cap}).BelowTarget(); got != c.below {
			t.Errorf("%d/%d: below %v", c.occ, c.cap, got)
		}
	}
}

// TestVirtualWardNeverPlaced: no care need, with any requirements, is
// offered a virtual-ward place as a bed.
func TestVirtualWardNeverPlaced(t *testing.T) {
	var reqs []discharge.Requirement
	for _, r := range discharge.Requirements() {
		reqs = append(reqs, discharge.Requirement(r.Code))
	}
	for _, s := range discharge.CareSettings() {
		n := discharge.CareNeed{Setting: discharge.CareSetting(s.Code), Requirements: reqs}
		if slices.Contains(discharge.BedTypesForNeed(n), discharge.BedVirtualWard) {
			t.Errorf("%s is offered virtual-ward places", s.Code)
		}
	}
	if !discharge.BedVirtualWard.Valid() {
		t.Error("virtual-ward is not a bed type")
	}
	if got := discharge.WardDayOf(time.Date(2026, 6, 1, 23, 30, 0, 0, time.UTC)); got != d("2026-06-02") {
		t.Errorf("23:30 UTC in June is the next day in England: %s", got)
	}
}
