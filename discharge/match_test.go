package discharge

import (
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// now is a Tuesday.
var now = time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)

func km(f float64) *float64 { return &f }

func nursingProvider(id string, d float64, accepting int, rating, contract string) Candidate {
	return Candidate{
		Provider: Provider{ServiceID: id, LocationID: "L" + id, OrganizationID: "O" + id, Active: true,
			Settings: []CareSetting{CareNursing}, Specialisms: []Requirement{ReqDementia, ReqHoist},
			Fundings: []Funding{FundLocalAuthority, FundCHC}, Rating: rating, Contract: contract},
		Capacity:   &Capacity{LocationID: "L" + id, AsOf: now.Add(-time.Hour), Beds: []BedCapacity{{Type: BedNursing, MaxCapacity: 30, Occupied: 30 - accepting, AcceptingAdmissions: accepting}}},
		DistanceKm: km(d),
	}
}

func nursingRequest() MatchRequest {
	return MatchRequest{Need: CareNeed{Setting: CareNursing, Requirements: []Requirement{ReqDementia}, Funding: FundCHC},
		Date: DateOf(now), RadiusKm: 25, Now: now, Freshness: DefaultFreshness, Weights: DefaultWeights, Explain: true}
}

func homeCareProvider(id string, hours float64, packages int) Candidate {
	return Candidate{
		Provider: Provider{ServiceID: id, LocationID: "L" + id, OrganizationID: "O" + id, Active: true,
			Settings: []CareSetting{CareHomeCare}, Coverage: []string{"M14", "M20"}, Rating: RatingGood},
		Capacity: &Capacity{LocationID: "L" + id, AsOf: now.Add(-time.Hour), HomeCare: []HomeCareOffer{
			{Outcodes: []string{"M14"}, HoursPerWeek: hours, Packages: packages, EarliestStart: DateOf(now)}}},
	}
}

func homeCareRequest(hours *float64) MatchRequest {
	return MatchRequest{Need: CareNeed{Setting: CareHomeCare, HoursPerWeek: hours}, Date: DateOf(now), PatientOutcode: "M14",
		RadiusKm: 10, Now: now, Freshness: DefaultFreshness, Weights: DefaultWeights, Explain: true}
}

// TestRankingFixture: hand-built providers with a known order.
func TestRankingFixture(t *testing.T) {
	cands := []Candidate{
		nursingProvider("far-outstanding-block", 20, 2, RatingOutstanding, ContractBlock),
		nursingProvider("near-good-spot", 2, 1, RatingGood, ContractSpot),
		nursingProvider("near-good-block", 2, 1, RatingGood, ContractBlock),
		nursingProvider("mid-inadequate-spot", 8, 5, RatingInadequate, ContractSpot),
		nursingProvider("no-vacancy", 1, 0, RatingOutstanding, ContractBlock),
		nursingProvider("too-far", 30, 3, RatingOutstanding, ContractBlock),
		// Same as near-good-spot but the patient prefers it: preference (.1)
		// outweighs block (.15)? No: .64 + .1 = .74 < .79, so it lands
		// between near-good-block and near-good-spot.
		nursingProvider("near-good-spot-preferred", 2, 1, RatingGood, ContractSpot),
	}
	req := nursingRequest()
	req.Need.PreferredProviders = []string{"HealthcareService/near-good-spot-preferred"}
	res := Match(req, cands)
	// With the default weights (distance .35, freshness .15, contract .15,
	// quality .2, preference .1, acceptance .05) and figures an hour old
	// (freshness 23/24 = .9583), radius 25:
	//   near-good-block          .35*.92 + .15*.9583 + .15*1 + .2*.75 + .05*.5         = .7907
	//   near-good-spot-preferred .35*.92 + .15*.9583 + .2*.75 + .1*1 + .05*.5          = .7407
	//   near-good-spot           .35*.92 + .15*.9583 + .2*.75 + .05*.5                 = .6407
	//   far-outstanding-block    .35*.2  + .15*.9583 + .15*1 + .2*1  + .05*.5           = .5887
	//   mid-inadequate-spot      .35*.68 + .15*.9583                 + .05*.5           = .4067
	// no-vacancy (1 km) fails vacancy; too-far (30 km) fails distance.
	want := []string{"near-good-block", "near-good-spot-preferred", "near-good-spot", "far-outstanding-block", "mid-inadequate-spot"}
	if got := ids(res.Matches); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("order %v, want %v", got, want)
	}
	wantScores := []float64{0.7907, 0.7408, 0.6408, 0.5888, 0.4068}
	for i, m := range res.Matches {
		if math.Abs(m.Score-wantScores[i]) > 0.0002 {
			t.Errorf("%s: score %v, want about %v (%+v)", m.Provider.ServiceID, m.Score, wantScores[i], m.Components)
		}
	}
	if res.Counts["vacancy"] != 1 || res.Counts["distance"] != 1 || len(res.Excluded) != 2 ||
		res.Excluded[0].Filter != "vacancy" || res.Excluded[1].Filter != "distance" {
		t.Fatalf("exclusions %+v %+v", res.Counts, res.Excluded)
	}
	// Without Explain only the counts remain; Limit truncates.
	req.Explain, req.Limit = false, 2
	res = Match(req, cands)
	if len(res.Excluded) != 0 || res.Counts["vacancy"] != 1 || fmt.Sprint(ids(res.Matches)) != fmt.Sprint(want[:2]) {
		t.Fatalf("no explain, limit 2: %v %+v %+v", ids(res.Matches), res.Excluded, res.Counts)
	}
}

