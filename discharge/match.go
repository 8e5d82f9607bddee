package discharge

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Candidate is a provider with its current capacity and its distance from
// the patient, as the store found it. DistanceKm may be nil: Match then
// works it out from MatchRequest.Origin and Provider.Position if it can.
type Candidate struct {
	Provider   Provider
	Capacity   *Capacity
	DistanceKm *float64
}

// MatchRequest is one question: which providers can take this need?
type MatchRequest struct {
	Need CareNeed
	Case *Case // for legal status; may be nil
	Date Date  // the start date needed
	// Origin is where distances are measured from, for candidates that
	// come without one; may be nil.
	Origin         *Position
	PatientOutcode string
	// RadiusKm bounds bed-based settings; it must be positive, as a zero
	// radius admits only providers at distance 0. Home care is bounded by
	// coverage of PatientOutcode instead.
	RadiusKm     float64
	IncludeStale bool
	Explain      bool
	Now          time.Time
	// Freshness is the policy; the zero value means DefaultFreshness.
	Freshness FreshnessPolicy
	// Weights; invalid ones (see Weights.Validate) mean DefaultWeights.
	Weights Weights
	// Limit caps Matches and, with Explain, Excluded; 0 means no cap.
	Limit int
}

// Option is a provider that passed every hard filter.
type Option struct {
	Provider   Provider      `json:"provider"`
	Score      float64       `json:"score"` // 0..1, 4 decimals
	Components Components    `json:"components"`
	Covered    []Requirement `json:"covered,omitempty"`
	// Vacancies are the fitting bed types open and accepting admissions.
	Vacancies []BedCapacity `json:"vacancies,omitempty"`
	// HomeCare are the offers that cover the patient's district, start in
	// time and are big enough.
	HomeCare   []HomeCareOffer `json:"homeCare,omitempty"`
	AsOf       time.Time       `json:"asOf"`
	Freshness  Freshness       `json:"freshness"`
	DistanceKm *float64        `json:"distanceKm,omitempty"`
	// Stale marks figures older than the stale threshold, returned only
	// because the request asked to include them.
	Stale bool `json:"stale,omitempty"`
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
	Counts   map[string]int // exclusions per filter, over all candidates
}

// Filters are the hard filters' codes, in the order they are applied; an
// exclusion names the first that fails. Cheap facts about the service come
// first, then the patient's own constraints, then place and day, and the
// live capacity last, so an explanation blames the most lasting reason:
//
//	inactive          the service is not active
//	setting           does not provide the care setting
//	requirement       does not cover every requirement (the detail names the missing)
//	funding           does not accept the need's funding
//	excluded          on the need's excluded providers
//	legal-status      patient detained (see Detained) and the service does not accept it
//	distance          bed-based: no distance, or further than RadiusKm
//	coverage          home care: PatientOutcode not in Provider.Coverage
//	admission-day     no admission window on the date's weekday
//	not-available     the date falls in a closure
//	capacity-unknown  no posting, figures past expiry, or hospice (not posted)
//	capacity-stale    figures past the stale threshold and IncludeStale unset
//	closed            every fitting bed type is closed to admissions
//	vacancy           no fitting bed accepting admissions, or no home-care offer
//	                  covering the district, starting by the date, big enough
var Filters = []string{"inactive", "setting", "requirement", "funding", "excluded", "legal-status",
	"distance", "coverage", "admission-day", "not-available", "capacity-unknown", "capacity-stale", "closed", "vacancy"}

