package rediscache

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/redis/go-redis/v9"

	"github.com/dischargegateway/gateway/adapters/postingjson"
	"github.com/dischargegateway/gateway/capacity"
	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/placement"
)

// CapacityStore keeps each location's current capacity, at the version the
// record gave it, and geo indexes of locations per bed type, sharded by
// postcode area (its keys are listed in keys.go). Its history is the
// record's (capacity.Recorded.HistoryPage), which keeps every posting.
type CapacityStore struct {
	rdb     redis.UniversalClient
	durable durability
	geo     geoCache // this process's copy of the geo shards
}

// NewCapacityStore returns the capacity store.
// Options: WithWait (the posting itself waits for replicas; the geo and
// coverage index entries that follow it do not).
func NewCapacityStore(rdb redis.UniversalClient, opts ...Option) *CapacityStore {
	return &CapacityStore{rdb: rdb, durable: applyOptions(opts).durable}
}

// shardPutScript places a location in a geo shard and records the capacity
// version the shard has seen, never moving it back: postings racing for one
// location leave the newest version, whatever order their index updates
// arrive in. An update older than the version recorded (including a newer
// posting's removal, below) changes nothing. Every change moves the shard's
// generation, which the process copies of the shard are checked against
// (geocache.go). KEYS: shard, its version hash, its generation. ARGV: lon,
// lat, id, version.
var shardPutScript = redis.NewScript(`
local cur = tonumber(redis.call('HGET', KEYS[2], ARGV[3]) or '0')
if tonumber(ARGV[4]) < cur then return 0 end
redis.call('GEOADD', KEYS[1], ARGV[1], ARGV[2], ARGV[3])
redis.call('HSET', KEYS[2], ARGV[3], ARGV[4])
redis.call('INCR', KEYS[3])
return 1
`)

// shardDelScript takes a location out of a geo shard when its posting at
// version no longer offers that bed type (or moved area), unless the shard
// has already seen a newer posting. The version stays recorded (a
// tombstone), so an older posting's late update cannot put the location
// back. KEYS: shard, its version hash, its generation. ARGV: id, version.
var shardDelScript = redis.NewScript(`
local cur = tonumber(redis.call('HGET', KEYS[2], ARGV[1]) or '0')
if tonumber(ARGV[2]) < cur then return 0 end
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
redis.call('INCR', KEYS[3])
return 1
`)

// putScript applies a posting unless the stored one is newer: a later
// as-of, or the same as-of at a version as high (the record numbers a
// location's postings in as-of order, so an equal as-of at a higher version
// is a later correction, and one at the same version is a replay). A
// posting of version 0 (a cache used without a record) is given the
// version after the stored one and replaces at an equal as-of. It records
// the postcode area the posting is geo-indexed in (ARGV[4], "" when it is
// not). KEYS: the location's hash. ARGV: as-of (Unix ms), doc, version,
// area. Returns {version, applied, current doc, the replaced doc or "",
// the replaced posting's area or "", the current posting's area}.
var putScript = redis.NewScript(`
local cur = redis.call('HMGET', KEYS[1], 'asOf', 'rv', 'doc', 'garea')
local asOf, v = tonumber(ARGV[1]), tonumber(ARGV[3])
local curV = tonumber(cur[2] or '0')
if cur[1] then
  local curAsOf = tonumber(cur[1])
  if curAsOf > asOf or (curAsOf == asOf and v > 0 and curV >= v) then
    return {curV, 0, cur[3] or '', '', '', cur[4] or ''}
  end
end
if v == 0 then v = curV + 1 end
redis.call('HSET', KEYS[1], 'asOf', ARGV[1], 'rv', v, 'doc', ARGV[2], 'garea', ARGV[4])
return {v, 1, ARGV[2], cur[3] or '', cur[4] or '', ARGV[4]}
`)