// TestFilters: one candidate per row, changed from a passing one so that it
// fails exactly the named filter (or, where two fail, the earlier one).
func TestFilters(t *testing.T) {
	tuesday := DateOf(now)
	tests := []struct {
		name   string
		home   bool // start from the home-care pair instead of nursing
		mutReq func(*MatchRequest)
		mutC   func(*Candidate)
		filter Filter // "" = matches
	}{
		{name: "passes", filter: ""},
		{name: "inactive", mutC: func(c *Candidate) { c.Provider.Active = false }, filter: "inactive"},
		{name: "inactive before setting", mutC: func(c *Candidate) { c.Provider.Active = false; c.Provider.Settings = nil }, filter: "inactive"},
		{name: "setting", mutC: func(c *Candidate) { c.Provider.Settings = []CareSetting{CareResidential} }, filter: "setting"},
		{name: "requirement missing", mutReq: func(r *MatchRequest) { r.Need.Requirements = append(r.Need.Requirements, ReqBariatric) }, filter: "requirement"},
		{name: "funding", mutReq: func(r *MatchRequest) { r.Need.Funding = FundSelf }, filter: "funding"},
		{name: "no funding named", mutReq: func(r *MatchRequest) { r.Need.Funding = "" }, filter: ""},
		{name: "excluded by service reference", mutReq: func(r *MatchRequest) { r.Need.ExcludedProviders = []string{"HealthcareService/a"} }, filter: "excluded"},
		{name: "excluded by location reference", mutReq: func(r *MatchRequest) { r.Need.ExcludedProviders = []string{"Location/La"} }, filter: "excluded"},
		{name: "excluded by organization reference", mutReq: func(r *MatchRequest) { r.Need.ExcludedProviders = []string{"Organization/Oa"} }, filter: "excluded"},
		{name: "excluded by bare id", mutReq: func(r *MatchRequest) { r.Need.ExcludedProviders = []string{"Oa"} }, filter: "excluded"},
		{name: "wrong type of reference", mutReq: func(r *MatchRequest) { r.Need.ExcludedProviders = []string{"Location/a", "Organization/La", ""} }, filter: ""},
		{name: "detained s2", mutReq: func(r *MatchRequest) { r.Case = &Case{LegalStatus: "02"} }, filter: "legal-status"},
		{name: "detained, accepted", mutReq: func(r *MatchRequest) { r.Case = &Case{LegalStatus: "03"} }, mutC: func(c *Candidate) { c.Provider.AcceptsDetained = true }, filter: ""},
		{name: "informal", mutReq: func(r *MatchRequest) { r.Case = &Case{LegalStatus: "01"} }, filter: ""},
		{name: "not known counts as detained", mutReq: func(r *MatchRequest) { r.Case = &Case{LegalStatus: "99"} }, filter: "legal-status"},
		{name: "too far", mutC: func(c *Candidate) { c.DistanceKm = km(25.01) }, filter: "distance"},
		{name: "at the radius", mutC: func(c *Candidate) { c.DistanceKm = km(25) }, filter: ""},
		{name: "no distance", mutC: func(c *Candidate) { c.DistanceKm = nil }, filter: "distance"},
		{name: "distance from origin", mutReq: func(r *MatchRequest) { r.Origin = &Position{Lat: 53.4808, Lon: -2.2426} },
			mutC: func(c *Candidate) { c.DistanceKm = nil; c.Provider.Position = &Position{Lat: 53.4106, Lon: -2.1575} }, filter: ""},
		{name: "origin too far", mutReq: func(r *MatchRequest) { r.Origin = &Position{Lat: 51.5074, Lon: -0.1278} },
			mutC: func(c *Candidate) { c.DistanceKm = nil; c.Provider.Position = &Position{Lat: 53.4106, Lon: -2.1575} }, filter: "distance"},
		{name: "admission weekdays only, on a Saturday", mutReq: func(r *MatchRequest) { r.Date = Date{2026, 11, 28} },
			mutC: func(c *Candidate) {
				c.Provider.Admission = []AdmissionWindow{{Days: []time.Weekday{time.Monday, time.Friday}, AllDay: true}}
			}, filter: "admission-day"},
		{name: "admission second window", mutC: func(c *Candidate) {
			c.Provider.Admission = []AdmissionWindow{{Days: []time.Weekday{time.Monday}}, {Days: []time.Weekday{time.Tuesday}, Start: "10:00", End: "16:00"}}
		}, filter: ""},
		{name: "closure covers the date", mutC: func(c *Candidate) { c.Provider.NotAvailable = []DateRange{{From: Date{2026, 11, 20}, To: tuesday}} }, filter: "not-available"},
		{name: "closure ended the day before", mutC: func(c *Candidate) {
			c.Provider.NotAvailable = []DateRange{{From: Date{2026, 11, 20}, To: Date{2026, 11, 23}}}
		}, filter: ""},
		{name: "open-ended closure", mutC: func(c *Candidate) { c.Provider.NotAvailable = []DateRange{{From: Date{2026, 11, 1}}} }, filter: "not-available"},
		{name: "no capacity", mutC: func(c *Candidate) { c.Capacity = nil }, filter: "capacity-unknown"},
		{name: "capacity expired", mutC: func(c *Candidate) { c.Capacity.AsOf = now.Add(-8 * 24 * time.Hour) }, filter: "capacity-unknown"},
		{name: "capacity stale", mutC: func(c *Candidate) { c.Capacity.AsOf = now.Add(-25 * time.Hour) }, filter: "capacity-stale"},
		{name: "stale included", mutReq: func(r *MatchRequest) { r.IncludeStale = true }, mutC: func(c *Candidate) { c.Capacity.AsOf = now.Add(-25 * time.Hour) }, filter: ""},
		{name: "closed", mutC: func(c *Candidate) { c.Capacity.Beds[0].ClosedToAdmissions = true }, filter: "closed"},
		{name: "no vacancy", mutC: func(c *Candidate) { c.Capacity.Beds[0].AcceptingAdmissions = 0 }, filter: "vacancy"},
		{name: "vacancy in the wrong bed type", mutC: func(c *Candidate) { c.Capacity.Beds[0].Type = BedResidential }, filter: "vacancy"},
		{name: "dementia nursing bed serves nursing", mutC: func(c *Candidate) { c.Capacity.Beds[0].Type = BedNursingDementia }, filter: ""},
		{name: "mental-health bed without the requirement", mutC: func(c *Candidate) { c.Capacity.Beds[0].Type = BedMentalHealthNursing }, filter: "vacancy"},
		{name: "mental-health bed with the requirement", mutReq: func(r *MatchRequest) { r.Need.Requirements = append(r.Need.Requirements, ReqMentalHealth) },
			mutC: func(c *Candidate) {
				c.Capacity.Beds[0].Type = BedMentalHealthNursing
				c.Provider.Specialisms = append(c.Provider.Specialisms, ReqMentalHealth)
			}, filter: ""},
		{name: "hospice with a hospice bed", mutReq: func(r *MatchRequest) { r.Need.Setting = CareHospice },
			mutC: func(c *Candidate) {
				c.Provider.Settings = []CareSetting{CareHospice}
				c.Capacity.Beds[0].Type = BedHospice
			}, filter: ""},
		{name: "hospice with only nursing beds", mutReq: func(r *MatchRequest) { r.Need.Setting = CareHospice },
			mutC: func(c *Candidate) { c.Provider.Settings = []CareSetting{CareHospice} }, filter: "vacancy"},
		{name: "hospice too far", mutReq: func(r *MatchRequest) { r.Need.Setting = CareHospice },
			mutC: func(c *Candidate) {
				c.Provider.Settings = []CareSetting{CareHospice}
				c.Capacity.Beds[0].Type = BedHospice
				c.DistanceKm = km(40)
			}, filter: "distance"},

		{name: "home care passes", home: true, filter: ""},
		{name: "home care outside coverage", home: true, mutReq: func(r *MatchRequest) { r.PatientOutcode = "SK3" }, filter: "coverage"},
		{name: "home care ignores distance", home: true, mutC: func(c *Candidate) { c.DistanceKm = km(500) }, filter: ""},
		{name: "home care too few hours", home: true, mutReq: func(r *MatchRequest) { h := 21.0; r.Need.HoursPerWeek = &h }, filter: "vacancy"},
		{name: "home care offer for another district", home: true, mutReq: func(r *MatchRequest) { r.PatientOutcode = "M20" }, filter: "vacancy"},
		{name: "home care starts too late", home: true, mutC: func(c *Candidate) { c.Capacity.HomeCare[0].EarliestStart = Date{2026, 11, 25} }, filter: "vacancy"},
		{name: "home care starts early enough", home: true, mutReq: func(r *MatchRequest) { r.Date = Date{2026, 11, 30} }, filter: ""},
		{name: "home care no hours, packages", home: true, mutReq: func(r *MatchRequest) { r.Need.HoursPerWeek = nil }, filter: ""},
		{name: "home care no hours, no packages", home: true, mutReq: func(r *MatchRequest) { r.Need.HoursPerWeek = nil },
			mutC: func(c *Candidate) { c.Capacity.HomeCare[0].Packages = 0 }, filter: "vacancy"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, c := nursingRequest(), nursingProvider("a", 10, 2, RatingGood, ContractSpot)
			if tc.home {
				h := 20.0
				req, c = homeCareRequest(&h), homeCareProvider("a", 20, 1)
			}
			if tc.mutReq != nil {
				tc.mutReq(&req)
			}
			if tc.mutC != nil {
				tc.mutC(&c)
			}
			res := Match(req, []Candidate{c})
			if tc.filter == "" {
				if len(res.Matches) != 1 {
					t.Fatalf("excluded: %+v", res.Excluded)
				}
				return
			}
			if len(res.Matches) != 0 || len(res.Excluded) != 1 || res.Excluded[0].Filter != tc.filter || res.Counts[tc.filter] != 1 {
				t.Fatalf("want %s, got %+v %+v", tc.filter, res.Excluded, res.Counts)
			}
			if !slices.Contains(Filters, res.Excluded[0].Filter) || res.Excluded[0].Detail == "" {
				t.Fatalf("exclusion %+v", res.Excluded[0])
			}
		})
	}
}

