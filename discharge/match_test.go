package discharge

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

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

// TestRankingFixture: hand-built providers with a known order.
func TestRankingFixture(t *testing.T) {
	cands := []Candidate{
		nursingProvider("far-outstanding-block", 20, 2, "outstanding", "block"),
		nursingProvider("near-good-spot", 2, 1, "good", "spot"),
		nursingProvider("near-good-block", 2, 1, "good", "block"),
		nursingProvider("mid-inadequate-spot", 8, 5, "inadequate", "spot"),
		nursingProvider("no-vacancy", 1, 0, "outstanding", "block"),
		nursingProvider("too-far", 30, 3, "outstanding", "block"),
	}
	res := Match(nursingRequest(), cands)
	var got []string
	for _, m := range res.Matches {
		got = append(got, m.Provider.ServiceID)
	}
	// With the default weights (distance .35, freshness .15, contract .15,
	// quality .2, preference .1, acceptance .05) and figures an hour old
	// (freshness 23/24):
	//   near-good-block       .35*.92 + .15*.958 + .15*1 + .2*.75 + .05*.5 = .79
	//   near-good-spot        the same without the contract           = .64
	//   far-outstanding-block .35*.2  + .15*.958 + .15*1 + .2*1  + .025   = .59
	//   mid-inadequate-spot   .35*.68 + .15*.958                 + .025   = .41
	want := []string{"near-good-block", "near-good-spot", "far-outstanding-block", "mid-inadequate-spot"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("order %v, want %v", got, want)
	}
	if res.Counts["vacancy"] != 1 || res.Counts["distance"] != 1 || len(res.Excluded) != 2 || res.Excluded[0].Filter != "vacancy" {
		t.Fatalf("exclusions %+v %+v", res.Counts, res.Excluded)
	}
}

// randomWorld builds providers and a request at random, with a fixed seed.
func randomWorld(r *rand.Rand) (MatchRequest, []Candidate) {
	settings := []CareSetting{CareNursing, CareResidential, CareNursingDementia, CareHomeCare, CareD2ABed}
	reqs := []Requirement{ReqDementia, ReqHoist, ReqBariatric, ReqOxygen}
	funds := []Funding{FundLocalAuthority, FundCHC, FundSelf}
	pick := func(n int) int { return r.IntN(n) }
	need := CareNeed{Setting: settings[pick(len(settings))], Funding: funds[pick(len(funds))]}
	for _, q := range reqs {
		if r.IntN(3) == 0 {
			need.Requirements = append(need.Requirements, q)
		}
	}
	if need.Setting == CareHomeCare {
		h := float64(5 + r.IntN(30))
		need.HoursPerWeek = &h
	}
	req := MatchRequest{Need: need, Date: DateOf(now.AddDate(0, 0, r.IntN(7))), PatientOutcode: "M14", RadiusKm: float64(5 + r.IntN(40)),
		IncludeStale: r.IntN(2) == 0, Now: now, Freshness: DefaultFreshness, Weights: DefaultWeights, Explain: true}
	var cands []Candidate
	for i := 0; i < 30; i++ {
		p := Provider{ServiceID: fmt.Sprintf("s%02d", i), LocationID: fmt.Sprintf("l%02d", i), OrganizationID: fmt.Sprintf("o%02d", i),
			Active: r.IntN(10) > 0, Rating: []string{"outstanding", "good", "requires-improvement", "inadequate", "not-rated"}[pick(5)],
			Contract: []string{"block", "spot"}[pick(2)], Coverage: []string{[]string{"M14", "M20", "SK3"}[pick(3)]}}
		for _, s := range settings {
			if r.IntN(2) == 0 {
				p.Settings = append(p.Settings, s)
			}
		}
		for _, q := range reqs {
			if r.IntN(4) > 0 {
				p.Specialisms = append(p.Specialisms, q)
			}
		}
		for _, f := range funds {
			if r.IntN(4) > 0 {
				p.Fundings = append(p.Fundings, f)
			}
		}
		if r.IntN(4) == 0 {
			p.Admission = []AdmissionWindow{{Days: []time.Weekday{time.Monday, time.Tuesday, time.Wednesday, time.Thursday, time.Friday}, AllDay: true}}
		}
		c := Candidate{Provider: p}
		if r.IntN(6) > 0 {
			d := r.Float64() * 50
			c.DistanceKm = &d
		}
		if r.IntN(6) > 0 {
			age := time.Duration(r.IntN(10*24)) * time.Hour
			cp := &Capacity{LocationID: p.LocationID, AsOf: now.Add(-age)}
			for _, bt := range BedTypes() {
				if r.IntN(2) == 0 {
					acc := r.IntN(4)
					cp.Beds = append(cp.Beds, BedCapacity{Type: BedType(bt.Code), MaxCapacity: 10, Occupied: 10 - acc, AcceptingAdmissions: acc, ClosedToAdmissions: r.IntN(8) == 0})
				}
			}
			cp.HomeCare = []HomeCareOffer{{Outcodes: []string{"M14"}, HoursPerWeek: float64(r.IntN(40)), Packages: r.IntN(2), EarliestStart: DateOf(now.AddDate(0, 0, r.IntN(5)))}}
			c.Capacity = cp
		}
		cands = append(cands, c)
	}
	return req, cands
}

