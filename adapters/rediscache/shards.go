package rediscache

import (
	"context"
	"fmt"
	"hash/fnv"
	"math"
	"sort"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/fhir"
)

// Sharded partitions.
//
// A partition's keys share one hash tag, so one commit script can check and
// write all of them; for an organisation's patients that is what FHIR
// transactions need, and each organisation is its own slot. The provider
// directory is different: one national partition would put every care
// provider's resources, history and search indexes in one slot, on one
// node. So a sharded partition is spread over n sub-partitions ("P~0" …),
// each its own slot:
//
//   - Each resource lives in one shard for life, recorded in a routing
//     index, itself sharded: dg:{pr:<P>:<h>} HASH "Type/id" → shard, h a
//     hash of "Type/id" mod 64. Routes never change, so each process caches
//     them.
//   - A new resource goes to the shard of the Organization it belongs to
//     (the "organization" search parameter: Location.managingOrganization,
//     HealthcareService.providedBy), else to the shard its own id hashes
//     to. A provider's Organization, Locations and services so share a
//     shard, and a transaction over them is still one atomic script.
//   - A Commit whose resources live in different shards is refused as a
//     business-rule error; CommitParts applies one shard by shard
//     (idempotent bulk loads only).
//   - Search runs in every shard (one pipeline) and merges by id; Generation
//     is the sum of the shards' counters.
//
// Conditional-create guards are checked in the shard the new resource
// goes to, so two racing conditional creates for different providers'
// resources with the same identifier are not caught; within one provider
// they are.

// DirectoryPartition is the provider directory's partition, sharded over
// DirectoryShards slots unless WithShards says otherwise.
const (
	DirectoryPartition = fhir.DirectoryPartition
	DirectoryShards    = 16
	routeBuckets       = 64
)

// WithShards spreads a partition over n slots (n ≤ 1: one slot).
func WithShards(partition string, n int) Option {
	return func(o *options) {
		if n <= 1 {
			delete(o.shards, partition)
			return
		}
		o.shards[partition] = n
	}
}

// shardName is the storage partition of shard k of a sharded partition
// (slots.go spreads the shards' slots evenly).
func (s *Store) shardName(partition string, k int) string {
	return ShardPartitions(partition, s.shards[partition])[k]
}

func hashOf(s string) uint32 {
	h := fnv.New32a()
	_, _ = h.Write([]byte(s))
	return h.Sum32()
}

// route returns the shards of refs ("Type/id") that have one.
func (s *Store) route(ctx context.Context, partition string, refs []string) (map[string]int, error) {
	out := make(map[string]int, len(refs))
	var missing []string
	for _, r := range refs {
		if v, ok := s.routes.Load(partition + "|" + r); ok {
			out[r] = v.(int)
		} else {
			missing = append(missing, r)
		}
	}
	if len(missing) == 0 {
		return out, nil
	}
	pipe := s.rdb.Pipeline()
	cmds := make([]*redis.StringCmd, len(missing))
	for i, r := range missing {
		cmds[i] = pipe.HGet(ctx, routeKey(partition, r), r)
	}
	if _, err := pipe.Exec(ctx); err != nil && err != redis.Nil {
		return nil, classify("rediscache.route", err)
	}
	for i, c := range cmds {
		k, err := c.Int()
		if err != nil {
			continue
		}
		out[missing[i]] = k
		s.routes.Store(partition+"|"+missing[i], k)
	}
	return out, nil
}

// Commit stores all writes atomically, or nothing (see fhir.Store). In a
// sharded partition the writes must share a shard.
func (s *Store) Commit(ctx context.Context, partition string, writes []fhir.Write, guards []fhir.Guard) error {
	return s.commit(ctx, partition, writes, guards, false)
}

// CommitParts stores writes shard by shard, each shard's part atomically
// (see fhir.Store); in an unsharded partition it is Commit.
func (s *Store) CommitParts(ctx context.Context, partition string, writes []fhir.Write) error {
	return s.commit(ctx, partition, writes, nil, true)
}