// Put stores a posting at its version (the record's; 0: the one after the
// stored posting's). It returns the capacity now current and whether the
// posting was applied (false: the stored one is newer and was kept).
// The location is geo-indexed at pos, in the shard of its postcode area,
// when pos is not nil; it leaves the shards of bed types, and the coverage
// sets of home-care districts, that the posting it replaces had and this
// one has not. It is PutBatch of one posting.
func (s *CapacityStore) Put(ctx context.Context, c discharge.Capacity, pos *discharge.Position, area string) (discharge.Capacity, bool, error) {
	o := s.PutBatch(ctx, []capacity.Placed{{Capacity: c, Pos: pos, Area: area}})[0]
	return o.Current, o.Applied, o.Err
}

// PutBatch stores postings as Put does, in order (a later one for the same
// location sees the earlier one). Each posting's script is atomic on its
// own, as Put's is; the batch is not a transaction. The outcome of each
// posting is its own: Current is the capacity now current (or the
// posting, on failure).
//
// One round trip for the batch, usually: a posting with a version (the
// record's) has its index entries (freshness, its bed types' geo shards,
// its home-care districts) sent in the same pipeline as its script, ahead
// of knowing whether the script applies it. That is safe because every
// shard entry carries the posting's version and a shard never goes back
// to an older one, and the freshness index keeps the newest as-of (ZADD
// GT). A second round trip follows only for postings whose reply asks for
// more: one that drops a bed type, moves area or stops covering a district
// leaves those shards and sets, and one the script did not apply (a newer
// posting is cached, from another gateway) takes the entries it sent ahead
// out again where the current posting has none. A district set has no
// versions, so two gateways racing can still leave a district entry the
// current posting does not have (or take out one it has until its next
// posting), as before: placement checks the current posting.
//
// A posting of version 0, or any posting with WithWait (its script and
// WAIT on one connection), is indexed after its reply, as before: two
// round trips.
func (s *CapacityStore) PutBatch(ctx context.Context, ps []capacity.Placed) []capacity.Outcome {
	const op = "rediscache.CapacityStore.Put"
	outs := make([]capacity.Outcome, len(ps))
	docs := make([]string, len(ps))
	args := func(i int) []any {
		return []any{ps[i].Capacity.AsOf.UnixMilli(), docs[i], max(ps[i].Capacity.Version, 0), geoArea(ps[i])}
	}
	keys := func(i int) []string {
		return []string{capKey(ps[i].Capacity.LocationID)}
	}
	replies := make([]any, len(ps))
	for i, p := range ps {
		outs[i].Current = p.Capacity
		c := p.Capacity
		c.Version = 0
		doc, err := postingjson.Encode(c)
		if err != nil {
			outs[i].Err = discharge.Wrap(discharge.KindInternal, op, err)
			continue
		}
		docs[i] = string(doc)
	}
	ahead := make([][]redis.Cmder, len(ps)) // index commands sent with the script
	if s.durable.replicas > 0 {
		// The script and WAIT on one connection, posting by posting.
		for i := range ps {
			if outs[i].Err == nil {
				replies[i], outs[i].Err = s.durable.run(ctx, s.rdb, putScript, keys(i), args(i)...)
			}
		}
	} else {
		pipe := s.rdb.Pipeline()
		cmds := make([]*redis.Cmd, len(ps))
		for i, p := range ps {
			if outs[i].Err != nil {
				continue
			}
			cmds[i] = putScript.EvalSha(ctx, pipe, keys(i), args(i)...)
			if p.Capacity.Version > 0 {
				ahead[i] = queueAhead(ctx, pipe, p, p.Capacity.Version)
			}
		}
		pipe.Exec(ctx) // each command's error is its own, below
		for i, cmd := range cmds {
			if cmd == nil {
				continue
			}
			replies[i], outs[i].Err = cmd.Result()
			if outs[i].Err != nil && redis.HasErrorPrefix(outs[i].Err, "NOSCRIPT") {
				// The server lacks the script (a restart, a flush): Run
				// loads it. Later postings of the batch already failed the
				// same way and were not applied, so order is kept.
				replies[i], outs[i].Err = putScript.Run(ctx, s.rdb, keys(i), args(i)...).Result()
			}
			if outs[i].Err == nil {
				outs[i].Err = firstErr(ahead[i])
			}
		}
	}
	pipe := s.rdb.Pipeline()
	after := make([][]redis.Cmder, len(ps))
	for i, out := range replies {
		if outs[i].Err != nil {
			outs[i].Err = classify(op, outs[i].Err)
			continue
		}
		if out == nil {
			continue
		}
		res, ok := out.([]any)
		if !ok || len(res) < 6 {
			outs[i].Err = discharge.Wrap(discharge.KindInternal, op, fmt.Errorf("unexpected reply %T from the capacity script", out))
			continue
		}
		cur, err := decodeCapacity(res[2], toInt64(res[0]))
		if err != nil {
			outs[i].Err = discharge.Wrap(discharge.KindInternal, op, err)
			continue
		}
		outs[i].Current, outs[i].Applied = cur, toInt64(res[1]) == 1
		switch {
		case outs[i].Applied && ahead[i] == nil:
			after[i] = append(queueAhead(ctx, pipe, ps[i], cur.Version), queueLeaving(ctx, pipe, ps[i], cur.Version, res[3], res[4])...)
		case outs[i].Applied:
			after[i] = queueLeaving(ctx, pipe, ps[i], cur.Version, res[3], res[4])
		case ahead[i] != nil:
			after[i] = queueTakeBack(ctx, pipe, ps[i], cur, toString(res[5]))
		}
	}
	if pipe.Len() > 0 {
		pipe.Exec(ctx) // each posting's commands' errors are its own, below
		for i, cmds := range after {
			if err := firstErr(cmds); err != nil && outs[i].Err == nil {
				outs[i].Err = classify(op, err)
			}
		}
	}
	return outs
}

