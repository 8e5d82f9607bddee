package rediscache

import (
	"context"
	"encoding/json"
	"math"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/fhir"
)

// Store keeps versioned FHIR resources in Redis.
type Store struct {
	rdb     redis.UniversalClient
	durable durability
	shards  map[string]int
	routes  sync.Map // "partition|Type/id" → shard, for sharded partitions (routes never change)
}

var _ fhir.Store = (*Store)(nil)

// New returns a Store over an open client. Options: WithWait.
func New(rdb redis.UniversalClient, opts ...Option) *Store {
	o := applyOptions(opts)
	return &Store{rdb: rdb, durable: o.durable, shards: o.shards}
}

// runScript runs a write script, waiting for replicas when configured.
func (s *Store) runScript(ctx context.Context, sc *redis.Script, keys []string, args ...any) (any, error) {
	return s.durable.run(ctx, s.rdb, sc, keys, args...)
}

// membership is one index entry a resource currently has, kept on the
// resource so the next version can remove it.
type membership struct {
	Param string `json:"p"`
	Token string `json:"t,omitempty"`
	Range bool   `json:"r,omitempty"`
}

// commitScript checks every guard and every expected version first and
// writes nothing if one fails; otherwise it writes every resource, its
// history entry and its index changes. KEYS are all declared; ARGV[1] is the
// plan, and ARGV[2..] are the resources' JSON (so it is not encoded twice).
var commitScript = redis.NewScript(`
local plan = cjson.decode(ARGV[1])
for _, g in ipairs(plan.g) do
  if redis.call('SCARD', KEYS[g]) > 0 then return 'guard' end
end
for _, w in ipairs(plan.w) do
  local cur = redis.call('HGET', KEYS[w.r], 'v')
  local v = 0
  if cur then v = tonumber(cur) end
  if v ~= w.e then return 'version' end
end
for _, w in ipairs(plan.w) do
  for _, k in ipairs(w.tr) do redis.call('SREM', KEYS[k], w.id) end
  for _, k in ipairs(w.rr) do redis.call('ZREM', KEYS[k], w.id) end
  for _, k in ipairs(w.ta) do redis.call('SADD', KEYS[k], w.id) end
  for _, r in ipairs(w.ra) do redis.call('ZADD', KEYS[r[1]], r[2], w.id) end
  local j = ARGV[w.j]
  redis.call('HSET', KEYS[w.r], 'v', w.v, 'j', j, 'lu', w.lu, 'ix', w.ix)
  redis.call('HSET', KEYS[w.h], tostring(w.v), j, tostring(w.v) .. ':lu', w.lu)
  redis.call('ZADD', KEYS[w.a], 0, w.id)
end
redis.call('INCR', KEYS[plan.n])
return 'ok'
`)

type planWrite struct {
	R  int     `json:"r"`  // resource key
	H  int     `json:"h"`  // history key
	A  int     `json:"a"`  // all-ids key
	ID string  `json:"id"` // resource id
	E  int64   `json:"e"`  // expected current version
	V  int64   `json:"v"`  // new version
	J  int     `json:"j"`  // ARGV index of the JSON
	LU string  `json:"lu"` // last updated, Unix ns
	IX string  `json:"ix"` // new memberships, JSON
	TR []int   `json:"tr"` // token keys to leave
	RR []int   `json:"rr"` // range keys to leave
	TA []int   `json:"ta"` // token keys to join
	RA [][]any `json:"ra"` // [range key, score] to join
}

type plan struct {
	G []int       `json:"g"`
	W []planWrite `json:"w"`
	N int         `json:"n"` // the partition's generation counter
}