func TestRequirementDetailNamesTheMissing(t *testing.T) {
	req := nursingRequest()
	req.Need.Requirements = []Requirement{ReqDementia, ReqOxygen, ReqBariatric}
	res := Match(req, []Candidate{nursingProvider("a", 1, 1, "", "")})
	if d := res.Excluded[0].Detail; !strings.Contains(d, "oxygen") || !strings.Contains(d, "bariatric") || strings.Contains(d, "dementia") {
		t.Fatalf("detail %q", d)
	}
}

func TestMatchOptionContents(t *testing.T) {
	req := nursingRequest()
	req.IncludeStale = true
	c := nursingProvider("a", 5, 3, RatingGood, ContractBlock)
	c.Capacity.AsOf = now.Add(-30 * time.Hour)
	c.Capacity.Beds = append(c.Capacity.Beds, BedCapacity{Type: BedNursingDementia, MaxCapacity: 4, AcceptingAdmissions: 1},
		BedCapacity{Type: BedResidential, MaxCapacity: 4, AcceptingAdmissions: 4})
	res := Match(req, []Candidate{c})
	o := res.Matches[0]
	if !o.Stale || o.Freshness != Stale || o.Components.Freshness != 0 || !o.AsOf.Equal(c.Capacity.AsOf) ||
		len(o.Vacancies) != 2 || o.Vacancies[0].Type != BedNursing || o.Vacancies[1].Type != BedNursingDementia ||
		fmt.Sprint(o.Covered) != "[dementia]" || *o.DistanceKm != 5 {
		t.Fatalf("%+v", o)
	}
	// Home care in coverage scores full distance whatever the distance.
	h := 10.0
	hc := homeCareProvider("h", 20, 0)
	hc.DistanceKm = km(9)
	res = Match(homeCareRequest(&h), []Candidate{hc})
	if res.Matches[0].Components.Distance != 1 || len(res.Matches[0].HomeCare) != 1 {
		t.Fatalf("%+v", res.Matches[0])
	}
}

