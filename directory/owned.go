package directory

import "sync"

// ownerKey is one question OwnLocation answers: does the organisation
// (system, org) manage the Location?
type ownerKey struct {
	system, org, location string
}

// ownedCache is each process's memory of OwnLocation's yes answers, so a
// posting does not read and decode a Location and its Organization every
// time. An answer is valid for one generation of the directory partition:
// every directory commit moves the generation on in its own transaction,
// whichever process made it, and OwnLocation reads the generation before
// it looks here, so the first call that sees a new generation empties the
// cache. No is never cached: refusals are rare and must stay exact.
//
// Like placement's index, it is bounded by maxEntries and emptied when
// full rather than kept in LRU order (directory churn is rare).
type ownedCache struct {
	mu         sync.Mutex
	gen        int64
	places     map[ownerKey]Place
	maxEntries int
}

func newOwnedCache(maxEntries int) *ownedCache {
	if maxEntries <= 0 {
		maxEntries = 100000
	}
	return &ownedCache{places: map[ownerKey]Place{}, maxEntries: maxEntries}
}

// get returns the answer cached for key, if the cache holds one valid at
// gen, the generation the caller read. An answer cached at a newer
// generation than gen is newer than the caller needs, and served.
func (c *ownedCache) get(gen int64, key ownerKey) (Place, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen > c.gen {
		c.gen = gen
		clear(c.places)
		return Place{}, false
	}
	pl, ok := c.places[key]
	if ok && pl.Position != nil {
		pos := *pl.Position // each caller its own copy
		pl.Position = &pos
	}
	return pl, ok
}

// put keeps an answer read after the caller read gen: it holds at gen or
// later, so it is kept only while the cache is still at gen.
func (c *ownedCache) put(gen int64, key ownerKey, pl Place) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen {
		return
	}
	if len(c.places) >= c.maxEntries {
		clear(c.places)
	}
	if pl.Position != nil {
		pos := *pl.Position
		pl.Position = &pos
	}
	c.places[key] = pl
}