// Commit stores all writes atomically, or nothing. It first reads each
// resource's current index memberships (to declare the keys it will leave);
// the script's version check makes that read safe.
func (s *Store) commitOne(ctx context.Context, partition string, writes []fhir.Write, guards []fhir.Guard) error {
	const op = "rediscache.Commit"
	if len(writes) == 0 {
		// Nothing to store (an empty transaction): no script, and the
		// generation does not move, since nothing derived from the
		// partition changed. Guards only matter for the writes they protect.
		return nil
	}
	k := keysFor(partition)
	var keyList []string
	keyIdx := map[string]int{}
	key := func(name string) int {
		if i, ok := keyIdx[name]; ok {
			return i
		}
		keyList = append(keyList, name)
		keyIdx[name] = len(keyList) // Lua is 1-based
		return len(keyList)
	}
	// Current memberships, in one round trip.
	pipe := s.rdb.Pipeline()
	cur := make([]*redis.SliceCmd, len(writes))
	for i, w := range writes {
		cur[i] = pipe.HMGet(ctx, k.resource(w.Resource.Type, w.Resource.ID), "v", "ix")
	}
	if _, err := pipe.Exec(ctx); err != nil && err != redis.Nil {
		return classify(op, err)
	}
	// Empty lists must reach the script as [] (cjson: a table), never null.
	p := plan{G: []int{}, W: make([]planWrite, 0, len(writes))}
	p.N = key(k.generation())
	argv := []any{nil}
	for _, g := range guards {
		p.G = append(p.G, key(k.token(g.Type, g.Param, g.Token)))
	}
	for i, w := range writes {
		r := w.Resource
		vals := cur[i].Val()
		if v := asInt(vals[0]); v != w.ExpectVersion {
			return &discharge.Error{Kind: discharge.KindRetry, Op: op, Message: "version changed"}
		}
		var old []membership
		if s, ok := vals[1].(string); ok && s != "" {
			_ = json.Unmarshal([]byte(s), &old)
		}
		pw := planWrite{
			R: key(k.resource(r.Type, r.ID)), H: key(k.history(r.Type, r.ID)), A: key(k.all(r.Type)),
			ID: r.ID, E: w.ExpectVersion, V: r.VersionID,
			LU: strconv.FormatInt(r.LastUpdated.UnixNano(), 10),
			TR: []int{}, RR: []int{}, TA: []int{}, RA: [][]any{},
		}
		argv = append(argv, string(r.JSON))
		pw.J = len(argv)
		for _, m := range old {
			if m.Range {
				pw.RR = append(pw.RR, key(k.low(r.Type, m.Param)), key(k.high(r.Type, m.Param)))
			} else {
				pw.TR = append(pw.TR, key(k.token(r.Type, m.Param, m.Token)))
			}
		}
		var now []membership
		ranges := map[string][2]float64{}
		seen := map[string]bool{}
		for _, e := range w.Index {
			if e.IsRange {
				hull, ok := ranges[e.Param]
				if !ok {
					hull = [2]float64{e.Low, e.High}
				}
				hull[0], hull[1] = math.Min(hull[0], e.Low), math.Max(hull[1], e.High)
				ranges[e.Param] = hull
				continue
			}
			tk := k.token(r.Type, e.Param, e.Token)
			if seen[tk] {
				continue
			}
			seen[tk] = true
			pw.TA = append(pw.TA, key(tk))
			now = append(now, membership{Param: e.Param, Token: e.Token})
		}
		params := make([]string, 0, len(ranges))
		for p := range ranges {
			params = append(params, p)
		}
		sort.Strings(params)
		for _, param := range params {
			hull := ranges[param]
			pw.RA = append(pw.RA, []any{key(k.low(r.Type, param)), score(hull[0])},
				[]any{key(k.high(r.Type, param)), score(hull[1])})
			now = append(now, membership{Param: param, Range: true})
		}
		ix, _ := json.Marshal(now)
		pw.IX = string(ix)
		p.W = append(p.W, pw)
	}
	pj, err := json.Marshal(p)
	if err != nil {
		return discharge.Wrap(discharge.KindInternal, op, err)
	}
	argv[0] = string(pj)
	out, err := s.runScript(ctx, commitScript, keyList, argv...)
	if err != nil {
		return classify(op, err)
	}
	res, _ := out.(string)
	if res != "ok" {
		return &discharge.Error{Kind: discharge.KindRetry, Op: op, Message: res + " check failed"}
	}
	return nil
}

// score formats a range end for ZADD and ZRANGEBYSCORE; ±Inf and the
// largest floats stand for open ends.
func score(f float64) string {
	switch {
	case math.IsInf(f, 1) || f >= math.MaxFloat64:
		return "+inf"
	case math.IsInf(f, -1) || f <= -math.MaxFloat64:
		return "-inf"
	}
	return strconv.FormatFloat(f, 'f', -1, 64)
}