// firstErr is the first error among commands run (redis.Nil is none).
func firstErr(cmds []redis.Cmder) error {
	for _, c := range cmds {
		if err := c.Err(); err != nil && err != redis.Nil {
			return err
		}
	}
	return nil
}

// shardID names one geo shard: a bed type in a postcode area.
type shardID struct {
	bed  discharge.BedType
	area string
}

// keys are the shard's keys its scripts take: the shard, its version hash
// and its generation.
func (sh shardID) keys() []string {
	return []string{geoKey(sh.bed, sh.area), geoVersionKey(sh.bed, sh.area), geoGenKey(sh.bed, sh.area)}
}

// geoArea is the area a posting is geo-indexed in: its location's, or ""
// (none) when the location has no position.
func geoArea(p capacity.Placed) string {
	if p.Pos == nil {
		return ""
	}
	return p.Area
}

// shardsOf are the geo shards a posting indexed in area is in (none for
// area "").
func shardsOf(c discharge.Capacity, area string) map[shardID]bool {
	out := map[shardID]bool{}
	if area == "" {
		return out
	}
	for _, b := range c.Beds {
		out[shardID{b.Type, area}] = true
	}
	return out
}

// districtsOf are the home-care districts a posting covers.
func districtsOf(c discharge.Capacity) map[string]bool {
	out := map[string]bool{}
	for _, h := range c.HomeCare {
		for _, oc := range h.Outcodes {
			out[oc] = true
		}
	}
	return out
}

// queueAhead queues the index entries of a posting at version v: its
// as-of in the freshness index, its bed types in its area's geo shards,
// and its home-care districts.
func queueAhead(ctx context.Context, pipe redis.Pipeliner, p capacity.Placed, v int64) []redis.Cmder {
	c := p.Capacity
	cmds := []redis.Cmder{noteAsOf(ctx, pipe, c.LocationID, c.AsOf)}
	for sh := range shardsOf(c, geoArea(p)) {
		cmds = append(cmds, shardPutScript.Eval(ctx, pipe, sh.keys(), p.Pos.Lon, p.Pos.Lat, c.LocationID, v))
	}
	for oc := range districtsOf(c) {
		cmds = append(cmds, pipe.SAdd(ctx, coverageKey(oc), c.LocationID))
	}
	return cmds
}