// violates re-checks every hard filter independently of Match.
func violates(req MatchRequest, o Option, c Candidate) string {
	p := c.Provider
	switch {
	case !p.Active:
		return "inactive"
	case !slices.Contains(p.Settings, req.Need.Setting):
		return "setting"
	case req.Need.Funding != "" && !slices.Contains(p.Fundings, req.Need.Funding):
		return "funding"
	case c.Capacity == nil:
		return "no capacity"
	}
	for _, q := range req.Need.Requirements {
		if !slices.Contains(p.Specialisms, q) {
			return "requirement"
		}
	}
	age := req.Now.Sub(c.Capacity.AsOf)
	if age > req.Freshness.ExpireAfter || (age > req.Freshness.StaleAfter && !req.IncludeStale) {
		return "freshness"
	}
	if len(p.Admission) > 0 && !slices.Contains(p.Admission[0].Days, req.Date.Weekday()) {
		return "admission"
	}
	if beds := BedTypesFor(req.Need.Setting); beds != nil {
		if c.DistanceKm == nil || *c.DistanceKm > req.RadiusKm {
			return "distance"
		}
		ok := false
		for _, b := range c.Capacity.Beds {
			if slices.Contains(beds, b.Type) && !b.ClosedToAdmissions && b.AcceptingAdmissions > 0 {
				ok = true
			}
		}
		if !ok {
			return "vacancy"
		}
	} else {
		if !slices.Contains(p.Coverage, req.PatientOutcode) {
			return "coverage"
		}
		ok := false
		for _, h := range c.Capacity.HomeCare {
			if slices.Contains(h.Outcodes, req.PatientOutcode) && !req.Date.Before(h.EarliestStart) && h.HoursPerWeek >= *req.Need.HoursPerWeek {
				ok = true
			}
		}
		if !ok {
			return "home care"
		}
	}
	return ""
}

func TestMatchProperties(t *testing.T) {
	r := rand.New(rand.NewPCG(2026, 11))
	matched := 0
	for iter := 0; iter < 3000; iter++ {
		req, cands := randomWorld(r)
		res := Match(req, cands)
		byID := map[string]Candidate{}
		for _, c := range cands {
			byID[c.Provider.ServiceID] = c
		}
		for i, o := range res.Matches {
			if v := violates(req, o, byID[o.Provider.ServiceID]); v != "" {
				t.Fatalf("iteration %d: %s returned but violates %s", iter, o.Provider.ServiceID, v)
			}
			if o.Score < 0 || o.Score > 1 || (i > 0 && o.Score > res.Matches[i-1].Score) {
				t.Fatalf("iteration %d: scores out of range or order", iter)
			}
			matched++
		}
		// Determinism under shuffling.
		shuffled := slices.Clone(cands)
		r.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
		again := Match(req, shuffled)
		if fmt.Sprint(ids(again.Matches)) != fmt.Sprint(ids(res.Matches)) {
			t.Fatalf("iteration %d: order depends on input order", iter)
		}
	}
	if matched < 500 {
		t.Fatalf("only %d matches over all iterations: the generator rarely produces matches", matched)
	}
}

func ids(os []Option) []string {
	var out []string
	for _, o := range os {
		out = append(out, o.Provider.ServiceID)
	}
	return out
}

func TestNearerNeverRanksLower(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	for i := 0; i < 2000; i++ {
		a, b := 1+r.Float64()*20, 1+r.Float64()*20
		near, far := min(a, b), max(a, b)
		// Identical providers but for distance, named so the id tie-break
		// would favour the far one.
		x := nursingProvider("a-far", far, 2, "good", "spot")
		y := nursingProvider("z-near", near, 2, "good", "spot")
		res := Match(nursingRequest(), []Candidate{x, y})
		if near < far && res.Matches[0].Provider.ServiceID != "z-near" {
			t.Fatalf("near %.3f ranked below far %.3f", near, far)
		}
	}
}

func TestStaleNeverOutranksFresh(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 9))
	for i := 0; i < 2000; i++ {
		fresh := nursingProvider("z-fresh", 5, 2, "good", "spot")
		stale := nursingProvider("a-stale", 5, 2, "good", "spot")
		fresh.Capacity.AsOf = now.Add(-time.Duration(r.IntN(24*60)) * time.Minute)
		stale.Capacity.AsOf = now.Add(-time.Duration(24*60+1+r.IntN(5*24*60)) * time.Minute)
		req := nursingRequest()
		req.IncludeStale = true
		res := Match(req, []Candidate{stale, fresh})
		if len(res.Matches) != 2 || res.Matches[0].Provider.ServiceID != "z-fresh" || res.Matches[1].Freshness != Stale {
			t.Fatalf("stale outranked fresh: %+v", res.Matches)
		}
	}
}

func BenchmarkMatch500(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	req, _ := randomWorld(r)
	var cands []Candidate
	for len(cands) < 500 {
		_, more := randomWorld(r)
		cands = append(cands, more...)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		Match(req, cands[:500])
	}
}