func asInt(v any) int64 {
	s, ok := v.(string)
	if !ok {
		return 0
	}
	n, _ := strconv.ParseInt(s, 10, 64)
	return n
}

// Read returns the current version of a resource.
func (s *Store) readOne(ctx context.Context, partition, typ, id string) (fhir.Resource, error) {
	const op = "rediscache.Read"
	vals, err := s.rdb.HMGet(ctx, keysFor(partition).resource(typ, id), "v", "j", "lu").Result()
	if err != nil {
		return fhir.Resource{}, classify(op, err)
	}
	j, ok := vals[1].(string)
	if !ok {
		return fhir.Resource{}, discharge.Wrap(discharge.KindNotFound, op, redis.Nil)
	}
	return fhir.Resource{Type: typ, ID: id, VersionID: asInt(vals[0]), LastUpdated: unixNano(vals[2]), JSON: []byte(j)}, nil
}

// ReadVersion returns one version from the history.
func (s *Store) readVersionOne(ctx context.Context, partition, typ, id string, version int64) (fhir.Resource, error) {
	const op = "rediscache.ReadVersion"
	v := strconv.FormatInt(version, 10)
	vals, err := s.rdb.HMGet(ctx, keysFor(partition).history(typ, id), v, v+":lu").Result()
	if err != nil {
		return fhir.Resource{}, classify(op, err)
	}
	j, ok := vals[0].(string)
	if !ok {
		return fhir.Resource{}, discharge.Wrap(discharge.KindNotFound, op, redis.Nil)
	}
	return fhir.Resource{Type: typ, ID: id, VersionID: version, LastUpdated: unixNano(vals[1]), JSON: []byte(j)}, nil
}

// History returns a page of a resource's versions, newest first, and how
// many there are (see fhir.Store). Versions are numbered 1..current with no
// gaps (every Commit adds one), so the page is the versions current-offset
// down, read in one HMGET.
func (s *Store) History(ctx context.Context, partition, typ, id string, offset, count int) ([]fhir.Resource, int, error) {
	const op = "rediscache.History"
	p, err := s.home(ctx, partition, typ, id)
	if err != nil {
		return nil, 0, err
	}
	cur, err := s.rdb.HGet(ctx, keysFor(p).resource(typ, id), "v").Int64()
	if err == redis.Nil || (err == nil && cur < 1) {
		return nil, 0, discharge.Wrap(discharge.KindNotFound, op, redis.Nil)
	}
	if err != nil {
		return nil, 0, classify(op, err)
	}
	total := int(cur)
	offset, count = max(offset, 0), max(count, 0)
	if offset >= total || count == 0 {
		return nil, total, nil
	}
	first := cur - int64(offset) // newest version on the page
	n := min(int64(count), first)
	fields := make([]string, 0, 2*n)
	for v := first; v > first-n; v-- {
		f := strconv.FormatInt(v, 10)
		fields = append(fields, f, f+":lu")
	}
	vals, err := s.rdb.HMGet(ctx, keysFor(p).history(typ, id), fields...).Result()
	if err != nil {
		return nil, 0, classify(op, err)
	}
	out := make([]fhir.Resource, 0, n)
	for i := 0; i+1 < len(vals); i += 2 {
		j, ok := vals[i].(string)
		if !ok {
			continue // a version written before history was kept
		}
		out = append(out, fhir.Resource{Type: typ, ID: id, VersionID: first - int64(i/2),
			LastUpdated: unixNano(vals[i+1]), JSON: []byte(j)})
	}
	return out, total, nil
}

