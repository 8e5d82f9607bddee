package discharge

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"time"
)

// Candidate is a provider with its current capacity and its distance from
// the patient, as the store found it.
type Candidate struct {
	Provider   Provider
	Capacity   *Capacity
	DistanceKm *float64
}

// MatchRequest is one question: which providers can take this need?
type MatchRequest struct {
	Need           CareNeed
	Case           *Case // for legal status; may be nil
	Date           Date  // the start date needed
	PatientOutcode string
	RadiusKm       float64
	IncludeStale   bool
	Explain        bool
	Now            time.Time
	Freshness      FreshnessPolicy
	Weights        Weights
	Limit          int
}

// Option is a provider that passed every hard filter.
type Option struct {
	Provider   Provider        `json:"provider"`
	Score      float64         `json:"score"`
	Components Components      `json:"components"`
	Covered    []Requirement   `json:"covered,omitempty"`
	Vacancies  []BedCapacity   `json:"vacancies,omitempty"`
	HomeCare   []HomeCareOffer `json:"homeCare,omitempty"`
	AsOf       time.Time       `json:"asOf"`
	Freshness  Freshness       `json:"freshness"`
	DistanceKm *float64        `json:"distanceKm,omitempty"`
}

// Exclusion is a provider that failed a hard filter: the first one, in the
// order of Filters.
type Exclusion struct {
	Provider   Provider `json:"provider"`
	DistanceKm *float64 `json:"distanceKm,omitempty"`
	Filter     string   `json:"filter"`
	Detail     string   `json:"detail"`
}

// Result is a match's answer.
type Result struct {
	Matches  []Option
	Excluded []Exclusion    // with Explain: the nearest excluded providers
	Counts   map[string]int // exclusions per filter
}

// Filters are the hard filters' codes, in the order they are applied.
var Filters = []string{"inactive", "setting", "requirement", "funding", "excluded", "legal-status",
	"distance", "coverage", "admission-day", "not-available", "capacity-unknown", "capacity-stale", "closed", "vacancy"}

// Match applies the hard filters to every candidate and ranks those that
// pass. No option that fails a filter is ever returned.
func Match(req MatchRequest, cands []Candidate) Result {
	res := Result{Counts: map[string]int{}}
	w := req.Weights
	if w.Validate() != nil {
		w = DefaultWeights
	}
	for _, c := range cands {
		opt, filter, detail := evaluate(req, c)
		if filter != "" {
			res.Counts[filter]++
			if req.Explain {
				res.Excluded = append(res.Excluded, Exclusion{Provider: c.Provider, DistanceKm: c.DistanceKm, Filter: filter, Detail: detail})
			}
			continue
		}
		opt.Components = components(req, c, opt)
		opt.Score = score(opt.Components, w)
		res.Matches = append(res.Matches, opt)
	}
	sort.Slice(res.Matches, func(i, j int) bool {
		a, b := res.Matches[i], res.Matches[j]
		if a.Score != b.Score {
			return a.Score > b.Score
		}
		if da, db := dist(a.DistanceKm), dist(b.DistanceKm); da != db {
			return da < db
		}
		if a.Freshness != b.Freshness {
			return a.Freshness == Fresh // fresh figures before stale ones
		}
		return a.Provider.ServiceID < b.Provider.ServiceID
	})
	sort.SliceStable(res.Excluded, func(i, j int) bool {
		if di, dj := dist(res.Excluded[i].DistanceKm), dist(res.Excluded[j].DistanceKm); di != dj {
			return di < dj
		}
		return res.Excluded[i].Provider.ServiceID < res.Excluded[j].Provider.ServiceID
	})
	if req.Limit > 0 {
		if len(res.Matches) > req.Limit {
			res.Matches = res.Matches[:req.Limit]
		}
		if len(res.Excluded) > req.Limit {
			res.Excluded = res.Excluded[:req.Limit]
		}
	}
	return res
}

func dist(d *float64) float64 {
	if d == nil {
		return math.Inf(1)
	}
	return *d
}