// TestMatchDefaults: a zero freshness policy and invalid weights fall back
// to the defaults instead of excluding or scoring everything as zero.
func TestMatchDefaults(t *testing.T) {
	req := nursingRequest()
	req.Freshness = FreshnessPolicy{}
	req.Weights = Weights{Distance: -1}
	a := Match(req, []Candidate{nursingProvider("a", 5, 1, RatingGood, ContractSpot)})
	b := Match(nursingRequest(), []Candidate{nursingProvider("a", 5, 1, RatingGood, ContractSpot)})
	if len(a.Matches) != 1 || a.Matches[0].Score != b.Matches[0].Score {
		t.Fatalf("%+v vs %+v", a.Matches, b.Matches)
	}
}

// randomWorld builds providers and a request at random.
func randomWorld(r *rand.Rand, n int) (MatchRequest, []Candidate) {
	settings := []CareSetting{CareNursing, CareResidential, CareNursingDementia, CareResidentialDementia, CareHomeCare, CareD2ABed, CareReablement, CareHospice}
	reqs := []Requirement{ReqDementia, ReqHoist, ReqBariatric, ReqOxygen, ReqMentalHealth, ReqLearningDisability}
	funds := []Funding{FundLocalAuthority, FundCHC, FundSelf}
	outcodes := []string{"M14", "M20", "SK3"}
	pick := func(n int) int { return r.IntN(n) }
	need := CareNeed{Setting: settings[pick(len(settings))]}
	if r.IntN(4) > 0 {
		need.Funding = funds[pick(len(funds))]
	}
	for _, q := range reqs {
		if r.IntN(4) == 0 {
			need.Requirements = append(need.Requirements, q)
		}
	}
	if BedTypesFor(need.Setting) == nil && r.IntN(4) > 0 {
		h := float64(5 + r.IntN(30))
		need.HoursPerWeek = &h
	}
	origin := Position{Lat: 53.45, Lon: -2.22}
	req := MatchRequest{Need: need, Date: DateOf(now.AddDate(0, 0, r.IntN(7))), PatientOutcode: outcodes[pick(3)], RadiusKm: float64(5 + r.IntN(40)),
		IncludeStale: r.IntN(2) == 0, Now: now, Freshness: DefaultFreshness, Weights: DefaultWeights, Explain: r.IntN(2) == 0, Limit: r.IntN(3) * 10}
	if r.IntN(2) == 0 {
		req.Origin = &origin
	}
	if r.IntN(3) == 0 {
		req.Case = &Case{LegalStatus: []string{"", "01", "02", "03", "35", "99", "zz"}[pick(7)]}
	}
	var cands []Candidate
	for i := range n {
		p := Provider{ServiceID: fmt.Sprintf("s%03d", i), LocationID: fmt.Sprintf("l%03d", i), OrganizationID: fmt.Sprintf("o%02d", i/3),
			Active: r.IntN(10) > 0, Rating: []string{RatingOutstanding, RatingGood, RatingRequiresImprovement, RatingInadequate, RatingNotRated, ""}[pick(6)],
			Contract: []string{ContractBlock, ContractSpot, ""}[pick(3)], Coverage: []string{outcodes[pick(3)]}, AcceptsDetained: r.IntN(3) == 0}
		for _, s := range settings {
			if r.IntN(2) == 0 {
				p.Settings = append(p.Settings, s)
			}
		}
		for _, q := range reqs {
			if r.IntN(5) > 0 {
				p.Specialisms = append(p.Specialisms, q)
			}
		}
		for _, f := range funds {
			if r.IntN(4) > 0 {
				p.Fundings = append(p.Fundings, f)
			}
		}
		if r.IntN(4) == 0 {
			p.Admission = []AdmissionWindow{{Days: []time.Weekday{time.Monday, time.Tuesday, time.Wednesday}, AllDay: true}}
			if r.IntN(2) == 0 {
				p.Admission = append(p.Admission, AdmissionWindow{Days: []time.Weekday{time.Saturday}, Start: "09:00", End: "12:00"})
			}
		}
		if r.IntN(8) == 0 {
			from := DateOf(now.AddDate(0, 0, r.IntN(7)-2))
			p.NotAvailable = []DateRange{{From: from, To: DateOf(now.AddDate(0, 0, r.IntN(7)))}}
		}
		if r.IntN(10) == 0 {
			switch r.IntN(3) {
			case 0:
				req.Need.ExcludedProviders = append(req.Need.ExcludedProviders, "HealthcareService/"+p.ServiceID)
			case 1:
				req.Need.ExcludedProviders = append(req.Need.ExcludedProviders, "Organization/"+p.OrganizationID)
			default:
				req.Need.ExcludedProviders = append(req.Need.ExcludedProviders, p.LocationID)
			}
		}
		if r.IntN(10) == 0 {
			req.Need.PreferredProviders = append(req.Need.PreferredProviders, "Location/"+p.LocationID)
		}
		c := Candidate{Provider: p}
		switch r.IntN(6) {
		case 0: // no distance, maybe a position
			if r.IntN(2) == 0 {
				c.Provider.Position = &Position{Lat: origin.Lat + (r.Float64()-0.5)*0.8, Lon: origin.Lon + (r.Float64()-0.5)*1.2}
			}
		default:
			d := r.Float64() * 50
			c.DistanceKm = &d
		}
		if r.IntN(8) > 0 {
			age := time.Duration(r.IntN(10*24*60)) * time.Minute
			if r.IntN(2) == 0 {
				age = time.Duration(r.IntN(24*60)) * time.Minute
			}
			cp := &Capacity{LocationID: p.LocationID, AsOf: now.Add(-age)}
			for _, bt := range BedTypes() {
				if r.IntN(2) == 0 {
					acc := r.IntN(4)
					cp.Beds = append(cp.Beds, BedCapacity{Type: BedType(bt.Code), MaxCapacity: 10, Occupied: 10 - acc, AcceptingAdmissions: acc, ClosedToAdmissions: r.IntN(8) == 0})
				}
			}
			for range r.IntN(3) {
				cp.HomeCare = append(cp.HomeCare, HomeCareOffer{Outcodes: []string{outcodes[pick(3)]}, HoursPerWeek: float64(r.IntN(40)),
					Packages: r.IntN(2), EarliestStart: DateOf(now.AddDate(0, 0, r.IntN(5)))})
			}
			c.Capacity = cp
		}
		cands = append(cands, c)
	}
	return req, cands
}