// Match applies the hard filters to every candidate and ranks those that
// pass. No option that fails a filter is ever returned. It reads the clock
// only through req.Now.
func Match(req MatchRequest, cands []Candidate) Result {
	res := Result{Counts: map[string]int{}}
	if req.Weights.Validate() != nil {
		req.Weights = DefaultWeights
	}
	if req.Freshness == (FreshnessPolicy{}) {
		req.Freshness = DefaultFreshness
	}
	bedBased := placeBased(req.Need.Setting)
	if req.Explain {
		res.Excluded = make([]Exclusion, 0, len(cands))
	}
	for _, c := range cands {
		if c.DistanceKm == nil && req.Origin != nil && c.Provider.Position != nil {
			d := DistanceKm(*req.Origin, *c.Provider.Position)
			c.DistanceKm = &d
		}
		opt, filter, detail := evaluate(req, c, bedBased)
		if filter != "" {
			res.Counts[filter]++
			if req.Explain {
				res.Excluded = append(res.Excluded, Exclusion{Provider: c.Provider, DistanceKm: c.DistanceKm, Filter: filter, Detail: detail})
			}
			continue
		}
		opt.Components = components(req, opt, bedBased)
		opt.Score = score(opt.Components, req.Weights)
		if req.Limit > 0 {
			// Keep only the Limit best as they come: a wide search passes
			// dozens of options of a few hundred bytes each, and only
			// Limit are ever returned.
			if res.Matches == nil {
				res.Matches = make([]Option, 0, min(req.Limit, len(cands)))
			}
			res.Matches = keepBest(res.Matches, opt, req.Limit)
			continue
		}
		res.Matches = append(res.Matches, opt)
	}
	if req.Limit <= 0 {
		rank(res.Matches)
	}
	res.Excluded = nearest(res.Excluded, req.Limit)
	return res
}

// nearest returns the exclusions nearest first (ties by id), at most limit
// of them when limit > 0. It sorts indexes, not the large structs, since
// most of a few hundred exclusions are then cut.
func nearest(ex []Exclusion, limit int) []Exclusion {
	if len(ex) == 0 {
		return ex
	}
	idx := make([]int, len(ex))
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(i, j int) int {
		a, b := &ex[i], &ex[j]
		return cmp.Or(cmp.Compare(dist(a.DistanceKm), dist(b.DistanceKm)),
			cmp.Compare(a.Provider.ServiceID, b.Provider.ServiceID),
			cmp.Compare(a.Provider.LocationID, b.Provider.LocationID))
	})
	if limit > 0 && len(idx) > limit {
		idx = idx[:limit]
	}
	out := make([]Exclusion, len(idx))
	for k, i := range idx {
		out[k] = ex[i]
	}
	return out
}

// placeBased reports whether a setting is a bed in a place, bounded by
// radius: the Capacity Tracker bed settings and hospice.
func placeBased(s CareSetting) bool { return BedTypesFor(s) != nil || s == CareHospice }

// refers reports whether ref names the provider: "HealthcareService/<id>",
// "Location/<id>", "Organization/<id>", or a bare id of any of the three.
func refers(ref string, p Provider) bool {
	typ, id, found := strings.Cut(ref, "/")
	if !found {
		return ref != "" && (ref == p.ServiceID || ref == p.LocationID || ref == p.OrganizationID)
	}
	if id == "" {
		return false
	}
	switch typ {
	case "HealthcareService":
		return id == p.ServiceID
	case "Location":
		return id == p.LocationID
	case "Organization":
		return id == p.OrganizationID
	}
	return false
}

// evaluate returns the option, or the first filter the candidate fails
// with a detail for the explanation (never patient data).
func evaluate(req MatchRequest, c Candidate, bedBased bool) (Option, string, string) {
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
		if refers(x, p) {
			return opt, "excluded", "on the patient's excluded list"
		}
	}
	if req.Case != nil && Detained(req.Case.LegalStatus) && !p.AcceptsDetained {
		return opt, "legal-status", "does not take patients detained under the Mental Health Act"
	}
	if bedBased {
		if c.DistanceKm == nil {
			return opt, "distance", "no position to measure a distance from"
		}
		if !(*c.DistanceKm <= req.RadiusKm) { // NaN fails too
			return opt, "distance", fmt.Sprintf("%.1f km away, further than %g km", *c.DistanceKm, req.RadiusKm)
		}
	} else if !slices.Contains(p.Coverage, req.PatientOutcode) {
		return opt, "coverage", "does not serve " + req.PatientOutcode
	}
	if !admits(p.Admission, req.Date) {
		return opt, "admission-day", "does not admit on " + req.Date.Weekday().String()
	}
	for _, r := range p.NotAvailable {
		if r.Contains(req.Date) {
			to := r.To.String()
			if r.To.IsZero() {
				to = "further notice"
			}
			return opt, "not-available", "not available from " + r.From.String() + " to " + to
		}
	}
	if need.Setting == CareHospice {
		return opt, "capacity-unknown", "hospice beds are not posted to the gateway"
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
		opt.Stale = true
	}
	if bedBased {
		closed := false
		for _, bt := range BedTypesForNeed(need) {
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
		// Hours when the need says how many; else any package at all.
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
