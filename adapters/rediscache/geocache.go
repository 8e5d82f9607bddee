package rediscache

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"sync"

	"github.com/redis/go-redis/v9"

	"github.com/dischargegateway/gateway/discharge"
)

// The capacity geo shards are read through a per-process copy. Every write
// to a shard or its version hash (shardPutScript, shardDelScript) also
// increments the shard's generation, dg:{geo:<bed>:<area>}:g, in the same
// script. Near reads the generations of the shards it needs (one pipelined
// GET each, a few bytes), reloads only the shards whose generation moved
// (members, positions, versions and generation in one script, so they are
// one consistent snapshot), and computes distances itself. A request
// therefore sees every shard as of the moment it asked, as a GEOSEARCH
// would, without Redis scanning and the client parsing the same shards'
// members on every request: GEOSEARCH was most of Redis's CPU per
// placement request and half of the gateway's candidate gathering.
//
// Distances are Redis's own: the same haversine on the same sphere
// (6372797.560856 m) from the member's stored position (the centre of its
// 52-bit geohash cell, as GEOPOS returns it), rounded to 4 decimals as
// WITHDIST replies, and a member is in the circle on the same test.
// TestNearMatchesGeosearch compares the two on random shards.
//
// The copy holds at most what the shards hold (one entry per location and
// bed type it posts), so it needs no other bound.
//
// Upgrading from a release without shard generations: a shard written only
// by such a release has no generation, which reads as 0 and is cached as
// such. Replace every replica at once (or post capacity again after the
// rollout), since an old replica's writes do not move the generation.

// geoGenKey is a geo shard's generation counter (same slot as the shard).

// shardLoadScript reads a whole geo shard: its generation, member ids,
// their positions and the capacity versions recorded for them, in
// batches (Lua's unpack has a stack limit). KEYS: shard, version hash,
// generation.
var shardLoadScript = redis.NewScript(`
local ids = redis.call('ZRANGE', KEYS[1], 0, -1)
local pos, vs = {}, {}
for i = 1, #ids, 1000 do
  local batch = {}
  for j = i, math.min(i + 999, #ids) do batch[#batch + 1] = ids[j] end
  local p = redis.call('GEOPOS', KEYS[1], unpack(batch))
  local v = redis.call('HMGET', KEYS[2], unpack(batch))
  for k = 1, #batch do
    local xy = p[k]
    if xy then
      pos[#pos + 1] = xy[1]
      pos[#pos + 1] = xy[2]
    else
      pos[#pos + 1] = ''
      pos[#pos + 1] = ''
    end
    vs[#vs + 1] = v[k] or '0'
  end
end
return {redis.call('GET', KEYS[3]) or '0', ids, pos, vs}
`)

// geoMember is one location in a cached shard.
type geoMember struct {
	id       string
	lat, lon float64 // degrees, as GEOPOS returns them
	rad      radPoint
	version  int64
	key      int32 // the id's number (geoCache.keys)
}

type geoShard struct {
	gen int64
	// members are in order of latitude (sortByLat), so that a search
	// reads only the band of them its circle spans (band), not the whole
	// shard.
	members []geoMember
}

func (sh *geoShard) sortByLat() {
	slices.SortFunc(sh.members, func(a, b geoMember) int { return cmp.Compare(a.lat, b.lat) })
}

// bandSlack widens a band beyond its box by far more than the rounding of
// lat±dLat, so a member the box test |m.lat-lat| <= dLat keeps is never
// outside the band.
const bandSlack = 1e-9

// band returns the members whose latitude may lie within dLat of lat:
// every one that nearIn's box test can pass, and hardly any other.
func (sh *geoShard) band(lat, dLat float64) []geoMember {
	lo, hi := lat-dLat-bandSlack, lat+dLat+bandSlack
	ms := sh.members
	i := sort.Search(len(ms), func(k int) bool { return ms[k].lat >= lo })
	j := i + sort.Search(len(ms)-i, func(k int) bool { return ms[i+k].lat > hi })
	return ms[i:j]
}