// queueLeave queues taking location loc out of the geo shards and district
// sets that posting from (indexed in fromArea) is in and posting kept
// (indexed in keptArea) is not; the shards left record version v, so an
// older posting's late entry cannot put the location back. A district set
// has no versions: an older posting's late SADD can put a location back,
// and placement then drops it by the current posting, as before.
func queueLeave(ctx context.Context, pipe redis.Pipeliner, loc string, from discharge.Capacity, fromArea string, kept discharge.Capacity, keptArea string, v int64) []redis.Cmder {
	var cmds []redis.Cmder
	keptShards := shardsOf(kept, keptArea)
	for sh := range shardsOf(from, fromArea) {
		if !keptShards[sh] {
			cmds = append(cmds, shardDelScript.Eval(ctx, pipe, sh.keys(), loc, v))
		}
	}
	keptDistricts := districtsOf(kept)
	for oc := range districtsOf(from) {
		if !keptDistricts[oc] {
			cmds = append(cmds, pipe.SRem(ctx, coverageKey(oc), loc))
		}
	}
	return cmds
}

// queueLeaving queues the index changes of an applied posting at version v
// beyond its own entries: leaving what the posting it replaced (prevDoc,
// indexed in area prevArea) had and this one has not. Postings stored
// before their area was recorded were indexed in the location's area, the
// one given now.
func queueLeaving(ctx context.Context, pipe redis.Pipeliner, p capacity.Placed, v int64, prevDoc, prevArea any) []redis.Cmder {
	prev, err := decodeCapacity(prevDoc, 0)
	if err != nil {
		return nil // nothing replaced
	}
	area := toString(prevArea)
	if area == "" {
		area = p.Area
	}
	return queueLeave(ctx, pipe, p.Capacity.LocationID, prev, area, p.Capacity, geoArea(p), v)
}

// queueTakeBack queues taking a posting the script did not apply out of
// the geo shards and district sets its entries were sent ahead to
// (queueAhead), where the current posting (cur, indexed in curArea) has
// none. The entry a shard keeps is cur's version, as if cur had left it.
func queueTakeBack(ctx context.Context, pipe redis.Pipeliner, p capacity.Placed, cur discharge.Capacity, curArea string) []redis.Cmder {
	return queueLeave(ctx, pipe, p.Capacity.LocationID, p.Capacity, geoArea(p), cur, curArea, cur.Version)
}

func decodeCapacity(v any, version int64) (discharge.Capacity, error) {
	s, _ := v.(string)
	return postingjson.Decode([]byte(s), version)
}

// Get returns the current capacity of locations; ids without a posting are
// absent from the map. One round trip.
func (s *CapacityStore) Get(ctx context.Context, ids ...string) (map[string]discharge.Capacity, error) {
	const op = "rediscache.CapacityStore.Get"
	pipe := s.rdb.Pipeline()
	cmds := make([]*redis.SliceCmd, len(ids))
	for i, id := range ids {
		cmds[i] = pipe.HMGet(ctx, capKey(id), "rv", "doc")
	}
	if _, err := pipe.Exec(ctx); err != nil && err != redis.Nil {
		return nil, classify(op, err)
	}
	out := make(map[string]discharge.Capacity, len(ids))
	for i, c := range cmds {
		vals := c.Val()
		if len(vals) < 2 || vals[1] == nil {
			continue
		}
		cp, err := decodeCapacity(vals[1], asInt(vals[0]))
		if err != nil {
			return nil, discharge.Wrap(discharge.KindInternal, op, err)
		}
		out[ids[i]] = cp
	}
	return out, nil
}