func unixNano(v any) time.Time {
	n := asInt(v)
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

// searchScript computes the ids matching a query and returns the total and
// one page of ids in id order. ARGV[1] is the query plan: token groups (each
// a union of keys; groups are intersected), range bounds, offset and count.
var searchScript = redis.NewScript(`
local q = cjson.decode(ARGV[1])
local set = nil
local function intersect(ids)
  if set == nil then set = ids; return end
  local out = {}
  for id in pairs(set) do if ids[id] then out[id] = true end end
  set = out
end
if q.i then
  local ids = {}
  for _, id in ipairs(q.i) do
    if redis.call('ZSCORE', KEYS[q.a], id) then ids[id] = true end
  end
  intersect(ids)
end
for _, group in ipairs(q.t) do
  local ids = {}
  for _, k in ipairs(group) do
    for _, id in ipairs(redis.call('SMEMBERS', KEYS[k])) do ids[id] = true end
  end
  intersect(ids)
end
for _, r in ipairs(q.r) do
  if r.lmax then
    local ids = {}
    for _, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[r.lo], '-inf', r.lmax)) do ids[id] = true end
    intersect(ids)
  end
  if r.hmin then
    local ids = {}
    for _, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[r.hi], r.hmin, '+inf')) do ids[id] = true end
    intersect(ids)
  end
end
local list = {}
if set == nil then
  local total = redis.call('ZCARD', KEYS[q.a])
  -- An offset past the end is an empty page; checked before ZRANGE, which
  -- refuses indexes that Lua prints as floats (1e+17).
  if q.n <= 0 or q.o >= total then return {total} end
  local page = redis.call('ZRANGE', KEYS[q.a], q.o, math.min(q.o + q.n, total) - 1)
  table.insert(page, 1, total)
  return page
end
for id in pairs(set) do list[#list + 1] = id end
table.sort(list)
local out = {#list}
if q.n > 0 then
  for i = q.o + 1, math.min(#list, q.o + q.n) do out[#out + 1] = list[i] end
end
return out
`)

type rangePlan struct {
	Lo   int    `json:"lo"`
	Hi   int    `json:"hi"`
	LMax string `json:"lmax,omitempty"`
	HMin string `json:"hmin,omitempty"`
}

type searchPlan struct {
	// I is the explicit ids (_id), nil when there is no _id filter. An
	// empty list is kept (no omitempty): an _id filter of no ids matches
	// nothing, where leaving it out would match everything.
	I *[]string   `json:"i,omitempty"`
	A int         `json:"a"`
	T [][]int     `json:"t"`
	R []rangePlan `json:"r"`
	O int         `json:"o"`
	N int         `json:"n"`
}

// Search returns one page of matching resources, ordered by id, and the
// total number of matches.
func (s *Store) searchIDs(ctx context.Context, partition string, q fhir.Query) ([]string, int, error) {
	keyList, arg := searchPlanFor(partition, q)
	res, err := searchScript.Run(ctx, s.rdb, keyList, arg).Slice()
	if err != nil {
		return nil, 0, classify("rediscache.Search", err)
	}
	ids, total := parseSearch(res)
	return ids, total, nil
}

// searchPlanFor is the search script's keys and plan for a query.
func searchPlanFor(partition string, q fhir.Query) ([]string, string) {
	k := keysFor(partition)
	keyList := []string{k.all(q.Type)}
	add := func(name string) int { keyList = append(keyList, name); return len(keyList) }
	p := searchPlan{A: 1, T: [][]int{}, R: []rangePlan{}, O: max(q.Offset, 0), N: max(q.Count, 0)}
	// The plan travels as JSON and Lua reads numbers as doubles: bound
	// them where a double is still exact. Anything larger is past any
	// real result set anyway.
	p.O, p.N = min(p.O, maxPlanInt), min(p.N, maxPlanInt)
	for _, f := range q.Filters {
		if f.Param == "_id" {
			ids := []string{}
			if p.I != nil {
				// Several _id filters are ANDed, like every other filter.
				ids = intersectIDs(*p.I, f.AnyOf)
			} else {
				ids = append(ids, f.AnyOf...)
			}
			p.I = &ids
			continue
		}
		if f.Range != nil {
			rp := rangePlan{Lo: add(k.low(q.Type, f.Param)), Hi: add(k.high(q.Type, f.Param))}
			if f.Range.LowAtMost != nil {
				rp.LMax = score(*f.Range.LowAtMost)
			}
			if f.Range.HighAtLeast != nil {
				rp.HMin = score(*f.Range.HighAtLeast)
			}
			p.R = append(p.R, rp)
			continue
		}
		group := []int{}
		for _, t := range f.AnyOf {
			group = append(group, add(k.token(q.Type, f.Param, t)))
		}
		p.T = append(p.T, group)
	}
	pj, _ := json.Marshal(p)
	return keyList, string(pj)
}

// maxPlanInt is the largest offset or count sent to the search script:
// 2^53-1, the largest integer a Lua double holds exactly.
const maxPlanInt = 1<<53 - 1

// intersectIDs returns the ids in both a and b, in a's order.
func intersectIDs(a, b []string) []string {
	in := make(map[string]bool, len(b))
	for _, id := range b {
		in[id] = true
	}
	out := []string{}
	for _, id := range a {
		if in[id] {
			out = append(out, id)
		}
	}
	return out
}

// parseSearch reads the search script's reply: the total, then a page of ids.
func parseSearch(res []any) ([]string, int) {
	if len(res) == 0 {
		return nil, 0
	}
	total := int(toInt64(res[0]))
	ids := make([]string, 0, len(res)-1)
	for _, v := range res[1:] {
		if s, ok := v.(string); ok {
			ids = append(ids, s)
		}
	}
	return ids, total
}

// fetch reads the current version of each id, in order, leaving out any
// that vanished since its index was read.
func (s *Store) fetch(ctx context.Context, partition, typ string, ids []string) ([]fhir.Resource, error) {
	const op = "rediscache.Search"
	if len(ids) == 0 {
		return nil, nil
	}
	k := keysFor(partition)
	pipe := s.rdb.Pipeline()
	cmds := make([]*redis.SliceCmd, len(ids))
	for i, id := range ids {
		cmds[i] = pipe.HMGet(ctx, k.resource(typ, id), "v", "j", "lu")
	}
	if _, err := pipe.Exec(ctx); err != nil && err != redis.Nil {
		return nil, classify(op, err)
	}
	out := make([]fhir.Resource, 0, len(ids))
	for i, c := range cmds {
		vals := c.Val()
		j, ok := vals[1].(string)
		if !ok {
			continue // vanished between the index read and now
		}
		out = append(out, fhir.Resource{Type: typ, ID: ids[i], VersionID: asInt(vals[0]),
			LastUpdated: unixNano(vals[2]), JSON: []byte(j)})
	}
	return out, nil
}

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

// Generation is the partition's change counter: every Commit to it adds
// one, so a cache of anything derived from the partition is current while
// the generation it was built at is.
func (s *Store) generationOne(ctx context.Context, partition string) (int64, error) {
	n, err := s.rdb.Get(ctx, keysFor(partition).generation()).Int64()
	if err == redis.Nil {
		return 0, nil
	}
	return n, classify("rediscache.Generation", err)
}

// ReadMany returns the current versions of several resources in one round
// trip, keyed "Type/id"; absent ones are left out.
func (s *Store) readManyOne(ctx context.Context, partition string, refs []fhir.Ref) (map[string]fhir.Resource, error) {
	const op = "rediscache.ReadMany"
	k := keysFor(partition)
	pipe := s.rdb.Pipeline()
	cmds := make([]*redis.SliceCmd, len(refs))
	for i, r := range refs {
		cmds[i] = pipe.HMGet(ctx, k.resource(r.Type, r.ID), "v", "j", "lu")
	}
	if len(refs) > 0 {
		if _, err := pipe.Exec(ctx); err != nil && err != redis.Nil {
			return nil, classify(op, err)
		}
	}
	out := make(map[string]fhir.Resource, len(refs))
	for i, c := range cmds {
		vals := c.Val()
		j, ok := vals[1].(string)
		if !ok {
			continue
		}
		r := refs[i]
		out[r.Type+"/"+r.ID] = fhir.Resource{Type: r.Type, ID: r.ID, VersionID: asInt(vals[0]), LastUpdated: unixNano(vals[2]), JSON: []byte(j)}
	}
	return out, nil
}

// Ping checks that Redis answers.
func (s *Store) Ping(ctx context.Context) error {
	return classify("rediscache.Ping", s.rdb.Ping(ctx).Err())
}