// oracleDistance is the spherical law of cosines: a different formula from
// the haversine Match uses, so a wrong distance cannot agree with itself.
func oracleDistance(a, b Position) float64 {
	r := math.Pi / 180
	x := math.Sin(a.Lat*r)*math.Sin(b.Lat*r) + math.Cos(a.Lat*r)*math.Cos(b.Lat*r)*math.Cos((b.Lon-a.Lon)*r)
	return 6371.0088 * math.Acos(math.Max(-1, math.Min(1, x)))
}

// oracleBeds spells out which bed types serve which need, independently of
// BedTypesFor and BedTypesForNeed.
func oracleBeds(n CareNeed) []BedType {
	ld, mh := slices.Contains(n.Requirements, ReqLearningDisability), slices.Contains(n.Requirements, ReqMentalHealth)
	var out []BedType
	switch n.Setting {
	case CareResidential:
		out = []BedType{BedResidential, BedResidentialDementia}
	case CareResidentialDementia:
		out = []BedType{BedResidentialDementia}
	case CareNursing:
		out = []BedType{BedNursing, BedNursingDementia}
	case CareNursingDementia:
		out = []BedType{BedNursingDementia}
	case CareD2ABed, CareIntermediateBed:
		return []BedType{BedTransitional}
	case CareHospice:
		return []BedType{BedHospice}
	default:
		return nil
	}
	residential := n.Setting == CareResidential || n.Setting == CareResidentialDementia
	if ld && residential {
		out = append(out, BedLearningDisabilityRes)
	}
	if ld && !residential {
		out = append(out, BedLearningDisabilityNurs)
	}
	if mh && residential {
		out = append(out, BedMentalHealthResidential)
	}
	if mh && !residential {
		out = append(out, BedMentalHealthNursing)
	}
	return out
}