// Versions returns the current posting version of each location, 0 for
// one that has never posted: one round trip of small replies, so a caller
// that keeps decoded postings fetches only those that changed.
func (s *CapacityStore) Versions(ctx context.Context, ids ...string) ([]int64, error) {
	const op = "rediscache.CapacityStore.Versions"
	pipe := s.rdb.Pipeline()
	cmds := make([]*redis.StringCmd, len(ids))
	for i, id := range ids {
		cmds[i] = pipe.HGet(ctx, capKey(id), "rv")
	}
	if len(ids) > 0 {
		if _, err := pipe.Exec(ctx); err != nil && err != redis.Nil {
			return nil, classify(op, err)
		}
	}
	out := make([]int64, len(ids))
	for i, c := range cmds {
		out[i], _ = c.Int64()
	}
	return out, nil
}

func toString(v any) string { s, _ := v.(string); return s }

// Near finds locations indexed for any of bedTypes within radiusKm of a
// point, searching only the given postcode-area shards, nearest first, at
// most limit of them. Each hit carries the capacity version its shard last
// saw (the highest, when it is in several bed-type shards): the hint
// placement's posting cache reads by, so the hits are placement.Nearby,
// the type of the contract (placement.Capacity) they answer. It reads the
// shards through the process's copy (geocache.go): one round trip of
// generation GETs, and one more only for shards that changed since.
func (s *CapacityStore) Near(ctx context.Context, areas []string, bedTypes []discharge.BedType, lat, lon, radiusKm float64, limit int) ([]placement.Nearby, error) {
	const op = "rediscache.CapacityStore.Near"
	if limit <= 0 {
		limit = 1000
	}
	shards, err := s.shardsAt(ctx, bedTypes, areas)
	if err != nil {
		return nil, classify(op, err)
	}
	return nearShards(shards, lat, lon, radiusKm, limit), nil
}

// nearShards is Near's search of the shards' copies.
func nearShards(shards []*geoShard, lat, lon, radiusKm float64, limit int) []placement.Nearby {
	// Dense areas hold the limit well inside the radius: look in a quarter
	// of it first. When that circle holds limit locations they are the
	// nearest limit of the whole circle (everything outside is further).
	// A quarter that holds fewer is not sorted, only counted.
	if radiusKm >= 8 {
		if out := nearIn(shards, lat, lon, radiusKm/4); len(out) >= limit {
			return nearestFirst(out, limit)
		}
	}
	return nearestFirst(nearIn(shards, lat, lon, radiusKm), limit)
}

// nearIn returns the shards' members within radiusKm of a point, each
// location once (its nearest entry, the highest version any shard
// recorded), in no particular order (nearestFirst sorts them).
func nearIn(shards []*geoShard, lat, lon, radiusKm float64) []placement.Nearby {
	radiusM := radiusKm * 1000
	dLat, dLon := degreesBox(lat, radiusM)
	from := toRad(lon, lat)
	sc := nearScratchPool.Get().(*nearScratch)
	defer sc.put()
	raw := sc.raw[:0]
	withHits := 0 // shards that added hits
	for _, sh := range shards {
		n := len(raw)
		band := sh.band(lat, dLat)
		for i := range band {
			m := &band[i]
			if math.Abs(m.lat-lat) > dLat {
				continue
			}
			if dl := math.Abs(m.lon - lon); dLon < 180 && math.Min(dl, 360-dl) > dLon {
				continue
			}
			d := redisDistanceRad(from, m.rad)
			if d > radiusM {
				continue
			}
			// As GEOSEARCH WITHDIST replies: the unit's distance to 4 decimals.
			raw = append(raw, rawHit{m: m, km: round4(d / 1000)})
		}
		if len(raw) > n {
			withHits++
		}
	}
	sc.raw = raw
	if withHits < 2 {
		// A shard lists a location once.
		out := make([]placement.Nearby, len(raw))
		for i, h := range raw {
			out[i] = placement.Nearby{LocationID: h.m.id, DistanceKm: h.km, CapacityVersion: h.m.version}
		}
		return out
	}
	// A location in several shards (several bed types) is merged into its
	// first entry, in shard order, found by its id's number: at[k] is the
	// index in out of location k when stamp[k] is this search's.
	sc.nextSearch()
	out := make([]placement.Nearby, 0, len(raw))
	for _, h := range raw {
		k := int(h.m.key)
		if k >= len(sc.stamp) {
			sc.grow(k + 1)
		}
		if sc.stamp[k] == sc.search {
			j := sc.at[k]
			out[j].DistanceKm = min(out[j].DistanceKm, h.km)
			out[j].CapacityVersion = max(out[j].CapacityVersion, h.m.version)
			continue
		}
		sc.stamp[k], sc.at[k] = sc.search, int32(len(out))
		out = append(out, placement.Nearby{LocationID: h.m.id, DistanceKm: h.km, CapacityVersion: h.m.version})
	}
	return slices.Clip(out)
}

