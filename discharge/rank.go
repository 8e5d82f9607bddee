package discharge

import (
	"fmt"
	"math"
)

// Weights weigh the score components. They need not sum to 1: the score is
// normalised by their sum.
type Weights struct {
	Distance   float64 `json:"distance"`
	Freshness  float64 `json:"freshness"`
	Contract   float64 `json:"contract"`
	Quality    float64 `json:"quality"`
	Preference float64 `json:"preference"`
	Acceptance float64 `json:"acceptance"`
}

// DefaultWeights favour a near, well-rated provider with fresh figures;
// block-contracted beds (already paid for) come before spot ones.
var DefaultWeights = Weights{Distance: 0.35, Freshness: 0.15, Contract: 0.15, Quality: 0.2, Preference: 0.1, Acceptance: 0.05}

// Validate rejects negative weights and an all-zero set.
func (w Weights) Validate() error {
	sum := 0.0
	for _, v := range []float64{w.Distance, w.Freshness, w.Contract, w.Quality, w.Preference, w.Acceptance} {
		if v < 0 || math.IsNaN(v) {
			return fmt.Errorf("weights must not be negative")
		}
		sum += v
	}
	if sum == 0 {
		return fmt.Errorf("at least one weight must be positive")
	}
	return nil
}

// Components are an option's score parts, each 0..1.
type Components struct {
	Distance   float64 `json:"distance"`
	Freshness  float64 `json:"freshness"`
	Contract   float64 `json:"contract"`
	Quality    float64 `json:"quality"`
	Preference float64 `json:"preference"`
	Acceptance float64 `json:"acceptance"`
}

var ratingScore = map[string]float64{"outstanding": 1, "good": 0.75, "requires-improvement": 0.35, "inadequate": 0, "not-rated": 0.5, "": 0.5}

func components(req MatchRequest, c Candidate, o Option) Components {
	var cp Components
	switch {
	case c.DistanceKm == nil || req.RadiusKm <= 0:
		cp.Distance = 1 // home care in its coverage area
	default:
		cp.Distance = math.Max(0, 1-*c.DistanceKm/req.RadiusKm)
	}
	if o.Freshness == Fresh && req.Freshness.StaleAfter > 0 {
		age := req.Now.Sub(o.AsOf)
		cp.Freshness = math.Max(0, math.Min(1, 1-float64(age)/float64(req.Freshness.StaleAfter)))
	}
	if c.Provider.Contract == "block" {
		cp.Contract = 1
	}
	cp.Quality = ratingScore[c.Provider.Rating]
	for _, pref := range req.Need.PreferredProviders {
		p := c.Provider
		if pref == p.ServiceID || pref == p.LocationID || pref == p.OrganizationID || pref == "HealthcareService/"+p.ServiceID ||
			pref == "Location/"+p.LocationID || pref == "Organization/"+p.OrganizationID {
			cp.Preference = 1
		}
	}
	cp.Acceptance = 0.5 // neutral until offers record acceptance rates
	return cp
}

func score(c Components, w Weights) float64 {
	sum := w.Distance + w.Freshness + w.Contract + w.Quality + w.Preference + w.Acceptance
	s := (w.Distance*c.Distance + w.Freshness*c.Freshness + w.Contract*c.Contract + w.Quality*c.Quality +
		w.Preference*c.Preference + w.Acceptance*c.Acceptance) / sum
	return math.Round(s*10000) / 10000
}