// commit is Commit, or CommitParts when partial.
func (s *Store) commit(ctx context.Context, partition string, writes []fhir.Write, guards []fhir.Guard, partial bool) error {
	n := s.shards[partition]
	if n <= 1 {
		return s.commitOne(ctx, partition, writes, guards)
	}
	const op = "rediscache.Commit"
	refs := make([]string, 0, len(writes))
	orgOf := make([]string, len(writes))
	for i, w := range writes {
		refs = append(refs, w.Resource.Type+"/"+w.Resource.ID)
		for _, e := range w.Index {
			if e.Param == "organization" && strings.HasPrefix(e.Token, "Organization/") {
				orgOf[i] = e.Token
				break
			}
		}
	}
	lookup := append([]string(nil), refs...)
	for _, o := range orgOf {
		if o != "" {
			lookup = append(lookup, o)
		}
	}
	known, err := s.route(ctx, partition, lookup)
	if err != nil {
		return err
	}
	// Shards for the new resources: their Organization's (known, or
	// written in this commit), else a shard every other write shares, else
	// their own id's.
	assigned := map[string]int{}
	shardOf := func(i int) (int, bool) {
		if k, ok := known[refs[i]]; ok {
			return k, true
		}
		if k, ok := assigned[refs[i]]; ok {
			return k, true
		}
		return 0, false
	}
	for pass := 0; pass < 2; pass++ {
		for i, w := range writes {
			if _, ok := shardOf(i); ok {
				continue
			}
			if o := orgOf[i]; o != "" {
				if k, ok := known[o]; ok {
					assigned[refs[i]] = k
				} else if k, ok := assigned[o]; ok {
					assigned[refs[i]] = k
				}
				continue
			}
			if pass == 1 || w.Resource.Type == "Organization" {
				assigned[refs[i]] = int(hashOf(refs[i]) % uint32(n))
			}
		}
	}
	for i := range writes {
		if _, ok := shardOf(i); !ok {
			// Its Organization is neither stored nor in this commit.
			assigned[refs[i]] = int(hashOf(refs[i]) % uint32(n))
		}
	}
	// Record the new routes; a route another writer set first wins.
	if len(assigned) > 0 {
		pipe := s.rdb.Pipeline()
		set := map[string]*redis.BoolCmd{}
		for r, k := range assigned {
			set[r] = pipe.HSetNX(ctx, routeKey(partition, r), r, k)
		}
		if _, err := pipe.Exec(ctx); err != nil {
			return classify(op, err)
		}
		var lost []string
		for r, c := range set {
			if !c.Val() {
				lost = append(lost, r)
				s.routes.Delete(partition + "|" + r)
			}
		}
		if len(lost) > 0 {
			theirs, err := s.route(ctx, partition, lost)
			if err != nil {
				return err
			}
			for r, k := range theirs {
				assigned[r] = k
			}
		}
		for r, k := range assigned {
			s.routes.Store(partition+"|"+r, k)
		}
	}
	groups := map[int][]fhir.Write{}
	for i, w := range writes {
		k, _ := shardOf(i)
		groups[k] = append(groups[k], w)
	}
	if len(groups) > 1 && !partial {
		return discharge.E(discharge.KindBusinessRule, "Bundle.entry",
			"These directory resources belong to different providers' storage shards and cannot be written in one transaction; send them as a batch, or one provider per transaction.")
	}
	shards := make([]int, 0, len(groups))
	for k := range groups {
		shards = append(shards, k)
	}
	sort.Ints(shards)
	for _, k := range shards {
		g := guards
		if len(groups) > 1 {
			g = nil // guards go with single-shard commits only
		}
		if err := s.commitOne(ctx, s.shardName(partition, k), groups[k], g); err != nil {
			return err
		}
	}
	return nil
}

// Read returns the current version of a resource.
func (s *Store) Read(ctx context.Context, partition, typ, id string) (fhir.Resource, error) {
	p, err := s.home(ctx, partition, typ, id)
	if err != nil {
		return fhir.Resource{}, err
	}
	return s.readOne(ctx, p, typ, id)
}

// ReadVersion returns one version from the history.
func (s *Store) ReadVersion(ctx context.Context, partition, typ, id string, version int64) (fhir.Resource, error) {
	p, err := s.home(ctx, partition, typ, id)
	if err != nil {
		return fhir.Resource{}, err
	}
	return s.readVersionOne(ctx, p, typ, id, version)
}

// home is the (sub-)partition a resource lives in.
func (s *Store) home(ctx context.Context, partition, typ, id string) (string, error) {
	if s.shards[partition] <= 1 {
		return partition, nil
	}
	ref := typ + "/" + id
	r, err := s.route(ctx, partition, []string{ref})
	if err != nil {
		return "", err
	}
	k, ok := r[ref]
	if !ok {
		return "", discharge.Wrap(discharge.KindNotFound, "rediscache.Read", redis.Nil)
	}
	return s.shardName(partition, k), nil
}

// ReadMany returns the current versions of several resources, keyed
// "Type/id"; absent ones are left out.
func (s *Store) ReadMany(ctx context.Context, partition string, refs []fhir.Ref) (map[string]fhir.Resource, error) {
	if s.shards[partition] <= 1 {
		return s.readManyOne(ctx, partition, refs)
	}
	names := make([]string, len(refs))
	for i, r := range refs {
		names[i] = r.Type + "/" + r.ID
	}
	routes, err := s.route(ctx, partition, names)
	if err != nil {
		return nil, err
	}
	byShard := map[int][]fhir.Ref{}
	for i, r := range refs {
		if k, ok := routes[names[i]]; ok {
			byShard[k] = append(byShard[k], r)
		}
	}
	out := make(map[string]fhir.Resource, len(refs))
	for k, rs := range byShard {
		got, err := s.readManyOne(ctx, s.shardName(partition, k), rs)
		if err != nil {
			return nil, err
		}
		for name, r := range got {
			out[name] = r
		}
	}
	return out, nil
}

