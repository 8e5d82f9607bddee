package placement

import (
	"context"
	"slices"
	"sync"

	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/fhir"
	"github.com/dischargegateway/gateway/mappings"
)

// index is each gateway process's cache of what $placement-options
// would otherwise decode from Redis on every request:
//
//   - per directory Location, the matching projection (discharge.Provider)
//     of each HealthcareService there. It is valid for one generation of
//     the directory partition: any directory write moves the generation on
//     (in the same SQL transaction as the write), and a request that sees
//     the new generation reloads the projections. Every gateway replica reads
//     the generation per request, so a directory change is seen by all of
//     them at once, never a request late.
//   - per Location, its decoded capacity posting at one version. A request
//     reads the current version of every candidate (a few bytes each) and
//     fetches and decodes only the postings that changed.
//   - the stored JSON of the HealthcareServices, Locations and
//     Organizations that answers have shown, valid for one generation of
//     the directory like the projections, so rendering an answer reads
//     nothing more from Redis.
//
// Redis stays the one source of truth: nothing here is ever written back,
// and a cold or dropped cache only costs time. Each map is bounded by
// maxEntries; past it the map is emptied and refilled by later requests
// (directory churn is rare, so a simple bound beats an LRU's bookkeeping).
//
// A Location's projections and posting share one entry, so a request
// finds both with one lookup (entries): the lookups of these maps, each
// a cache miss at 25,000 providers, were a tenth of the CPU.
type index struct {
	mu         sync.Mutex
	gen        int64
	locs       map[string]*locEntry       // Location id → its projections and posting
	docs       map[fhir.Ref]fhir.Resource // directory resources shown in answers, at gen
	maxEntries int
}

// locEntry is what the index holds for one Location, read and written
// only under index.mu. A request keeps the entries it looked up; one
// dropped from the map meanwhile (the bound) is written in vain, never
// read again.
type locEntry struct {
	// providers are the projections (empty: no service there) as of
	// generation provGen, when loaded.
	providers []discharge.Provider
	provGen   int64
	loaded    bool
	// posting is the decoded capacity posting (nil: none). It is never
	// changed once stored, only replaced by a newer one, so requests share
	// it as their candidates' Capacity without a copy.
	posting *discharge.Capacity
}

func newIndex(maxEntries int) *index {
	if maxEntries <= 0 {
		maxEntries = 250000
	}
	return &index{locs: map[string]*locEntry{}, docs: map[fhir.Ref]fhir.Resource{}, maxEntries: maxEntries}
}

// entries returns the entry of each location, in order, adding those not
// held yet.
func (idx *index) entries(locIDs []string) []*locEntry {
	out := make([]*locEntry, len(locIDs))
	idx.mu.Lock()
	defer idx.mu.Unlock()
	for i, id := range locIDs {
		e := idx.locs[id]
		if e == nil {
			if len(idx.locs) >= idx.maxEntries {
				clear(idx.locs)
			}
			e = &locEntry{}
			idx.locs[id] = e
		}
		out[i] = e
	}
	return out
}

// generationAsync starts reading the directory partition's generation and
// returns the function that waits for it. The read is made once, whether
// or not the result is waited for.
func (s *Service) generationAsync(ctx context.Context) func() (int64, error) {
	var gen int64
	var err error
	done := make(chan struct{})
	go func() {
		defer close(done)
		gen, err = s.directory.Generation(ctx, fhir.DirectoryPartition)
	}()
	return func() (int64, error) {
		<-done
		return gen, err
	}
}

// providersAt returns the projections of the given locations (ents, their
// entries), in their order, loading the ones not cached at gen, the
// directory's generation read before this call (generationAsync).
// Projections cached at another generation are never used: a generation
// moves only forward, so one loaded after gen was read is valid at gen.
func (s *Service) providersAt(ctx context.Context, gen int64, locIDs []string, ents []*locEntry) ([][]discharge.Provider, error) {
	idx := s.idx
	out := make([][]discharge.Provider, len(locIDs))
	var missing []string
	var at []int
	idx.mu.Lock()
	if gen != idx.gen {
		idx.gen = gen
		clear(idx.docs)
	}
	for i, e := range ents {
		if e.loaded && e.provGen == gen {
			out[i] = e.providers
		} else {
			missing = append(missing, locIDs[i])
			at = append(at, i)
		}
	}
	idx.mu.Unlock()
	if len(missing) == 0 {
		return out, nil
	}
	loaded, err := s.loadProviders(ctx, missing)
	if err != nil {
		return nil, err
	}
	idx.mu.Lock()
	// Keep what was loaded only if no newer generation was seen meanwhile:
	// it was read after gen was, so it is at least as new as gen.
	keep := idx.gen == gen
	for j, id := range missing {
		ps := loaded[id]
		out[at[j]] = ps
		if keep {
			e := ents[at[j]]
			e.providers, e.provGen, e.loaded = ps, gen, true
		}
	}
	idx.mu.Unlock()
	return out, nil
}