// rawHit is a shard member inside the circle, before locations in several
// shards are merged.
type rawHit struct {
	m  *geoMember
	km float64
}

// nearScratch is nearIn's working memory, reused across searches: the
// hits of a dense search and the map merging them were most of its
// allocations, grown afresh for every request.
type nearScratch struct {
	raw []rawHit
	// stamp and at are indexed by a location's number: at is its index in
	// the search's output when stamp holds the search's number.
	stamp  []uint32
	at     []int32
	search uint32
}

var nearScratchPool = sync.Pool{New: func() any { return &nearScratch{} }}

// nextSearch numbers a new search, so every stamp of an earlier one is
// stale without clearing them (but once every 2^32 searches).
func (sc *nearScratch) nextSearch() {
	sc.search++
	if sc.search == 0 {
		clear(sc.stamp)
		sc.search = 1
	}
}

// grow makes room for location numbers below n.
func (sc *nearScratch) grow(n int) {
	n = max(n, 2*len(sc.stamp))
	sc.stamp = append(sc.stamp, make([]uint32, n-len(sc.stamp))...)
	sc.at = append(sc.at, make([]int32, n-len(sc.at))...)
}

// put empties the scratch (dropping its references to shard copies, which
// a reload replaces) and returns it to the pool.
func (sc *nearScratch) put() {
	clear(sc.raw)
	sc.raw = sc.raw[:0]
	nearScratchPool.Put(sc)
}

// nearestFirst returns the nearest limit of hits (each location once),
// nearest first, ties by id: the limit nearest are selected in linear time
// and only they are sorted, not every hit in the circle.
func nearestFirst(hits []placement.Nearby, limit int) []placement.Nearby {
	if limit < len(hits) {
		selectNearest(hits, limit)
		hits = hits[:limit]
	}
	slices.SortFunc(hits, compareNearby)
	return hits
}

// compareNearby is byDistance on hits. Distances that differ decide
// without the ids (cmp.Or's arguments, the ids' comparison among them,
// are all evaluated): what byDistance answers, as cmp.Compare orders two
// numbers that are neither equal nor NaN by < alone.
func compareNearby(a, b placement.Nearby) int {
	switch {
	case a.DistanceKm < b.DistanceKm:
		return -1
	case a.DistanceKm > b.DistanceKm:
		return 1
	}
	return byDistance(a.DistanceKm, b.DistanceKm, a.LocationID, b.LocationID)
}

// selectNearest reorders hits so that hits[:k] are the k nearest in
// compareNearby's order (a total order: a location is listed once), in no
// particular order among themselves (quickselect, median-of-three pivot).
func selectNearest(hits []placement.Nearby, k int) {
	lo, hi := 0, len(hits)-1
	for lo < hi {
		// Median of lo, mid and hi as the pivot, moved to hi.
		mid := lo + (hi-lo)/2
		if compareNearby(hits[mid], hits[lo]) < 0 {
			hits[mid], hits[lo] = hits[lo], hits[mid]
		}
		if compareNearby(hits[hi], hits[lo]) < 0 {
			hits[hi], hits[lo] = hits[lo], hits[hi]
		}
		if compareNearby(hits[mid], hits[hi]) < 0 {
			hits[mid], hits[hi] = hits[hi], hits[mid]
		}
		pivot := hits[hi]
		p := lo
		for i := lo; i < hi; i++ {
			if compareNearby(hits[i], pivot) < 0 {
				hits[i], hits[p] = hits[p], hits[i]
				p++
			}
		}
		hits[p], hits[hi] = hits[hi], hits[p]
		// hits[lo:p] precede the pivot, now at p, and hits[p+1:hi+1] follow it.
		switch {
		case p == k:
			return
		case p < k:
			lo = p + 1
		default:
			hi = p - 1
		}
	}
}