// Search returns one page of matching resources, ordered by id, and the
// total number of matches. A sharded partition is searched in every shard
// at once and the pages merged.
func (s *Store) Search(ctx context.Context, partition string, q fhir.Query) ([]fhir.Resource, int, error) {
	n := s.shards[partition]
	if n <= 1 {
		ids, total, err := s.searchIDs(ctx, partition, q)
		if err != nil {
			return nil, 0, err
		}
		out, err := s.fetch(ctx, partition, q.Type, ids)
		return out, total, err
	}
	// Each shard's first offset+count ids hold the merged page.
	sub := q
	sub.Offset = 0
	if q.Count > 0 {
		sub.Count = max(q.Offset, 0) + q.Count
		if sub.Count < q.Count { // overflowed: every id there is
			sub.Count = math.MaxInt
		}
	}
	type idIn struct {
		id    string
		shard int
	}
	replies, err := s.searchShards(ctx, partition, n, sub)
	if err != nil {
		return nil, 0, err
	}
	var all []idIn
	total := 0
	for k, res := range replies {
		ids, t := parseSearch(res)
		total += t
		for _, id := range ids {
			all = append(all, idIn{id, k})
		}
	}
	if q.Count <= 0 {
		return nil, total, nil
	}
	sort.Slice(all, func(i, j int) bool { return all[i].id < all[j].id })
	from := min(max(q.Offset, 0), len(all))
	end := len(all)
	if q.Count < end-from { // (from+Count could overflow)
		end = from + q.Count
	}
	page := all[from:end]
	byShard := map[int][]string{}
	for _, x := range page {
		byShard[x.shard] = append(byShard[x.shard], x.id)
	}
	found := map[string]fhir.Resource{}
	for k, ids := range byShard {
		rs, err := s.fetch(ctx, s.shardName(partition, k), q.Type, ids)
		if err != nil {
			return nil, 0, err
		}
		for _, r := range rs {
			found[r.ID] = r
		}
	}
	out := make([]fhir.Resource, 0, len(page))
	for _, x := range page {
		if r, ok := found[x.id]; ok {
			out = append(out, r)
		}
	}
	return out, total, nil
}

// searchShards runs the search script in every shard in one pipeline
// (EVALSHA; on NOSCRIPT the script is loaded on every master and the
// pipeline sent again).
func (s *Store) searchShards(ctx context.Context, partition string, n int, q fhir.Query) ([][]any, error) {
	const op = "rediscache.Search"
	run := func() ([]*redis.Cmd, error) {
		pipe := s.rdb.Pipeline()
		cmds := make([]*redis.Cmd, n)
		for k := 0; k < n; k++ {
			keys, arg := searchPlanFor(s.shardName(partition, k), q)
			cmds[k] = searchScript.EvalSha(ctx, pipe, keys, arg)
		}
		_, err := pipe.Exec(ctx)
		return cmds, err
	}
	cmds, err := run()
	if err != nil && strings.HasPrefix(err.Error(), "NOSCRIPT") {
		if err := loadEverywhere(ctx, s.rdb, searchScript); err != nil {
			return nil, classify(op, err)
		}
		cmds, err = run()
	}
	if err != nil && err != redis.Nil {
		return nil, classify(op, err)
	}
	out := make([][]any, n)
	for k, c := range cmds {
		out[k], _ = c.Slice()
	}
	return out, nil
}

// loadEverywhere loads a script on every master, for pipelines of EVALSHA.
func loadEverywhere(ctx context.Context, rdb redis.UniversalClient, sc *redis.Script) error {
	if cc, ok := rdb.(*redis.ClusterClient); ok {
		return cc.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error {
			return sc.Load(ctx, c).Err()
		})
	}
	return sc.Load(ctx, rdb).Err()
}

// Generation is the partition's change counter (see fhir.Store); for a
// sharded partition, the sum of its shards' counters, which moves whenever
// any of them does.
func (s *Store) Generation(ctx context.Context, partition string) (int64, error) {
	n := s.shards[partition]
	if n <= 1 {
		return s.generationOne(ctx, partition)
	}
	pipe := s.rdb.Pipeline()
	cmds := make([]*redis.StringCmd, n)
	for k := 0; k < n; k++ {
		cmds[k] = pipe.Get(ctx, keysFor(s.shardName(partition, k)).generation())
	}
	if _, err := pipe.Exec(ctx); err != nil && err != redis.Nil {
		return 0, classify("rediscache.Generation", err)
	}
	var sum int64
	for _, c := range cmds {
		v, _ := c.Int64()
		sum += v
	}
	return sum, nil
}

// String describes the sharding, for logs.
func (s *Store) String() string {
	var parts []string
	for p, n := range s.shards {
		parts = append(parts, fmt.Sprintf("%s over %d slots", p, n))
	}
	sort.Strings(parts)
	return "rediscache.Store{" + strings.Join(parts, ", ") + "}"
}
