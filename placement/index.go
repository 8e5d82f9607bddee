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
//     (in the same SQL transaction as the write), and the next request that sees
//     the new generation drops the projections. Every gateway replica reads
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
type index struct {
	mu         sync.Mutex
	gen        int64
	providers  map[string][]discharge.Provider // Location id → projections; empty: no service there
	capacity   map[string]discharge.Capacity   // Location id → decoded posting (with its Version)
	docs       map[fhir.Ref]fhir.Resource      // directory resources shown in answers, at gen
	maxEntries int
}

func newIndex(maxEntries int) *index {
	if maxEntries <= 0 {
		maxEntries = 250000
	}
	return &index{providers: map[string][]discharge.Provider{}, capacity: map[string]discharge.Capacity{},
		docs: map[fhir.Ref]fhir.Resource{}, maxEntries: maxEntries}
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

// providersAt returns the projections of the given locations, in their
// order, loading the ones not cached at gen, the directory's generation
// read before this call (generationAsync).
func (s *Service) providersAt(ctx context.Context, gen int64, locIDs []string) ([][]discharge.Provider, error) {
	idx := s.idx
	out := make([][]discharge.Provider, len(locIDs))
	var missing []string
	var at []int
	idx.mu.Lock()
	if gen != idx.gen {
		idx.gen = gen
		clear(idx.providers)
		clear(idx.docs)
	}
	for i, id := range locIDs {
		if ps, ok := idx.providers[id]; ok {
			out[i] = ps
		} else {
			missing = append(missing, id)
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
	if keep && len(idx.providers)+len(loaded) > idx.maxEntries {
		clear(idx.providers)
	}
	for j, id := range missing {
		ps := loaded[id]
		out[at[j]] = ps
		if keep {
			idx.providers[id] = ps
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
	// Services are paged in case a location has many.
	const page = 1000
	for offset := 0; ; offset += page {
		svcs, total, err := s.directory.Search(ctx, fhir.DirectoryPartition, fhir.Query{Type: "HealthcareService", Count: page, Offset: offset,
			Filters: []fhir.Filter{{Param: "location", AnyOf: refs}}})
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
		if offset+page >= total {
			break
		}
	}
	return out, nil
}

// capacityAt returns the current capacity postings of locations, in their
// order (nil: no posting), and how many there are. hints, when not nil,
// holds the version the geo index reported with each location (0: not
// known); the versions of the others are read in one round trip. Only
// postings whose version differs from the cached copy are fetched and
// decoded, in one more.
func (s *Service) capacityAt(ctx context.Context, locIDs []string, hints []int64) ([]*discharge.Capacity, int, error) {
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
	// One backing array for the postings, not a heap object per location.
	postings := make([]discharge.Capacity, len(locIDs))
	out := make([]*discharge.Capacity, len(locIDs))
	posted := 0
	var stale []string
	at = at[:0]
	idx.mu.Lock()
	for i, id := range locIDs {
		v := versions[i]
		if v == 0 {
			continue
		}
		if c, ok := idx.capacity[id]; ok && c.Version == v {
			postings[i] = c
			out[i] = &postings[i]
			posted++
		} else {
			stale = append(stale, id)
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
	if len(idx.capacity)+len(fresh) > idx.maxEntries {
		clear(idx.capacity)
	}
	for j, id := range stale {
		c, ok := fresh[id]
		if !ok {
			continue
		}
		i := at[j]
		postings[i] = c
		out[i] = &postings[i]
		posted++
		// A newer posting may have been cached by a concurrent request.
		if cur, ok := idx.capacity[id]; !ok || cur.Version < c.Version {
			idx.capacity[id] = c
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