// byDistance orders hits nearest first, ties by id, so results are stable.
func byDistance(aKm, bKm float64, aID, bID string) int {
	return cmp.Or(cmp.Compare(aKm, bKm), strings.Compare(aID, bID))
}

// locGeoKey is the geo shard of directory Locations of one postcode area.

// IndexLocation places a directory Location in its area's geo shard,
// leaving the shard it was in before if its area changed.
func (s *CapacityStore) IndexLocation(ctx context.Context, id string, pos discharge.Position, area string) error {
	const op = "rediscache.CapacityStore.IndexLocation"
	old, err := s.rdb.HGet(ctx, capKey(id), "area").Result()
	if err != nil && err != redis.Nil {
		return classify(op, err)
	}
	pipe := s.rdb.Pipeline()
	if old != "" && old != area {
		pipe.ZRem(ctx, locGeoKey(old), id)
	}
	pipe.GeoAdd(ctx, locGeoKey(area), &redis.GeoLocation{Name: id, Longitude: pos.Lon, Latitude: pos.Lat})
	pipe.HSet(ctx, capKey(id), "area", area)
	_, err = pipe.Exec(ctx)
	return classify(op, err)
}

// NearLocations finds directory Locations within radiusKm, nearest first.
func (s *CapacityStore) NearLocations(ctx context.Context, areas []string, lat, lon, radiusKm float64, limit int) ([]discharge.Nearby, error) {
	const op = "rediscache.CapacityStore.NearLocations"
	pipe := s.rdb.Pipeline()
	cmds := make([]*redis.GeoSearchLocationCmd, len(areas))
	for i, a := range areas {
		cmds[i] = pipe.GeoSearchLocation(ctx, locGeoKey(a), &redis.GeoSearchLocationQuery{
			GeoSearchQuery: redis.GeoSearchQuery{Longitude: lon, Latitude: lat, Radius: radiusKm, RadiusUnit: "km", Sort: "ASC", Count: limit},
			WithDist:       true})
	}
	if _, err := pipe.Exec(ctx); err != nil && err != redis.Nil {
		return nil, classify(op, err)
	}
	var out []discharge.Nearby
	for _, c := range cmds {
		for _, l := range c.Val() {
			out = append(out, discharge.Nearby{LocationID: l.Name, DistanceKm: l.Dist})
		}
	}
	slices.SortFunc(out, func(a, b discharge.Nearby) int {
		return byDistance(a.DistanceKm, b.DistanceKm, a.LocationID, b.LocationID)
	})
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// Covering returns the locations that have posted home care for a district.
// A location whose latest posting no longer covers it is still listed; the
// caller reads the current posting and checks.
func (s *CapacityStore) Covering(ctx context.Context, outcode string) ([]string, error) {
	ids, err := s.rdb.SMembers(ctx, coverageKey(outcode)).Result()
	if err != nil {
		return nil, classify("rediscache.CapacityStore.Covering", err)
	}
	slices.Sort(ids)
	return ids, nil
}

// asInt reads a Redis string reply as an integer (0 when absent).
func asInt(v any) int64 {
	s, ok := v.(string)
	if !ok {
		return 0
	}
	n, _ := strconv.ParseInt(s, 10, 64)
	return n
}

// toInt64 reads a script's integer or string reply as an integer.
func toInt64(v any) int64 {
	switch n := v.(type) {
	case int64:
		return n
	case string:
		x, _ := strconv.ParseInt(n, 10, 64)
		return x
	}
	return 0
}
