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
	// ExplainOnly marks a candidate found only to explain what was left
	// out (a nearby provider of another care setting or bed type): it is
	// never returned as an option nor counted in Total or Counts, so an
	// explanation cannot change the answer it explains.
	ExplainOnly bool
	// Held are the active holds (accepted offers) on the location's beds,
	// by bed type: a bed held for one patient is not bookable for another,
	// so Match subtracts them from the posted vacancies. Nil: none.
	Held map[BedType]int
	// Answers are the provider's answers to offers (Acceptance), nil when
	// unknown; fewer than MinAnswered leave the acceptance score neutral.
	Answers *Answers
}

// BedVacancy is a fitting bed type's posted figures and the active holds on
// its vacancies.
type BedVacancy struct {
	BedCapacity
	// Held counts the active holds on the bed type at the location; it may
	// exceed AcceptingAdmissions when a later posting lowered the
	// vacancies below the holds, which stand.
	Held int
}

// Bookable is the vacancies accepting admissions that no hold has taken.
func (v BedVacancy) Bookable() int { return max(v.AcceptingAdmissions-v.Held, 0) }

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
	// Limit caps Matches (a page at offset k of n options needs k+n);
	// 0 means no cap. Total counts every option either way.
	Limit int
}

// Option is a provider that passed every hard filter.
type Option struct {
	Provider   Provider
	Score      float64 // 0..1, 4 decimals
	Components Components
	Covered    []Requirement
	// Vacancies are the fitting bed types open and accepting admissions
	// with at least one bed bookable (not held).
	Vacancies []BedVacancy
	// HomeCare are the offers that cover the patient's district, start in
	// time and are big enough.
	HomeCare   []HomeCareOffer
	AsOf       time.Time
	Freshness  Freshness
	DistanceKm *float64
	// Stale marks figures older than the stale threshold, returned only
	// because the request asked to include them.
	Stale bool
	// Answers are the provider's answers to offers that scored its
	// acceptance; nil when it had fewer than MinAnswered (neutral).
	Answers *Answers
}

// Exclusion is a provider that failed a hard filter: the first one, in the
// order of Filters.
type Exclusion struct {
	Provider   Provider
	DistanceKm *float64
	Filter     Filter
	Detail     string
}

// Result is a match's answer.
type Result struct {
	// Matches are the best options, ranked, at most Limit of them.
	Matches []Option
	// Total counts every option that passed all the hard filters, Limit or
	// not: what a FHIR searchset's total means.
	Total int
	// Excluded are, with Explain, the MaxExplained nearest excluded
	// providers, ExplainOnly candidates included.
	Excluded []Exclusion
	// Counts are the exclusions per filter over all candidates except the
	// ExplainOnly ones, so that asking for an explanation never changes them.
	Counts map[Filter]int
}

// MaxExplained caps Result.Excluded: an explanation lists at most this many
// excluded providers, the nearest first.
const MaxExplained = 10

// Filter is the code of one hard filter. The codes are published as the
// gateway's placement-exclusion-reason CodeSystem, so software can act on
// an exclusion: a code, once published, is never renamed or reused.
type Filter string

// The hard filters, in the order they are applied.
const (
	FilterInactive        Filter = "inactive"
	FilterSetting         Filter = "setting"
	FilterRequirement     Filter = "requirement"
	FilterFunding         Filter = "funding"
	FilterExcluded        Filter = "excluded"
	FilterLegalStatus     Filter = "legal-status"
	FilterDistance        Filter = "distance"
	FilterCoverage        Filter = "coverage"
	FilterAdmissionDay    Filter = "admission-day"
	FilterNotAvailable    Filter = "not-available"
	FilterCapacityUnknown Filter = "capacity-unknown"
	FilterCapacityStale   Filter = "capacity-stale"
	FilterClosed          Filter = "closed"
	FilterVacancy         Filter = "vacancy"
)

