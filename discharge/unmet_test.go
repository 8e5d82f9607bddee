package discharge_test

import (
	"testing"

	"github.com/dischargegateway/gateway/discharge"
)

// Unmet demand folded by hand: two weeks asked for (Mon 16 and Mon 23
// November 2026), counters from two trusts, one outside the period.
func TestComputeUnmetDemand(t *testing.T) {
	w1, w2 := day("2026-11-16"), day("2026-11-23")
	nursing, home := discharge.CareSetting("nursing"), discharge.CareSetting("home-care")
	counts := []discharge.DemandCount{
		// Week 1, M14: 3 nursing dementia (distance top), 2 more of the
		// same need from the other trust, 1 home care with no filter.
		{Week: w1, Outcode: "M14", Setting: nursing, Requirements: []discharge.Requirement{"dementia"}, TopFilter: discharge.FilterDistance, N: 3},
		{Week: w1, Outcode: "M14", Setting: nursing, Requirements: []discharge.Requirement{"dementia"}, TopFilter: discharge.FilterDistance, N: 2},
		{Week: w1, Outcode: "M14", Setting: home, TopFilter: "", N: 1},
		// Week 1, SK4: 4 nursing, requirements out of order, vacancy top.
		{Week: w1, Outcode: "SK4", Setting: nursing, Requirements: []discharge.Requirement{"peg", "bariatric"}, TopFilter: discharge.FilterVacancy, N: 4},
		{Week: w1, Outcode: "SK4", Setting: nursing, Requirements: []discharge.Requirement{"bariatric", "peg"}, TopFilter: discharge.FilterRequirement, N: 1},
		// Week 2: one search in M14.
		{Week: w2, Outcode: "M14", Setting: home, TopFilter: discharge.FilterCoverage, N: 1},
		// Outside: the week before.
		{Week: day("2026-11-09"), Outcode: "M14", Setting: home, N: 9},
	}
	// Any day of the weeks selects them.
	weeks := discharge.ComputeUnmetDemand(day("2026-11-18"), day("2026-11-29"), counts)
	if len(weeks) != 2 || weeks[0].Week != w1 || weeks[1].Week != w2 {
		t.Fatalf("weeks %+v", weeks)
	}
	a := weeks[0]
	if a.Total != 11 || len(a.Districts) != 2 {
		t.Fatalf("week 1 total %d districts %d", a.Total, len(a.Districts))
	}
	m14, sk4 := a.Districts[0], a.Districts[1]
	if m14.Outcode != "M14" || m14.Total != 6 || sk4.Outcode != "SK4" || sk4.Total != 5 {
		t.Fatalf("districts %+v %+v", m14, sk4)
	}
	if m14.TopFilter != discharge.FilterDistance || sk4.TopFilter != discharge.FilterVacancy {
		t.Fatalf("top filters %q %q", m14.TopFilter, sk4.TopFilter)
	}
	// The same need from two trusts is one cell; the none filter and no
	// requirements have names.
	if len(m14.Cells) != 2 || m14.ByFilter[discharge.NoFilter] != 1 || m14.ByRequirements[discharge.NoRequirements] != 1 ||
		m14.ByRequirements["dementia"] != 5 || m14.BySetting["nursing"] != 5 {
		t.Fatalf("M14 %+v", m14)
	}
	if sk4.ByRequirements["bariatric+peg"] != 5 || len(sk4.Cells) != 2 {
		t.Fatalf("SK4 %+v", sk4)
	}
	if weeks[1].Total != 1 || weeks[1].Districts[0].TopFilter != discharge.FilterCoverage {
		t.Fatalf("week 2 %+v", weeks[1])
	}
	// Invariants: every breakdown of every district adds up to its total,
	// and the districts to the week's.
	for _, w := range weeks {
		sum := 0
		for _, d := range w.Districts {
			sum += d.Total
			for name, m := range map[string]map[string]int{"setting": d.BySetting, "requirements": d.ByRequirements, "filter": d.ByFilter} {
				n := 0
				for _, v := range m {
					n += v
				}
				if n != d.Total {
					t.Errorf("%s %s by %s adds to %d, not %d", w.Week, d.Outcode, name, n, d.Total)
				}
			}
			cells := 0
			for _, c := range d.Cells {
				cells += c.N
			}
			if cells != d.Total {
				t.Errorf("%s %s cells add to %d, not %d", w.Week, d.Outcode, cells, d.Total)
			}
		}
		if sum != w.Total {
			t.Errorf("%s districts add to %d, not %d", w.Week, sum, w.Total)
		}
	}
	// An empty period still has its week, with nothing in it.
	if e := discharge.ComputeUnmetDemand(day("2026-12-01"), day("2026-12-01"), counts); len(e) != 1 || e[0].Total != 0 || e[0].Week != day("2026-11-30") {
		t.Fatalf("empty %+v", e)
	}
}