// evaluate returns the option, or the first filter the candidate fails.
func evaluate(req MatchRequest, c Candidate) (Option, string, string) {
	p, need := c.Provider, req.Need
	opt := Option{Provider: p, DistanceKm: c.DistanceKm}
	if !p.Active {
		return opt, "inactive", "the service is not active"
	}
	if !slices.Contains(p.Settings, need.Setting) {
		return opt, "setting", "does not provide " + string(need.Setting)
	}
	var missing []string
	for _, r := range need.Requirements {
		if slices.Contains(p.Specialisms, r) {
			opt.Covered = append(opt.Covered, r)
		} else {
			missing = append(missing, string(r))
		}
	}
	if len(missing) > 0 {
		return opt, "requirement", "does not cover " + strings.Join(missing, ", ")
	}
	if need.Funding != "" && !slices.Contains(p.Fundings, need.Funding) {
		return opt, "funding", "does not accept " + string(need.Funding) + " funding"
	}
	for _, x := range need.ExcludedProviders {
		if x == p.ServiceID || x == p.LocationID || x == p.OrganizationID ||
			x == "HealthcareService/"+p.ServiceID || x == "Location/"+p.LocationID || x == "Organization/"+p.OrganizationID {
			return opt, "excluded", "on the patient's excluded list"
		}
	}
	if req.Case != nil && req.Case.LegalStatus != "" && !p.AcceptsDetained {
		return opt, "legal-status", "does not take patients detained under the Mental Health Act"
	}
	bedBased := BedTypesFor(need.Setting) != nil
	if bedBased {
		if c.DistanceKm == nil || *c.DistanceKm > req.RadiusKm {
			return opt, "distance", fmt.Sprintf("further than %.0f km", req.RadiusKm)
		}
	} else if !slices.Contains(p.Coverage, req.PatientOutcode) {
		return opt, "coverage", "does not serve " + req.PatientOutcode
	}
	if !admits(p.Admission, req.Date) {
		return opt, "admission-day", "does not admit on " + req.Date.Weekday().String()
	}
	for _, r := range p.NotAvailable {
		if !req.Date.Before(r.From) && !req.Date.After(r.To) {
			return opt, "not-available", "not available from " + r.From.String() + " to " + r.To.String()
		}
	}
	if c.Capacity == nil {
		return opt, "capacity-unknown", "no capacity posted"
	}
	opt.AsOf = c.Capacity.AsOf
	opt.Freshness = req.Freshness.Of(c.Capacity.AsOf, req.Now)
	switch opt.Freshness {
	case Unknown:
		return opt, "capacity-unknown", "capacity last posted " + c.Capacity.AsOf.Format(time.RFC3339)
	case Stale:
		if !req.IncludeStale {
			return opt, "capacity-stale", "capacity last posted " + c.Capacity.AsOf.Format(time.RFC3339)
		}
	}
	if bedBased {
		closed := false
		for _, bt := range BedTypesFor(need.Setting) {
			for _, b := range c.Capacity.Beds {
				if b.Type != bt {
					continue
				}
				if b.ClosedToAdmissions {
					closed = true
				} else if b.AcceptingAdmissions > 0 {
					opt.Vacancies = append(opt.Vacancies, b)
				}
			}
		}
		if len(opt.Vacancies) == 0 {
			if closed {
				return opt, "closed", "closed to admissions"
			}
			return opt, "vacancy", "no bed accepting admissions"
		}
		return opt, "", ""
	}
	for _, h := range c.Capacity.HomeCare {
		if !slices.Contains(h.Outcodes, req.PatientOutcode) || req.Date.Before(h.EarliestStart) {
			continue
		}
		enough := h.Packages > 0
		if need.HoursPerWeek != nil {
			enough = h.HoursPerWeek >= *need.HoursPerWeek
		}
		if enough {
			opt.HomeCare = append(opt.HomeCare, h)
		}
	}
	if len(opt.HomeCare) == 0 {
		return opt, "vacancy", "no home care that can start by " + req.Date.String()
	}
	return opt, "", ""
}