// geoCache is a process's copy of the capacity geo shards, keyed by shard
// key. Entries are immutable once stored; a reload replaces the pointer.
type geoCache struct {
	mu     sync.RWMutex
	shards map[string]*geoShard
	// keys numbers every location id a shard copy has held, so a search
	// merges a location's entries in several shards by number, in arrays,
	// not by id in a map (nearIn). It only grows, by the locations the
	// capacity index has ever held. keysMu guards it, not mu, so that
	// numbering a reloaded shard holds up no search.
	keysMu sync.Mutex
	keys   map[string]int32
}

func (g *geoCache) get(key string) *geoShard {
	g.mu.RLock()
	defer g.mu.RUnlock()
	return g.shards[key]
}

// put numbers a freshly loaded shard's members (number) and keeps the
// shard unless a newer copy is kept already.
func (g *geoCache) put(key string, sh *geoShard) {
	g.number(sh)
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.shards == nil {
		g.shards = map[string]*geoShard{}
	}
	// Two requests may reload one shard at once; keep the newer copy.
	if cur := g.shards[key]; cur == nil || cur.gen <= sh.gen {
		g.shards[key] = sh
	}
}

// shardsAt returns the current copy of each named shard: one round trip for
// the generations, and one more only when some shard moved.
func (s *CapacityStore) shardsAt(ctx context.Context, beds []discharge.BedType, areas []string) ([]*geoShard, error) {
	type ref struct {
		bed  discharge.BedType
		area string
		key  string
	}
	refs := make([]ref, 0, len(beds)*len(areas))
	pipe := s.rdb.Pipeline()
	gens := make([]*redis.StringCmd, 0, cap(refs))
	for _, b := range beds {
		for _, a := range areas {
			refs = append(refs, ref{b, a, geoKey(b, a)})
			gens = append(gens, pipe.Get(ctx, geoGenKey(b, a)))
		}
	}
	if len(refs) == 0 {
		return nil, nil
	}
	if _, err := pipe.Exec(ctx); err != nil && err != redis.Nil {
		return nil, err
	}
	out := make([]*geoShard, len(refs))
	var stale []int
	for i, r := range refs {
		gen, err := gens[i].Int64()
		if err != nil && err != redis.Nil {
			return nil, err
		}
		if sh := s.geo.get(r.key); sh != nil && sh.gen == gen {
			out[i] = sh
			continue
		}
		stale = append(stale, i)
	}
	if len(stale) == 0 {
		return out, nil
	}
	pipe = s.rdb.Pipeline()
	loads := make([]*redis.Cmd, len(stale))
	for j, i := range stale {
		r := refs[i]
		loads[j] = shardLoadScript.EvalSha(ctx, pipe, []string{r.key, geoVersionKey(r.bed, r.area), geoGenKey(r.bed, r.area)})
	}
	if _, err := pipe.Exec(ctx); err != nil && err != redis.Nil {
		if !isNoScript(err) {
			return nil, err
		}
		// First use on this server (or after SCRIPT FLUSH): send the
		// bodies, which also loads them.
		pipe = s.rdb.Pipeline()
		for j, i := range stale {
			r := refs[i]
			loads[j] = shardLoadScript.Eval(ctx, pipe, []string{r.key, geoVersionKey(r.bed, r.area), geoGenKey(r.bed, r.area)})
		}
		if _, err := pipe.Exec(ctx); err != nil && err != redis.Nil {
			return nil, err
		}
	}
	for j, i := range stale {
		sh, err := decodeShard(loads[j].Val())
		if err != nil {
			return nil, err
		}
		s.geo.put(refs[i].key, sh)
		out[i] = sh
	}
	return out, nil
}

// number gives each member of a shard not yet shared its id's number in
// keys, adding the ids not numbered yet.
func (g *geoCache) number(sh *geoShard) {
	g.keysMu.Lock()
	defer g.keysMu.Unlock()
	if g.keys == nil {
		g.keys = map[string]int32{}
	}
	for i := range sh.members {
		m := &sh.members[i]
		k, ok := g.keys[m.id]
		if !ok {
			k = int32(len(g.keys))
			g.keys[m.id] = k
		}
		m.key = k
	}
}

// isNoScript reports whether a pipeline failed only because a script was
// not loaded on the server yet.
func isNoScript(err error) bool { return redis.HasErrorPrefix(err, "NOSCRIPT") }