// directoryDocs returns the stored directory resources refs name, as of
// generation gen (the one the request's projections were read at): from
// the cache while the directory is still at gen, the rest in one read.
// A resource deleted since is absent.
func (s *Service) directoryDocs(ctx context.Context, gen int64, refs []fhir.Ref) (map[string]fhir.Resource, error) {
	idx := s.idx
	out := make(map[string]fhir.Resource, len(refs))
	var missing []fhir.Ref
	idx.mu.Lock()
	current := idx.gen == gen
	for _, r := range refs {
		if d, ok := idx.docs[r]; ok && current {
			out[r.Type+"/"+r.ID] = d
		} else {
			missing = append(missing, r)
		}
	}
	idx.mu.Unlock()
	if len(missing) == 0 {
		return out, nil
	}
	got, err := s.directory.ReadMany(ctx, fhir.DirectoryPartition, missing)
	if err != nil {
		return nil, err
	}
	idx.mu.Lock()
	// Read after gen was, so at least as new: keep it only while the
	// directory is still at gen.
	keep := idx.gen == gen
	if keep && len(idx.docs)+len(got) > idx.maxEntries {
		clear(idx.docs)
	}
	for _, r := range missing {
		d, ok := got[r.Type+"/"+r.ID]
		if !ok {
			continue
		}
		out[r.Type+"/"+r.ID] = d
		if keep {
			idx.docs[r] = d
		}
	}
	idx.mu.Unlock()
	return out, nil
}

// loadProviders reads the HealthcareServices at the locations and the
// Locations themselves, two round trips, and projects them for matching.
// A location with no (valid) service maps to an empty list, so it is not
// read again until the directory changes.
func (s *Service) loadProviders(ctx context.Context, locIDs []string) (map[string][]discharge.Provider, error) {
	refs := make([]string, len(locIDs))
	lrefs := make([]fhir.Ref, len(locIDs))
	for i, id := range locIDs {
		refs[i] = "Location/" + id
		lrefs[i] = fhir.Ref{Type: "Location", ID: id}
	}
	locs, err := s.directory.ReadMany(ctx, fhir.DirectoryPartition, lrefs)
	if err != nil {
		return nil, err
	}
	out := make(map[string][]discharge.Provider, len(locIDs))
	for _, id := range locIDs {
		out[id] = []discharge.Provider{}
	}
	// Services are paged in case a location has many, until a page comes
	// back short. No total is asked for: counting evaluates the search's
	// conditions, up to 500 locations, a second time.
	const page = 1000
	for offset := 0; ; offset += page {
		svcs, _, err := s.directory.Search(ctx, fhir.DirectoryPartition, fhir.Query{Type: "HealthcareService", Count: page, Offset: offset,
			Filters: []fhir.Filter{{Param: "location", AnyOf: refs}}, NoTotal: true})
		if err != nil {
			return nil, err
		}
		for _, sv := range svcs {
			// Only the asked locations: a service elsewhere too is
			// projected at those only.
			ps, err := mappings.HealthcareServiceProviders(sv.JSON, func(id string) ([]byte, bool) {
				loc, found := locs["Location/"+id]
				_, asked := out[id]
				return loc.JSON, found && asked
			})
			if err != nil {
				continue
			}
			for _, p := range ps {
				out[p.LocationID] = append(out[p.LocationID], p)
			}
		}
		if len(svcs) < page {
			break
		}
	}
	return out, nil
}

// capacityAt returns the current capacity postings of locations (ents,
// their entries), in their order (nil: no posting), and how many there are. hints, when not nil,
// holds the version the geo index reported with each location (0: not
// known); the versions of the others are read in one round trip. Only
// postings whose version differs from the cached copy are fetched and
// decoded, in one more.
func (s *Service) capacityAt(ctx context.Context, locIDs []string, hints []int64, ents []*locEntry) ([]*discharge.Capacity, int, error) {
	versions := make([]int64, len(locIDs))
	var unknown []string
	var at []int
	for i, id := range locIDs {
		if hints != nil && hints[i] > 0 {
			versions[i] = hints[i]
		} else {
			unknown = append(unknown, id)
			at = append(at, i)
		}
	}
	if len(unknown) > 0 {
		vs, err := s.capacity.Versions(ctx, unknown...)
		if err != nil {
			return nil, 0, err
		}
		for j, i := range at {
			versions[i] = vs[j]
		}
	}
	idx := s.idx
	out := make([]*discharge.Capacity, len(locIDs))
	posted := 0
	var stale []string
	at = at[:0]
	idx.mu.Lock()
	for i, e := range ents {
		v := versions[i]
		if v == 0 {
			continue
		}
		if e.posting != nil && e.posting.Version == v {
			out[i] = e.posting
			posted++
		} else {
			stale = append(stale, locIDs[i])
			at = append(at, i)
		}
	}
	idx.mu.Unlock()
	if len(stale) == 0 {
		return out, posted, nil
	}
	fresh, err := s.capacity.Get(ctx, stale...)
	if err != nil {
		return nil, 0, err
	}
	idx.mu.Lock()
	for j, id := range stale {
		c, ok := fresh[id]
		if !ok {
			continue
		}
		i := at[j]
		out[i] = &c
		posted++
		// A newer posting may have been cached by a concurrent request.
		if e := ents[i]; e.posting == nil || e.posting.Version < c.Version {
			e.posting = &c
		}
	}
	idx.mu.Unlock()
	return out, posted, nil
}

// withCoverage copies a cached provider for one request, adding the
// districts its current home-care posting covers without touching the
// cached slice.
func withCoverage(p discharge.Provider, c *discharge.Capacity) discharge.Provider {
	if c == nil || len(c.HomeCare) == 0 {
		return p
	}
	p.Coverage = slices.Clip(p.Coverage)
	for _, h := range c.HomeCare {
		p.Coverage = append(p.Coverage, h.Outcodes...)
	}
	return p
}