// violates re-checks every hard filter on a returned option, written out
// again here rather than calling Match's helpers. It returns the broken
// rule, or "".
func violates(req MatchRequest, c Candidate) string {
	p, need := c.Provider, req.Need
	if !p.Active {
		return "inactive"
	}
	if !slices.Contains(p.Settings, need.Setting) {
		return "setting"
	}
	for _, q := range need.Requirements {
		if !slices.Contains(p.Specialisms, q) {
			return "requirement"
		}
	}
	if need.Funding != "" && !slices.Contains(p.Fundings, need.Funding) {
		return "funding"
	}
	for _, x := range need.ExcludedProviders {
		if x == "HealthcareService/"+p.ServiceID || x == "Location/"+p.LocationID || x == "Organization/"+p.OrganizationID ||
			x == p.ServiceID || x == p.LocationID || x == p.OrganizationID {
			return "excluded"
		}
	}
	if req.Case != nil && !p.AcceptsDetained {
		switch req.Case.LegalStatus {
		case "", "01", "35", "36", "98":
		default:
			return "legal-status"
		}
	}
	if len(p.Admission) > 0 {
		day := time.Date(req.Date.Year, req.Date.Month, req.Date.Day, 0, 0, 0, 0, time.UTC).Weekday()
		ok := false
		for _, w := range p.Admission {
			ok = ok || slices.Contains(w.Days, day)
		}
		if !ok {
			return "admission-day"
		}
	}
	key := func(d Date) int { return d.Year*10000 + int(d.Month)*100 + d.Day }
	for _, r := range p.NotAvailable {
		if key(r.From) <= key(req.Date) && (r.To.IsZero() || key(req.Date) <= key(r.To)) {
			return "not-available"
		}
	}
	if c.Capacity == nil || c.Capacity.AsOf.IsZero() {
		return "capacity-unknown"
	}
	age := req.Now.Sub(c.Capacity.AsOf)
	if age > req.Freshness.ExpireAfter {
		return "capacity-unknown"
	}
	if age > req.Freshness.StaleAfter && !req.IncludeStale {
		return "capacity-stale"
	}
	if beds := oracleBeds(need); beds != nil {
		var d float64
		switch {
		case c.DistanceKm != nil:
			d = *c.DistanceKm
		case req.Origin != nil && p.Position != nil:
			d = oracleDistance(*req.Origin, *p.Position)
			if math.Abs(d-req.RadiusKm) < 1e-6 {
				d = 0 // too close to the edge to judge by another formula
			}
		default:
			return "distance (none)"
		}
		if d > req.RadiusKm {
			return "distance"
		}
		ok := false
		for _, b := range c.Capacity.Beds {
			if slices.Contains(beds, b.Type) && !b.ClosedToAdmissions && b.AcceptingAdmissions > 0 {
				ok = true
			}
		}
		if !ok {
			return "vacancy (beds)"
		}
		return ""
	}
	if !slices.Contains(p.Coverage, req.PatientOutcode) {
		return "coverage"
	}
	for _, h := range c.Capacity.HomeCare {
		if !slices.Contains(h.Outcodes, req.PatientOutcode) || key(h.EarliestStart) > key(req.Date) {
			continue
		}
		if (need.HoursPerWeek != nil && h.HoursPerWeek >= *need.HoursPerWeek) || (need.HoursPerWeek == nil && h.Packages > 0) {
			return ""
		}
	}
	return "vacancy (home care)"
}