// Filters are the hard filters' codes, in the order they are applied; an
// exclusion names the first that fails. Cheap facts about the service come
// first, then the patient's own constraints, then place and day, and the
// live capacity last, so an explanation blames the most lasting reason.
// ExclusionReasons says what each means.
var Filters = []Filter{FilterInactive, FilterSetting, FilterRequirement, FilterFunding, FilterExcluded, FilterLegalStatus,
	FilterDistance, FilterCoverage, FilterAdmissionDay, FilterNotAvailable, FilterCapacityUnknown, FilterCapacityStale,
	FilterClosed, FilterVacancy}

var exclusionReasons = []Concept{
	{string(FilterInactive), "Service not active", "The HealthcareService is not active."},
	{string(FilterSetting), "Care setting or bed type not provided", "The service does not provide the care setting the need asks for, and so none of the bed types that serve it."},
	{string(FilterRequirement), "Requirement not covered", "The service does not cover every requirement of the need; the issue's text names the ones missing."},
	{string(FilterFunding), "Funding not accepted", "The service does not accept the funding stream the need names."},
	{string(FilterExcluded), "Excluded by the request", "The request names the service, its location or its organisation as a provider not to offer."},
	{string(FilterLegalStatus), "Detained patients not accepted", "The patient is detained under the Mental Health Act and the service does not accept detained patients."},
	{string(FilterDistance), "Outside the radius", "A bed-based service further from the patient than the search radius, or with no position to measure from."},
	{string(FilterCoverage), "District not covered", "A home-care service that does not serve the patient's postcode district."},
	{string(FilterAdmissionDay), "No admissions that day", "The service takes no admissions on the weekday of the date needed."},
	{string(FilterNotAvailable), "Not available on the date", "The date needed falls in a period the service is not available (a closure)."},
	{string(FilterCapacityUnknown), "Capacity unknown", "The service's location has posted no capacity, or its latest posting is past expiry."},
	{string(FilterCapacityStale), "Capacity stale", "The latest posting is older than the stale threshold and the request did not ask to include stale figures."},
	{string(FilterClosed), "Closed to admissions", "Every fitting bed type is posted as closed to admissions."},
	{string(FilterVacancy), "No vacancy", "No fitting bed type posted as vacant and accepting admissions, or no home-care offer for the district that can start by the date and is big enough."},
}

// ExclusionReasons lists the filters with display and definition, in the
// order of Filters.
func ExclusionReasons() []Concept { return clone(exclusionReasons) }

// Valid reports whether f is one of Filters.
func (f Filter) Valid() bool { return has(exclusionReasons, string(f)) }

