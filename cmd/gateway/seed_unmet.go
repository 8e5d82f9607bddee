package main

import (
	"context"
	"math/rand/v2"
	"time"

	"github.com/dischargegateway/gateway/adapters/sqlstore"
	"github.com/dischargegateway/gateway/discharge"
)

// seedDistricts are the postcode districts of the synthetic unmet demand:
// Greater Manchester's, where the demo trusts and the demo world are.
var seedDistricts = []string{"M14", "M20", "M8", "SK4", "SK8", "OL1", "BL1", "WN1"}

// seedNeeds are the needs that go short in the synthetic demand, each
// with the hard filters that most often leave it short, in order of
// weight: dementia nursing by vacancy, bariatric care by requirement,
// home care by coverage, and so on.
var seedNeeds = []struct {
	setting discharge.CareSetting
	reqs    []discharge.Requirement
	filters []discharge.Filter
}{
	{discharge.CareNursingDementia, nil, []discharge.Filter{discharge.FilterVacancy, discharge.FilterDistance}},
	{discharge.CareNursing, []discharge.Requirement{discharge.ReqBariatric}, []discharge.Filter{discharge.FilterRequirement, discharge.FilterVacancy}},
	{discharge.CareHomeCare, []discharge.Requirement{discharge.ReqTwoCarers}, []discharge.Filter{discharge.FilterCoverage, discharge.FilterAdmissionDay}},
	{discharge.CareResidentialDementia, []discharge.Requirement{discharge.ReqBehaviourThatChallenges}, []discharge.Filter{discharge.FilterRequirement, discharge.FilterDistance}},
	{discharge.CareD2ABed, nil, []discharge.Filter{discharge.FilterVacancy, discharge.FilterCapacityStale}},
	{discharge.CareNursing, []discharge.Requirement{discharge.ReqPEGFeeding, discharge.ReqHoist}, []discharge.Filter{discharge.FilterRequirement, ""}},
}

// seedUnmetDemand counts synthetic unmet placement searches (those that
// found fewer than three options) for each trust over the last three
// weeks, as placement.Service would have counted them: perTrust searches
// per trust, by district, need and top filter, from seed. No patient is
// behind them; they exist so a hub sees where care is hard to source
// right after `gateway seed`. A trust that already has unmet demand in
// those weeks is left as it is (a second seed adds nothing); the count of
// searches recorded is returned.
func seedUnmetDemand(ctx context.Context, rec *sqlstore.Store, trusts []string, perTrust int, now time.Time, seed uint64) (int, error) {
	counters := sqlstore.NewSitrep(rec)
	today := discharge.ReportingDay(now)
	from := discharge.WeekOf(today) - 14
	// Searches fall between the Monday two weeks back and now, so the
	// check below sees every one a previous seed made.
	span := now.Sub(discharge.DayStart(discharge.DateOfDay(from)))
	recorded := 0
	for i, trust := range trusts {
		have, err := counters.UnmetDemand(ctx, trust, from, discharge.WeekOf(today))
		if err != nil {
			return recorded, err
		}
		if len(have) > 0 {
			continue
		}
		rnd := rand.New(rand.NewPCG(seed, uint64(i)+0x5eed))
		for range perTrust {
			need := seedNeeds[rnd.IntN(len(seedNeeds))]
			// The first filter of a need is its usual one: two in three.
			filter := need.filters[0]
			if rnd.IntN(3) == 0 {
				filter = need.filters[1]
			}
			// Demand leans on the first districts: a few are much harder.
			district := seedDistricts[min(rnd.IntN(len(seedDistricts)), rnd.IntN(len(seedDistricts)))]
			at := now.Add(-time.Duration(rnd.Int64N(int64(span))))
			d := discharge.Demand{At: at, Outcode: district, Setting: need.setting, Requirements: need.reqs, TopFilter: filter}
			if err := counters.RecordDemand(ctx, trust, d); err != nil {
				return recorded, err
			}
			recorded++
		}
	}
	return recorded, nil
}
