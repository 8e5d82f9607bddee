package discharge

import (
	"math"
	"testing"
	"time"
)

func TestWeights(t *testing.T) {
	if s := DefaultWeights.sum(); math.Abs(s-1) > 1e-12 {
		t.Fatalf("default weights sum to %v", s)
	}
	if err := DefaultWeights.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, w := range []Weights{{}, {Distance: -0.1, Quality: 1}, {Distance: math.NaN()}, {Quality: math.Inf(1)}} {
		if w.Validate() == nil {
			t.Errorf("%+v accepted", w)
		}
	}
	n := Weights{Distance: 2, Quality: 2, Acceptance: 4}.Normalised()
	if n != (Weights{Distance: 0.25, Quality: 0.25, Acceptance: 0.5}) {
		t.Fatalf("%+v", n)
	}
	// Only the ratios matter.
	c := Components{Distance: 0.3, Freshness: 1, Contract: 1, Quality: 0.75, Preference: 0, Acceptance: 0.5}
	doubled := Weights{0.7, 0.3, 0.3, 0.4, 0.2, 0.1}
	if score(c, DefaultWeights) != score(c, doubled) || score(c, DefaultWeights) != score(c, DefaultWeights.Normalised()) {
		t.Fatal("scaling the weights changed the score")
	}
}

func TestComponents(t *testing.T) {
	base := func() (MatchRequest, Option) {
		req := MatchRequest{RadiusKm: 20, Now: now, Freshness: DefaultFreshness,
			Need: CareNeed{PreferredProviders: []string{"Organization/o1"}}}
		o := Option{Provider: Provider{ServiceID: "s1", LocationID: "l1", OrganizationID: "o1", Contract: ContractBlock, Rating: RatingGood},
			DistanceKm: km(5), AsOf: now.Add(-6 * time.Hour), Freshness: Fresh}
		return req, o
	}
	tests := []struct {
		name     string
		bedBased bool
		mut      func(*MatchRequest, *Option)
		want     Components
	}{
		{"bed, 5 of 20 km, 6 h old", true, nil, Components{0.75, 0.75, 1, 0.75, 1, 0.5}},
		{"home care ignores distance", false, nil, Components{1, 0.75, 1, 0.75, 1, 0.5}},
		{"beyond the radius clamps", true, func(_ *MatchRequest, o *Option) { o.DistanceKm = km(30) }, Components{0, 0.75, 1, 0.75, 1, 0.5}},
		{"negative distance clamps", true, func(_ *MatchRequest, o *Option) { o.DistanceKm = km(-3) }, Components{1, 0.75, 1, 0.75, 1, 0.5}},
		{"stale included", true, func(_ *MatchRequest, o *Option) { o.Freshness, o.Stale, o.AsOf = Stale, true, now.Add(-30*time.Hour) },
			Components{0.75, 0, 1, 0.75, 1, 0.5}},
		{"posted a minute ahead", true, func(_ *MatchRequest, o *Option) { o.AsOf = now.Add(time.Minute) }, Components{0.75, 1, 1, 0.75, 1, 0.5}},
		{"spot, outstanding, not preferred", true, func(r *MatchRequest, o *Option) {
			o.Provider.Contract, o.Provider.Rating, r.Need.PreferredProviders = ContractSpot, RatingOutstanding, []string{"Location/o1"}
		}, Components{0.75, 0.75, 0, 1, 0, 0.5}},
		{"requires improvement", true, func(_ *MatchRequest, o *Option) { o.Provider.Rating = RatingRequiresImprovement }, Components{0.75, 0.75, 1, 0.35, 1, 0.5}},
		{"inadequate", true, func(_ *MatchRequest, o *Option) { o.Provider.Rating = RatingInadequate }, Components{0.75, 0.75, 1, 0, 1, 0.5}},
		{"not rated", true, func(_ *MatchRequest, o *Option) { o.Provider.Rating = RatingNotRated }, Components{0.75, 0.75, 1, 0.5, 1, 0.5}},
		{"unknown rating is neutral", true, func(_ *MatchRequest, o *Option) { o.Provider.Rating = "excellent" }, Components{0.75, 0.75, 1, 0.5, 1, 0.5}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, o := base()
			if tc.mut != nil {
				tc.mut(&req, &o)
			}
			got := components(req, o, tc.bedBased)
			if got != tc.want {
				t.Fatalf("%+v, want %+v", got, tc.want)
			}
			if s := score(got, DefaultWeights); s < 0 || s > 1 {
				t.Fatalf("score %v", s)
			}
		})
	}
}

func TestRankTieBreaks(t *testing.T) {
	opts := []Option{
		{Provider: Provider{ServiceID: "c"}, Score: 0.5, DistanceKm: km(3)},
		{Provider: Provider{ServiceID: "b"}, Score: 0.5, DistanceKm: km(3), Stale: true},
		{Provider: Provider{ServiceID: "a"}, Score: 0.5},
		{Provider: Provider{ServiceID: "d"}, Score: 0.5, DistanceKm: km(3)},
		{Provider: Provider{ServiceID: "e"}, Score: 0.5, DistanceKm: km(2)},
		{Provider: Provider{ServiceID: "f"}, Score: 0.6, DistanceKm: km(9)},
	}
	rank(opts)
	// f: best score; e: nearest of the rest; c, d: fresh at 3 km by id;
	// b: stale at 3 km; a: no distance, last.
	if got := ids(opts); len(got) != 6 || got[0] != "f" || got[1] != "e" || got[2] != "c" || got[3] != "d" || got[4] != "b" || got[5] != "a" {
		t.Fatalf("%v", got)
	}
}