// Match applies the hard filters to every candidate and ranks those that
// pass. No option that fails a filter is ever returned. It reads the clock
// only through req.Now.
func Match(req MatchRequest, cands []Candidate) Result {
	res := Result{Counts: map[Filter]int{}}
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
			if !c.ExplainOnly {
				res.Counts[filter]++
			}
			if req.Explain {
				res.Excluded = append(res.Excluded, Exclusion{Provider: c.Provider, DistanceKm: c.DistanceKm, Filter: filter, Detail: detail})
			}
			continue
		}
		if c.ExplainOnly {
			continue
		}
		res.Total++
		if c.Answers != nil && c.Answers.Answered >= MinAnswered {
			opt.Answers = c.Answers
		}
		opt.Components = components(req, opt, bedBased)
		opt.Score = score(opt.Components, req.Weights)
		if req.Limit > 0 {
			// Keep only the Limit best as they come: a wide search passes
			// dozens of options of a few hundred bytes each, and only
			// Limit are ever returned. Total still counts every one.
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
	res.Excluded = nearest(res.Excluded, MaxExplained)
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
// radius: the settings that have bed types (hospice included).
func placeBased(s CareSetting) bool { return BedTypesFor(s) != nil }

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

// admits reports whether a service takes admissions on a day.
func admits(ws []AdmissionWindow, d Date) bool {
	if len(ws) == 0 {
		return true
	}
	day := d.Weekday()
	for _, w := range ws {
		if slices.Contains(w.Days, day) {
			return true
		}
	}
	return false
}

// evaluate returns the option, or the first filter the candidate fails
// with a detail for the explanation (never patient data).
func evaluate(req MatchRequest, c Candidate, bedBased bool) (Option, Filter, string) {
	p, need := c.Provider, req.Need
	opt := Option{Provider: p, DistanceKm: c.DistanceKm}
	if !p.Active {
		return opt, FilterInactive, "the service is not active"
	}
	if !slices.Contains(p.Settings, need.Setting) {
		return opt, FilterSetting, "does not provide " + string(need.Setting)
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
		return opt, FilterRequirement, "does not cover " + strings.Join(missing, ", ")
	}
	if need.Funding != "" && !slices.Contains(p.Fundings, need.Funding) {
		return opt, FilterFunding, "does not accept " + string(need.Funding) + " funding"
	}
	for _, x := range need.ExcludedProviders {
		if refers(x, p) {
			return opt, FilterExcluded, "on the patient's excluded list"
		}
	}
	if req.Case != nil && Detained(req.Case.LegalStatus) && !p.AcceptsDetained {
		return opt, FilterLegalStatus, "does not take patients detained under the Mental Health Act"
	}
	if bedBased {
		if c.DistanceKm == nil {
			return opt, FilterDistance, "no position to measure a distance from"
		}
		if !(*c.DistanceKm <= req.RadiusKm) { // NaN fails too
			return opt, FilterDistance, fmt.Sprintf("%.1f km away, further than %g km", *c.DistanceKm, req.RadiusKm)
		}
	} else if !slices.Contains(p.Coverage, req.PatientOutcode) {
		return opt, FilterCoverage, "does not serve " + req.PatientOutcode
	}
	if !admits(p.Admission, req.Date) {
		return opt, FilterAdmissionDay, "does not admit on " + req.Date.Weekday().String()
	}
	for _, r := range p.NotAvailable {
		if r.Contains(req.Date) {
			to := r.To.String()
			if r.To.IsZero() {
				to = "further notice"
			}
			return opt, FilterNotAvailable, "not available from " + r.From.String() + " to " + to
		}
	}
	if c.Capacity == nil {
		return opt, FilterCapacityUnknown, "no capacity posted"
	}
	opt.AsOf = c.Capacity.AsOf
	opt.Freshness = req.Freshness.Of(c.Capacity.AsOf, req.Now)
	switch opt.Freshness {
	case Unknown:
		return opt, FilterCapacityUnknown, "capacity last posted " + c.Capacity.AsOf.Format(time.RFC3339)
	case Stale:
		if !req.IncludeStale {
			return opt, FilterCapacityStale, "capacity last posted " + c.Capacity.AsOf.Format(time.RFC3339)
		}
		opt.Stale = true
	}
	if bedBased {
		closed, posted, held := false, false, false
		fitting := BedTypesForNeed(need)
		for _, bt := range fitting {
			for _, b := range c.Capacity.Beds {
				if b.Type != bt {
					continue
				}
				posted = true
				v := BedVacancy{BedCapacity: b, Held: c.Held[bt]}
				switch {
				case b.ClosedToAdmissions:
					closed = true
				case v.Bookable() > 0:
					opt.Vacancies = append(opt.Vacancies, v)
				case b.AcceptingAdmissions > 0:
					held = true
				}
			}
		}
		if len(opt.Vacancies) == 0 {
			switch {
			case closed:
				return opt, FilterClosed, "closed to admissions"
			case held:
				return opt, FilterVacancy, "every vacancy accepting admissions is held for an offer"
			case !posted:
				// Tell "full" from "never posted that kind of bed": the
				// second is for the provider to put right.
				names := make([]string, len(fitting))
				for i, bt := range fitting {
					names[i] = string(bt)
				}
				return opt, FilterVacancy, "posts no " + strings.Join(names, " or ") + " beds"
			}
			return opt, FilterVacancy, "no bed accepting admissions"
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
		return opt, FilterVacancy, "no home care that can start by " + req.Date.String()
	}
	return opt, "", ""
}
