package placement

import (
	"context"
	"sync"

	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/fhir"
)

// candidateSet is what candidates found.
type candidateSet struct {
	list []discharge.Candidate
	// gen is the directory generation the projections are at (0 when there
	// were no candidates).
	gen int64
	// capped says the bed-based search stopped at MaxCandidates
	// locations, the furthest furthestKm away: there may be more options
	// beyond them than total counts.
	capped     bool
	furthestKm float64
	// warnings name the locations whose active holds exceed their posted
	// vacancies.
	warnings discharge.Issues
}

// candidates loads the providers that could serve the need: bed-based ones
// from the geo shards near the origin, home care from its district's
// coverage set; then their projections (cached per directory generation)
// and current capacity (cached per posting version); then the active holds
// on their beds (one query to the record) and their providers' answers to
// offers (cached for AnswersTTL).
//
// With explain, a bed-based search also takes the nearest directory
// Locations of any kind (the geo index behind Location near), marked
// ExplainOnly: a care home next door that offers another setting or bed
// type is what "why does nobody fit?" needs, and the bed-type shards never
// hold it. Match lists them but never counts or returns them.
func (s *Service) candidates(ctx context.Context, need *discharge.CareNeed, origin discharge.Position, outcode string, radius float64, explain bool) (candidateSet, error) {
	var out candidateSet
	// Per candidate location, aligned with locIDs: its distance and the
	// posting version the geo index saw (bed-based searches only); those
	// from nearExplain on are ExplainOnly. Slices, not maps keyed by id:
	// every candidate is read by its position, so no lookup is needed.
	var distKm []float64
	var hints []int64
	var locIDs []string
	nearExplain := -1
	// The directory's generation is the record's, the geo index the
	// cache's: two stores, so the one is read while the other answers
	// (the generation is read before the projections, as providersAt
	// requires, whichever finishes first).
	generation := s.generationAsync(ctx)
	if beds := discharge.BedTypesForNeed(*need); beds != nil {
		// Near looks in a quarter of the radius first, in its copy of the
		// shards, and in the whole only when that does not hold
		// MaxCandidates: one round trip either way.
		areas := s.geo.AreasNear(origin.Lat, origin.Lon, radius)
		hits, err := s.capacity.Near(ctx, areas, beds, origin.Lat, origin.Lon, radius, MaxCandidates)
		if err != nil {
			return out, err
		}
		if len(hits) >= MaxCandidates {
			out.capped, out.furthestKm = true, hits[len(hits)-1].DistanceKm
		}
		var extra []discharge.Nearby
		if explain {
			// Enough of the nearest Locations to find MaxExplained that
			// the bed-type search did not: they are all excluded, and
			// only the nearest MaxExplained exclusions are listed.
			extra, err = s.capacity.NearLocations(ctx, areas, origin.Lat, origin.Lon, radius,
				min(MaxCandidates, len(hits)+discharge.MaxExplained))
			if err != nil {
				return out, err
			}
		}
		distKm = make([]float64, 0, len(hits)+len(extra))
		hints = make([]int64, 0, len(hits)+len(extra))
		locIDs = make([]string, 0, len(hits)+len(extra))
		for _, h := range hits {
			distKm = append(distKm, h.DistanceKm)
			hints = append(hints, h.CapacityVersion)
			locIDs = append(locIDs, h.LocationID)
		}
		nearExplain = len(locIDs)
		if len(extra) > 0 {
			// A Location the bed-type search found, or listed twice, is
			// taken once, at its first distance.
			seen := make(map[string]bool, len(locIDs)+len(extra))
			for _, id := range locIDs {
				seen[id] = true
			}
			for _, h := range extra {
				if seen[h.LocationID] {
					continue
				}
				seen[h.LocationID] = true
				distKm = append(distKm, h.DistanceKm)
				hints = append(hints, 0)
				locIDs = append(locIDs, h.LocationID)
			}
		}
	} else {
		ids, err := s.capacity.Covering(ctx, outcode)
		if err != nil {
			return out, err
		}
		locIDs = ids
	}
	if len(locIDs) == 0 {
		return out, nil
	}
	// The projections (the record, usually cached), the postings (the
	// cache) and the active holds (the record) do not depend on each
	// other: they are read at once, so a request waits for the slowest
	// store, not the sum of three. The holds are asked for every
	// candidate location and kept only for those with a posting, as
	// holdsOf keeps them; errors keep their order (projections, postings,
	// holds).
	ents := s.idx.entries(locIDs)
	var (
		wg                sync.WaitGroup
		providers         [][]discharge.Provider
		gen               int64
		allHeld           map[string]map[discharge.BedType]int
		provErr, holdsErr error
	)
	wg.Add(2)
	go func() {
		defer wg.Done()
		if gen, provErr = generation(); provErr == nil {
			providers, provErr = s.providersAt(ctx, gen, locIDs, ents)
		}
	}()
	go func() {
		defer wg.Done()
		allHeld, holdsErr = s.activeHolds(ctx, locIDs)
	}()
	caps, posted, capErr := s.capacityAt(ctx, locIDs, hints, ents)
	wg.Wait()
	if posted == 0 {
		holdsErr = nil // holdsOf asks nothing when no location has a posting
	}
	for _, err := range []error{provErr, capErr, holdsErr} {
		if err != nil {
			return out, err
		}
	}
	held := postedOnly(allHeld, locIDs, caps)
	list := candidateList(len(locIDs))
	for i := range locIDs {
		// The postings are the cache's own (never changed once stored),
		// and distKm one backing array: no copy or small heap object per
		// location (GC was a fifth of the CPU).
		cp := caps[i]
		var dp *float64
		if distKm != nil {
			dp = &distKm[i]
		}
		explainOnly := nearExplain >= 0 && i >= nearExplain
		for _, p := range providers[i] {
			list = append(list, discharge.Candidate{Provider: withCoverage(p, cp), Capacity: cp, DistanceKm: dp, ExplainOnly: explainOnly})
		}
	}
	out.warnings = withReferrals(list, held, s.answersOf(ctx, list))
	out.list, out.gen = list, gen
	return out, nil
}