// TestMatchProperties checks, over random directories and requests: (a) no
// returned option violates a hard filter; (d) scores are in [0, 1] and
// sorted; (e) shuffling the input changes nothing; and that every
// candidate is accounted for once, as a match or an exclusion.
func TestMatchProperties(t *testing.T) {
	r := rand.New(rand.NewPCG(2026, 11))
	matched, excluded, cut := 0, map[Filter]int{}, 0
	for iter := range 3000 {
		req, cands := randomWorld(r, 30)
		res := Match(req, cands)
		byID := map[string]Candidate{}
		for _, c := range cands {
			byID[c.Provider.ServiceID] = c
		}
		// Every candidate is an option (counted in Total, whatever the
		// limit) or an exclusion (counted under its filter).
		accounted := res.Total
		for f, n := range res.Counts {
			if !slices.Contains(Filters, f) {
				t.Fatalf("iteration %d: unknown filter %q", iter, f)
			}
			excluded[f] += n
			accounted += n
		}
		if accounted != len(cands) {
			t.Fatalf("iteration %d: total %d and exclusions for %d candidates", iter, res.Total, len(cands))
		}
		if req.Limit == 0 && res.Total != len(res.Matches) {
			t.Fatalf("iteration %d: total %d, but %d options with no limit", iter, res.Total, len(res.Matches))
		}
		if req.Limit > 0 && (len(res.Matches) > req.Limit || len(res.Matches) != min(req.Limit, res.Total)) {
			t.Fatalf("iteration %d: limit %d not applied: %d of %d", iter, req.Limit, len(res.Matches), res.Total)
		}
		if len(res.Excluded) > MaxExplained {
			t.Fatalf("iteration %d: %d exclusions listed, more than %d", iter, len(res.Excluded), MaxExplained)
		}
		if !req.Explain && len(res.Excluded) != 0 {
			t.Fatalf("iteration %d: exclusions listed without explain", iter)
		}
		for i, o := range res.Matches {
			if v := violates(req, byID[o.Provider.ServiceID]); v != "" {
				t.Fatalf("iteration %d: %s returned but violates %s", iter, o.Provider.ServiceID, v)
			}
			if o.Score < 0 || o.Score > 1 || math.IsNaN(o.Score) || (i > 0 && o.Score > res.Matches[i-1].Score) {
				t.Fatalf("iteration %d: score %v out of range or order", iter, o.Score)
			}
			if o.Stale != (o.Freshness == Stale) || (o.Stale && !req.IncludeStale) {
				t.Fatalf("iteration %d: stale flag %+v", iter, o)
			}
			matched++
		}
		for i := 1; i < len(res.Excluded); i++ {
			if dist(res.Excluded[i].DistanceKm) < dist(res.Excluded[i-1].DistanceKm) {
				t.Fatalf("iteration %d: exclusions not nearest first", iter)
			}
		}
		// A limit keeps the best as they come; it must give exactly the
		// first Limit of the whole ranking (small limits, so it cuts).
		{
			whole, limited := req, req
			whole.Limit, limited.Limit = 0, 1+iter%5
			all, some := Match(whole, cands), Match(limited, cands)
			want := all.Matches[:min(len(all.Matches), limited.Limit)]
			if len(all.Matches) > limited.Limit {
				cut++
			}
			if !reflect.DeepEqual(some.Matches, want) || !reflect.DeepEqual(some.Counts, all.Counts) || some.Total != all.Total {
				t.Fatalf("iteration %d: limit %d kept %v, the whole ranking starts %v", iter, limited.Limit, ids(some.Matches), ids(want))
			}
		}
		shuffled := slices.Clone(cands)
		r.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
		again := Match(req, shuffled)
		if !reflect.DeepEqual(again, res) {
			t.Fatalf("iteration %d: result depends on input order\n%v\n%v", iter, ids(res.Matches), ids(again.Matches))
		}
	}
	// The generator must exercise both outcomes, and every filter.
	if matched < 1000 {
		t.Fatalf("only %d matches over all iterations", matched)
	}
	if cut < 50 {
		t.Fatalf("the limit cut the ranking in only %d iterations", cut)
	}
	for _, f := range Filters {
		if excluded[f] == 0 {
			t.Errorf("filter %s never fired", f)
		}
	}
}

// TestNearerNeverRanksLower (b): a copy of a matched option moved nearer,
// all else equal, never ranks below the original.
func TestNearerNeverRanksLower(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	checked := 0
	for iter := 0; checked < 2000 && iter < 50000; iter++ {
		req, cands := randomWorld(r, 20)
		if BedTypesFor(req.Need.Setting) == nil {
			continue
		}
		req.Limit = 0
		res := Match(req, cands)
		if len(res.Matches) == 0 {
			continue
		}
		o := res.Matches[r.IntN(len(res.Matches))]
		var orig Candidate
		for _, c := range cands {
			if c.Provider.ServiceID == o.Provider.ServiceID {
				orig = c
			}
		}
		near := orig
		near.Provider.ServiceID = "~nearer" // sorts after every sNNN id: the id tie-break cannot help it
		near.Provider.Position = nil
		near.DistanceKm = km(*o.DistanceKm * r.Float64())
		res = Match(req, append(cands, near))
		pos := map[string]int{}
		for i, m := range res.Matches {
			pos[m.Provider.ServiceID] = i
		}
		if pos["~nearer"] > pos[o.Provider.ServiceID] {
			t.Fatalf("iteration %d: nearer copy (%.3f km) ranked %d, original (%.3f km) %d",
				iter, *near.DistanceKm, pos["~nearer"], *o.DistanceKm, pos[o.Provider.ServiceID])
		}
		checked++
	}
	if checked < 2000 {
		t.Fatalf("only %d checks", checked)
	}
}

// TestStaleNeverOutranksFresh (c): the same provider with stale figures,
// included, never ranks above itself with fresh figures, whatever the
// weights (freshness weight zero included).
func TestStaleNeverOutranksFresh(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 9))
	for i := range 2000 {
		fresh := nursingProvider("z-fresh", 1+r.Float64()*20, 2, RatingGood, ContractSpot)
		stale := fresh
		stale.Provider.ServiceID = "a-stale"
		cp := *fresh.Capacity
		stale.Capacity = &cp
		fresh.Capacity.AsOf = now.Add(-time.Duration(r.IntN(24*60)) * time.Minute)
		stale.Capacity.AsOf = now.Add(-time.Duration(24*60+1+r.IntN(5*24*60)) * time.Minute)
		req := nursingRequest()
		req.IncludeStale = true
		req.Weights = Weights{Distance: r.Float64(), Freshness: r.Float64() * float64(i%2), Contract: r.Float64(), Quality: r.Float64(), Preference: r.Float64(), Acceptance: r.Float64()}
		res := Match(req, []Candidate{stale, fresh})
		if len(res.Matches) != 2 || res.Matches[0].Provider.ServiceID != "z-fresh" || !res.Matches[1].Stale {
			t.Fatalf("stale outranked fresh: %+v", res.Matches)
		}
	}
}

