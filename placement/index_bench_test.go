package placement

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/dischargegateway/gateway/discharge"
)

// BenchmarkCachedCandidates reads the cached projections and postings of
// 500 of 25,000 locations, as a placement request at that size does once
// its caches are warm.
func BenchmarkCachedCandidates(b *testing.B) {
	s := New(Config{}, nil, nil, nil, nil)
	const n = 25000
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("loc-%05d", i)
	}
	prefill(s, ids)
	rng := rand.New(rand.NewPCG(1, 2))
	reqs := make([][]string, 64)
	hints := make([]int64, 500)
	for i := range hints {
		hints[i] = 7
	}
	for r := range reqs {
		reqs[r] = make([]string, 500)
		for i := range reqs[r] {
			// Fresh strings, as a reply from Redis holds.
			reqs[r][i] = string([]byte(ids[rng.IntN(n)]))
		}
	}
	ctx := context.Background()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		lookup(ctx, s, reqs[i%len(reqs)], hints)
		i++
	}
}

// prefill caches a projection and a posting for each location.
func prefill(s *Service, ids []string) {
	s.idx.gen = 1
	for i, e := range s.idx.entries(ids) {
		id := ids[i]
		e.providers, e.provGen, e.loaded = cachedProvider(id), 1, true
		c := cachedPosting(id)
		e.posting = &c
	}
}

// lookup is what candidates reads from the index for one request.
func lookup(ctx context.Context, s *Service, locIDs []string, hints []int64) {
	ents := s.idx.entries(locIDs)
	if _, err := s.providersAt(ctx, 1, locIDs, ents); err != nil {
		panic(err)
	}
	if _, n, err := s.capacityAt(ctx, locIDs, hints, ents); err != nil || n != len(locIDs) {
		panic(n)
	}
}

func cachedProvider(id string) []discharge.Provider {
	return []discharge.Provider{{ServiceID: "svc-" + id, LocationID: id, OrganizationID: "org-" + id, Settings: []discharge.CareSetting{"x"}}}
}

func cachedPosting(id string) discharge.Capacity {
	return discharge.Capacity{LocationID: id, Version: 7, AsOf: time.Unix(0, 0), Beds: []discharge.BedCapacity{{Type: discharge.BedNursing}}}
}