// candidateLists recycles the candidate lists of answered requests. A list
// is a placement's largest allocation (a few hundred candidates of about
// 300 bytes each, all pointers to the collector), and at 25,000 providers
// the p99 at half load is set by garbage collections (docs/performance.md).
var candidateLists sync.Pool

// candidateList returns an empty list with room for at least n candidates
// (one candidate a location is the common case; more grow it).
func candidateList(n int) []discharge.Candidate {
	if p, ok := candidateLists.Get().(*[]discharge.Candidate); ok && cap(*p) >= n {
		return (*p)[:0]
	}
	return make([]discharge.Candidate, 0, n)
}

// release gives the set's list back for another request. Call it once
// nothing reads the list any more: discharge.Match copies what its Result
// keeps (each Option's and Exclusion's Provider by value) and keeps no
// pointer into the list. The list is cleared first, so a pooled list
// holds no provider, posting or hold alive; only its used part, since a
// list is all zero beyond its length (made so, or cleared so before it
// was pooled) and append writes only below the length it leaves.
func (c *candidateSet) release() {
	if c.list == nil || cap(c.list) > 4*MaxCandidates {
		c.list = nil
		return
	}
	clear(c.list)
	l := c.list[:0]
	c.list = nil
	candidateLists.Put(&l)
}

// matchedResources reads what the answer shows: each match's
// HealthcareService, Location and Organization, in one round trip.
func (s *Service) matchedResources(ctx context.Context, gen int64, matches []discharge.Option) (map[string]fhir.Resource, error) {
	var refs []fhir.Ref
	seen := map[fhir.Ref]bool{}
	add := func(typ, id string) {
		r := fhir.Ref{Type: typ, ID: id}
		if id != "" && !seen[r] {
			seen[r] = true
			refs = append(refs, r)
		}
	}
	for _, o := range matches {
		add("HealthcareService", o.Provider.ServiceID)
		add("Location", o.Provider.LocationID)
		add("Organization", o.Provider.OrganizationID)
	}
	if len(refs) == 0 {
		return map[string]fhir.Resource{}, nil
	}
	return s.directoryDocs(ctx, gen, refs)
}