func ids(os []Option) []string {
	var out []string
	for _, o := range os {
		out = append(out, o.Provider.ServiceID)
	}
	return out
}

func BenchmarkMatch(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	var req MatchRequest
	for {
		req, _ = randomWorld(r, 0)
		if BedTypesFor(req.Need.Setting) != nil {
			break
		}
	}
	req.RadiusKm, req.Explain, req.Limit = 40, true, 20
	_, cands := randomWorld(r, 500)
	b.ReportAllocs()
	for b.Loop() {
		Match(req, cands)
	}
}

// TestExplainOnlyNeverChangesTheAnswer: candidates found only to explain
// (other care settings nearby) never become options and never move Total
// or Counts, but an explanation lists them.
func TestExplainOnlyNeverChangesTheAnswer(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 17))
	listed := 0
	for iter := range 1000 {
		req, cands := randomWorld(r, 20)
		req.Explain = true
		var kept []Candidate
		marked := slices.Clone(cands)
		for i := range marked {
			if r.IntN(3) == 0 {
				marked[i].ExplainOnly = true
			} else {
				kept = append(kept, marked[i])
			}
		}
		got, want := Match(req, marked), Match(req, kept)
		if !reflect.DeepEqual(got.Matches, want.Matches) || got.Total != want.Total || !reflect.DeepEqual(got.Counts, want.Counts) {
			t.Fatalf("iteration %d: explain-only candidates changed the answer: %v (%d) vs %v (%d)",
				iter, ids(got.Matches), got.Total, ids(want.Matches), want.Total)
		}
		for _, x := range got.Excluded {
			for _, c := range marked {
				if c.ExplainOnly && c.Provider.ServiceID == x.Provider.ServiceID {
					listed++
				}
			}
		}
	}
	if listed == 0 {
		t.Fatal("no explain-only candidate was ever listed")
	}
}

// TestExplainListsTheNearestWhateverTheReason: the nearest excluded
// provider is listed even when it offers another care setting and many
// further ones fail only the radius; the list stops at MaxExplained.
func TestExplainListsTheNearestWhateverTheReason(t *testing.T) {
	var cands []Candidate
	for i := range 15 {
		cands = append(cands, nursingProvider(fmt.Sprintf("far-%02d", i), 26+float64(i), 2, RatingGood, ContractSpot))
	}
	wrong := nursingProvider("near-residential", 0.8, 2, RatingGood, ContractSpot)
	wrong.Provider.Settings = []CareSetting{CareResidential}
	wrong.Capacity.Beds[0].Type = BedResidential
	wrong.ExplainOnly = true
	cands = append(cands, wrong)
	res := Match(nursingRequest(), cands)
	if len(res.Excluded) != MaxExplained {
		t.Fatalf("%d exclusions listed, want %d", len(res.Excluded), MaxExplained)
	}
	if x := res.Excluded[0]; x.Provider.ServiceID != "near-residential" || x.Filter != FilterSetting || !strings.Contains(x.Detail, "nursing") {
		t.Fatalf("first exclusion %+v", x)
	}
	if res.Counts[FilterSetting] != 0 || res.Counts[FilterDistance] != 15 {
		t.Fatalf("counts %+v", res.Counts)
	}
}

// TestExclusionReasons: every filter is published with words, in order.
func TestExclusionReasons(t *testing.T) {
	rs := ExclusionReasons()
	if len(rs) != len(Filters) {
		t.Fatalf("%d reasons for %d filters", len(rs), len(Filters))
	}
	for i, f := range Filters {
		if rs[i].Code != string(f) || rs[i].Display == "" || rs[i].Definition == "" || !f.Valid() {
			t.Errorf("filter %s: %+v", f, rs[i])
		}
	}
	if Filter("bogus").Valid() {
		t.Error("bogus filter valid")
	}
}

// TestHospiceMatchesPostedBeds: a hospice need is served by a posted
// hospice bed (before, every hospice was capacity-unknown), and only by one.
func TestHospiceMatchesPostedBeds(t *testing.T) {
	req := nursingRequest()
	req.Need = CareNeed{Setting: CareHospice}
	h := nursingProvider("hospice", 3, 1, RatingGood, ContractSpot)
	h.Provider.Settings = []CareSetting{CareHospice}
	h.Capacity.Beds = []BedCapacity{{Type: BedHospice, MaxCapacity: 10, Occupied: 9, AcceptingAdmissions: 1}}
	res := Match(req, []Candidate{h})
	if res.Total != 1 || len(res.Matches) != 1 || res.Matches[0].Vacancies[0].Type != BedHospice {
		t.Fatalf("%+v", res)
	}
}