func decodeShard(v any) (*geoShard, error) {
	parts, ok := v.([]any)
	if !ok || len(parts) != 4 {
		return nil, fmt.Errorf("unexpected reply %T from the shard load script", v)
	}
	gen, _ := strconv.ParseInt(toString(parts[0]), 10, 64)
	ids, _ := parts[1].([]any)
	pos, _ := parts[2].([]any)
	vs, _ := parts[3].([]any)
	if len(pos) != 2*len(ids) || len(vs) != len(ids) {
		return nil, fmt.Errorf("shard load script: %d ids, %d coordinates, %d versions", len(ids), len(pos), len(vs))
	}
	sh := &geoShard{gen: gen, members: make([]geoMember, 0, len(ids))}
	for i, id := range ids {
		lon, err1 := strconv.ParseFloat(toString(pos[2*i]), 64)
		lat, err2 := strconv.ParseFloat(toString(pos[2*i+1]), 64)
		if err1 != nil || err2 != nil {
			continue // removed between ZRANGE and GEOPOS cannot happen in a script; be safe
		}
		ver, _ := strconv.ParseInt(toString(vs[i]), 10, 64)
		sh.members = append(sh.members, geoMember{id: toString(id), lat: lat, lon: lon, rad: toRad(lon, lat), version: ver})
	}
	sh.sortByLat()
	return sh, nil
}

// Redis's geo distance (src/geohash_helper.c): haversine on a sphere of
// this radius, with the same shortcut when the longitudes are equal, so a
// member is inside a circle exactly when GEOSEARCH would say so.
const redisEarthRadiusM = 6372797.560856

func degRad(d float64) float64 { return d * (math.Pi / 180.0) }

// radPoint is a point in radians with the cosine of its latitude: what
// the haversine needs of it, computed once per shard member (at load) and
// once per search, not once per distance.
type radPoint struct {
	lonR, latR, cosLat float64
}

func toRad(lon, lat float64) radPoint {
	latR := degRad(lat)
	return radPoint{lonR: degRad(lon), latR: latR, cosLat: math.Cos(latR)}
}

// redisDistanceRad is Redis's geohashGetDistance, operation for
// operation, in metres, from points already in radians.
func redisDistanceRad(p1, p2 radPoint) float64 {
	v := math.Sin((p2.lonR - p1.lonR) / 2)
	if v == 0 {
		return redisEarthRadiusM * math.Abs(p2.latR-p1.latR)
	}
	u := math.Sin((p2.latR - p1.latR) / 2)
	a := u*u + p1.cosLat*p2.cosLat*v*v
	return 2.0 * redisEarthRadiusM * math.Asin(math.Sqrt(a))
}

// degreesBox returns how far, in degrees of latitude and of longitude, a
// circle of radiusM around lat can reach: a cheap box test before the
// haversine. Generous (10 % over) so the box never cuts what the circle
// holds; the haversine decides.
func degreesBox(lat, radiusM float64) (dLat, dLon float64) {
	dLat = 1.1 * radiusM / redisEarthRadiusM * 180 / math.Pi
	c := math.Cos(degRad(math.Min(89, math.Abs(lat)+dLat)))
	if c < 0.01 {
		return dLat, 360
	}
	return dLat, dLat / c
}

// round4 is x rounded to 4 decimals as GEOSEARCH WITHDIST replies it and
// strconv.ParseFloat(strconv.FormatFloat(x, 'f', 4, 64), 64) reads it,
// without the two conversions (they were a fifth of nearIn's CPU). Below
// 10⁹ (any distance on Earth, in km or m), x·10⁴ is computed with an error
// under 10⁻⁷, so
// when its fraction is not within 10⁻⁶ of one half, math.Round picks the
// same integer n that the exact decimal rounding does, and n/10⁴, one
// correctly rounded division, is the float nearest n·10⁻⁴, which is what
// ParseFloat returns. Near a half (FormatFloat breaks exact ties to even,
// math.Round away from zero) and for values too large or not finite, the
// strings decide.
func round4(x float64) float64 {
	y := x * 1e4
	n := math.Round(y)
	if math.Abs(math.Abs(y-n)-0.5) > 1e-6 && math.Abs(y) < 1e9 {
		return n / 1e4
	}
	r, _ := strconv.ParseFloat(strconv.FormatFloat(x, 'f', 4, 64), 64)
	return r
}
