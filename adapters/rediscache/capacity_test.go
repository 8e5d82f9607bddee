package rediscache_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/dischargegateway/gateway/adapters/rediscache"
	"github.com/dischargegateway/gateway/capacity"
	"github.com/dischargegateway/gateway/discharge"
)

func posting(loc string, asOf time.Time, accepting int) discharge.Capacity {
	return discharge.Capacity{LocationID: loc, AsOf: asOf, Beds: []discharge.BedCapacity{
		{Type: discharge.BedNursing, MaxCapacity: 30, Occupied: 30 - accepting, AcceptingAdmissions: accepting}}}
}

func TestCapacityPutNeverOverwritesNewer(t *testing.T) {
	both(t, func(t *testing.T, rdb redis.UniversalClient) {
		ctx := context.Background()
		cs := rediscache.NewCapacityStore(rdb)
		t0 := time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC)
		at := &discharge.Position{Lat: 53.44, Lon: -2.22}
		cur, applied, err := cs.Put(ctx, posting("L1", t0, 4), at, "M")
		if err != nil || !applied || cur.Version != 1 || cur.Vacant(discharge.BedNursing) != 4 {
			t.Fatalf("%+v %v %v", cur, applied, err)
		}
		cur, applied, _ = cs.Put(ctx, posting("L1", t0.Add(time.Hour), 2), at, "M")
		if !applied || cur.Version != 2 {
			t.Fatalf("newer: %+v %v", cur, applied)
		}
		cur, applied, _ = cs.Put(ctx, posting("L1", t0.Add(30*time.Minute), 9), at, "M")
		if applied || cur.Version != 2 || cur.Vacant(discharge.BedNursing) != 2 {
			t.Fatalf("an older posting overwrote newer data: %+v %v", cur, applied)
		}
		got, _ := cs.Get(ctx, "L1", "nope")
		if len(got) != 1 || got["L1"].Vacant(discharge.BedNursing) != 2 || !got["L1"].AsOf.Equal(t0.Add(time.Hour)) {
			t.Fatalf("%+v", got)
		}
	})
}

// TestCapacityPutKeepsTheRecordsVersion: a posting is cached at the version
// the record gave it. At an equal as-of the higher version wins whatever
// order they arrive in (two gateways caching corrections the record
// numbered), the same version again is a replay, and the version is the
// one reads, Versions and the geo index report. A posting of version 0
// (a cache used without a record) is numbered after the stored one.
func TestCapacityPutKeepsTheRecordsVersion(t *testing.T) {
	both(t, func(t *testing.T, rdb redis.UniversalClient) {
		ctx := context.Background()
		cs := rediscache.NewCapacityStore(rdb)
		t0 := time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC)
		at := &discharge.Position{Lat: 53.44, Lon: -2.22}
		at7 := func(asOf time.Time, v int64, free int) discharge.Capacity {
			c := posting("L7", asOf, free)
			c.Version = v
			return c
		}
		for _, step := range []struct {
			name    string
			c       discharge.Capacity
			applied bool
			version int64
			free    int
			// The geo shard's version: the current posting's, but after
			// a posting no record gives (an older as-of at a higher
			// version), whose shard entry went ahead of the script's
			// refusal: the shard keeps that higher version, which
			// placement reads only as a hint (it refetches a posting
			// whose version differs).
			shard int64
		}{
			{"first, at the record's version", at7(t0, 7, 4), true, 7, 4, 7},
			{"a replay", at7(t0, 7, 1), false, 7, 4, 7},
			{"a correction", at7(t0, 8, 3), true, 8, 3, 8},
			{"an earlier correction, late", at7(t0, 6, 9), false, 8, 3, 8},
			{"newer", at7(t0.Add(time.Hour), 9, 2), true, 9, 2, 9},
			{"older, at a higher version", at7(t0, 12, 5), false, 9, 2, 12},
			{"no version, equal as-of", at7(t0.Add(time.Hour), 0, 1), true, 10, 1, 12},
		} {
			cur, applied, err := cs.Put(ctx, step.c, at, "M")
			if err != nil || applied != step.applied || cur.Version != step.version || cur.Vacant(discharge.BedNursing) != step.free {
				t.Fatalf("%s: %+v applied %v, %v; want version %d with %d free, applied %v", step.name, cur, applied, err, step.version, step.free, step.applied)
			}
			if vs, err := cs.Versions(ctx, "L7"); err != nil || vs[0] != step.version {
				t.Fatalf("%s: Versions %v %v", step.name, vs, err)
			}
			hits, err := cs.Near(ctx, []string{"M"}, []discharge.BedType{discharge.BedNursing}, 53.44, -2.22, 5, 10)
			if err != nil || len(hits) != 1 || hits[0].CapacityVersion != step.shard {
				t.Fatalf("%s: the geo index has %+v %v, want version %d", step.name, hits, err, step.shard)
			}
		}
	})
}

func TestCapacityNearUsesShards(t *testing.T) {
	both(t, func(t *testing.T, rdb redis.UniversalClient) {
		ctx := context.Background()
		cs := rediscache.NewCapacityStore(rdb)
		now := time.Now().UTC()
		// Two Manchester homes, one Stockport home, one in London.
		type at struct {
			pos  discharge.Position
			area string
		}
		for id, p := range map[string]at{
			"M-near": {discharge.Position{Lat: 53.445, Lon: -2.22}, "M"}, "M-far": {discharge.Position{Lat: 53.50, Lon: -2.30}, "M"},
			"SK-1": {discharge.Position{Lat: 53.41, Lon: -2.16}, "SK"}, "LONDON": {discharge.Position{Lat: 51.50, Lon: -0.12}, "E"}} {
			p := p
			if _, _, err := cs.Put(ctx, posting(id, now, 3), &p.pos, p.area); err != nil {
				t.Fatal(err)
			}
		}
		hits, err := cs.Near(ctx, []string{"M", "SK"}, []discharge.BedType{discharge.BedNursing}, 53.44, -2.22, 15, 10)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, h := range hits {
			ids = append(ids, h.LocationID)
		}
		if fmt.Sprint(ids) != "[M-near SK-1 M-far]" || hits[0].DistanceKm > 1 {
			t.Fatalf("%v %+v", ids, hits)
		}
		// Another bed type has no entries.
		if hits, _ := cs.Near(ctx, []string{"M"}, []discharge.BedType{discharge.BedResidential}, 53.44, -2.22, 15, 10); len(hits) != 0 {
			t.Fatalf("%+v", hits)
		}
		// The load generator's raw floor reads the same shards without the
		// caches: the same three postings, and none for no shard.
		if n, err := cs.RawPlacementFloor(ctx, []string{"M", "SK"}, []discharge.BedType{discharge.BedNursing}, 53.44, -2.22, 15, 10); err != nil || n != 3 {
			t.Fatalf("raw floor read %d postings, want 3: %v", n, err)
		}
		if n, err := cs.RawPlacementFloor(ctx, nil, []discharge.BedType{discharge.BedNursing}, 53.44, -2.22, 15, 10); err != nil || n != 0 {
			t.Fatalf("raw floor with no areas: %d %v", n, err)
		}
	})
}

// TestCapacityNoTornReads posts from one goroutine while another reads:
// every read sees one whole posting (its figures agree with each other).
func TestCapacityNoTornReads(t *testing.T) {
	rs := startRedis(t)
	ctx := context.Background()
	cs := rediscache.NewCapacityStore(rs)
	base := time.Now().UTC()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; i < 300; i++ {
			c := posting("L", base.Add(time.Duration(i)*time.Second), i%30)
			c.Beds[0].Reserved = 0
			_, _, _ = cs.Put(ctx, c, nil, "")
		}
	}()
	for i := 0; i < 300; i++ {
		got, err := cs.Get(ctx, "L")
		if err != nil {
			t.Fatal(err)
		}
		if c, ok := got["L"]; ok {
			b := c.Beds[0]
			if b.Occupied+b.AcceptingAdmissions != b.MaxCapacity {
				t.Fatalf("torn read: %+v", b)
			}
		}
	}
	wg.Wait()
}

// TestFreshnessCounts: the freshness index counts each location once, by
// its newest posting, whatever order postings arrive in.
func TestFreshnessCounts(t *testing.T) {
	both(t, func(t *testing.T, rdb redis.UniversalClient) {
		ctx := context.Background()
		cs := rediscache.NewCapacityStore(rdb)
		now := time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
		post := func(loc string, age time.Duration) {
			c := discharge.Capacity{LocationID: loc, AsOf: now.Add(-age),
				Beds: []discharge.BedCapacity{{Type: discharge.BedNursing, MaxCapacity: 5, Occupied: 4, AcceptingAdmissions: 1}}}
			if _, _, err := cs.Put(ctx, c, nil, ""); err != nil {
				t.Fatal(err)
			}
		}
		for i := 0; i < 5; i++ {
			post(fmt.Sprintf("fresh-%d", i), time.Hour)
		}
		for i := 0; i < 3; i++ {
			post(fmt.Sprintf("stale-%d", i), 30*time.Hour)
		}
		post("old", 200*time.Hour)
		post("revived", 300*time.Hour)
		post("revived", 2*time.Hour)   // newer: fresh now
		post("revived", 250*time.Hour) // older: ignored
		f, s, u, err := cs.FreshnessCounts(ctx, now, 24*time.Hour, 168*time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if f != 6 || s != 3 || u != 1 {
			t.Fatalf("fresh %d stale %d unknown %d; want 6 3 1", f, s, u)
		}
	})
}

// TestNearSmallerCircleFirst backs the placement search's shortcut: when a
// smaller circle already holds limit locations, they are exactly the limit
// nearest of the whole radius, versions included.
func TestNearSmallerCircleFirst(t *testing.T) {
	both(t, func(t *testing.T, rdb redis.UniversalClient) {
		ctx := context.Background()
		cs := rediscache.NewCapacityStore(rdb)
		r := rand.New(rand.NewPCG(5, 6))
		const lat0, lon0 = 53.45, -2.22
		areas := []string{"M", "SK", "OL"}
		for i := 0; i < 400; i++ {
			// Dense near the origin, sparse further out, over three shards.
			d := 0.3 * r.ExpFloat64()
			pos := discharge.Position{Lat: lat0 + d*(r.Float64()-0.5), Lon: lon0 + d*(r.Float64()-0.5)}
			bt := []discharge.BedType{discharge.BedNursing, discharge.BedResidential}[i%2]
			c := discharge.Capacity{LocationID: fmt.Sprintf("loc-%03d", i), AsOf: time.Now().Add(-time.Hour),
				Beds: []discharge.BedCapacity{{Type: bt, MaxCapacity: 5, Occupied: 4, AcceptingAdmissions: 1}}}
			if _, _, err := cs.Put(ctx, c, &pos, areas[i%3]); err != nil {
				t.Fatal(err)
			}
		}
		beds := []discharge.BedType{discharge.BedNursing, discharge.BedResidential}
		const limit = 60
		full, err := cs.Near(ctx, areas, beds, lat0, lon0, 25, limit)
		if err != nil {
			t.Fatal(err)
		}
		small, err := cs.Near(ctx, areas, beds, lat0, lon0, 25.0/4, limit)
		if err != nil {
			t.Fatal(err)
		}
		if len(small) < limit {
			t.Fatalf("fixture: only %d within a quarter of the radius", len(small))
		}
		if len(full) != limit {
			t.Fatalf("full search returned %d", len(full))
		}
		for i := range full {
			if full[i] != small[i] {
				t.Fatalf("hit %d: %+v from the full radius, %+v from the quarter", i, full[i], small[i])
			}
			if full[i].CapacityVersion != 1 {
				t.Fatalf("hit %d has version %d, want 1", i, full[i].CapacityVersion)
			}
		}
	})
}

// A location leaves the geo shards of bed types its new posting no longer
// offers (and of the area it moved from), and the coverage sets of
// districts it no longer serves; a refused posting leaves no entry. Both
// ways a posting is indexed: after its script's reply (version 0, a cache
// without a record) and sent ahead with its script (the record's
// versions), where a refused posting's entries are taken back.
func TestCapacityPostingLeavesDroppedShards(t *testing.T) {
	for _, versioned := range []bool{false, true} {
		t.Run(map[bool]string{false: "after the reply", true: "sent ahead"}[versioned], func(t *testing.T) {
			leavesDroppedShards(t, versioned)
		})
	}
}

func leavesDroppedShards(t *testing.T, versioned bool) {
	both(t, func(t *testing.T, rdb redis.UniversalClient) {
		ctx := context.Background()
		cs := rediscache.NewCapacityStore(rdb)
		// put puts a posting at version v, or at 0 (the cache numbers it).
		put := func(c discharge.Capacity, v int64, pos *discharge.Position, area string) (bool, error) {
			if versioned {
				c.Version = v
			}
			cur, applied, err := cs.Put(ctx, c, pos, area)
			if err == nil && applied && cur.Version != v {
				t.Fatalf("applied at version %d, want %d", cur.Version, v)
			}
			return applied, err
		}
		t0 := time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC)
		m := &discharge.Position{Lat: 53.445, Lon: -2.22}
		near := func(bed discharge.BedType, area string) []string {
			t.Helper()
			hits, err := cs.Near(ctx, []string{area}, []discharge.BedType{bed}, 53.44, -2.22, 50, 10)
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, h := range hits {
				ids = append(ids, h.LocationID)
			}
			return ids
		}
		covering := func(oc string) string {
			t.Helper()
			ids, err := cs.Covering(ctx, oc)
			if err != nil {
				t.Fatal(err)
			}
			return fmt.Sprint(ids)
		}
		both := discharge.Capacity{LocationID: "L1", AsOf: t0, Beds: []discharge.BedCapacity{
			{Type: discharge.BedNursing, MaxCapacity: 10, AcceptingAdmissions: 1},
			{Type: discharge.BedResidential, MaxCapacity: 10, AcceptingAdmissions: 1}},
			HomeCare: []discharge.HomeCareOffer{{Outcodes: []string{"M14", "M15"}, HoursPerWeek: 10, EarliestStart: discharge.DateOf(t0)}}}
		if _, err := put(both, 1, m, "M"); err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(near(discharge.BedNursing, "M"), near(discharge.BedResidential, "M"))+" "+covering("M15") != "[L1] [L1] [L1]" {
			t.Fatal("first posting not indexed:", near(discharge.BedNursing, "M"), near(discharge.BedResidential, "M"), covering("M15"))
		}
		one := discharge.Capacity{LocationID: "L1", AsOf: t0.Add(time.Hour), Beds: []discharge.BedCapacity{
			{Type: discharge.BedResidential, MaxCapacity: 10, AcceptingAdmissions: 1}},
			HomeCare: []discharge.HomeCareOffer{{Outcodes: []string{"M14"}, HoursPerWeek: 10, EarliestStart: discharge.DateOf(t0)}}}
		if _, err := put(one, 2, m, "M"); err != nil {
			t.Fatal(err)
		}
		if got := near(discharge.BedNursing, "M"); len(got) != 0 {
			t.Errorf("still in the nursing shard after nursing was dropped: %v", got)
		}
		if got := near(discharge.BedResidential, "M"); fmt.Sprint(got) != "[L1]" {
			t.Errorf("residential shard: %v", got)
		}
		if got := covering("M15"); got != "[]" {
			t.Errorf("still covering M15: %s", got)
		}
		if got := covering("M14"); got != "[L1]" {
			t.Errorf("M14 coverage: %s", got)
		}
		// The location moves to another postcode area: it leaves the old
		// area's shard.
		one.AsOf = t0.Add(2 * time.Hour)
		if _, err := put(one, 3, &discharge.Position{Lat: 53.41, Lon: -2.16}, "SK"); err != nil {
			t.Fatal(err)
		}
		if got := near(discharge.BedResidential, "M"); len(got) != 0 {
			t.Errorf("still in the old area's shard: %v", got)
		}
		if got := near(discharge.BedResidential, "SK"); fmt.Sprint(got) != "[L1]" {
			t.Errorf("new area's shard: %v", got)
		}
		// An older posting is refused, and touches no shard.
		if applied, err := put(both, 1, m, "M"); applied || err != nil {
			t.Fatal("an older posting was applied, or failed:", err)
		}
		if got := near(discharge.BedNursing, "M"); len(got) != 0 {
			t.Errorf("a refused posting re-indexed the location: %v", got)
		}
		if got := covering("M15"); got != "[]" {
			t.Errorf("a refused posting re-indexed a district: %s", got)
		}
		// A refused posting that shares the current one's shard and
		// districts leaves them as they were: the current posting's.
		stale := one
		stale.AsOf = t0.Add(90 * time.Minute)
		stale.Beds = append(stale.Beds, discharge.BedCapacity{Type: discharge.BedNursing, MaxCapacity: 10, AcceptingAdmissions: 1})
		if applied, err := put(stale, 2, &discharge.Position{Lat: 53.41, Lon: -2.16}, "SK"); applied || err != nil {
			t.Fatal("an older posting was applied, or failed:", err)
		}
		if got := near(discharge.BedResidential, "SK"); fmt.Sprint(got) != "[L1]" {
			t.Errorf("the current posting's shard after a refused posting: %v", got)
		}
		if got := near(discharge.BedNursing, "SK"); len(got) != 0 {
			t.Errorf("a refused posting's bed type indexed: %v", got)
		}
		if got := covering("M14"); got != "[L1]" {
			t.Errorf("M14 coverage after a refused posting: %s", got)
		}
	})
}

// pipelineCounter counts the pipelines and single commands a client sends.
type pipelineCounter struct{ pipelines, commands int }

func (c *pipelineCounter) DialHook(next redis.DialHook) redis.DialHook { return next }
func (c *pipelineCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error { c.commands++; return next(ctx, cmd) }
}
func (c *pipelineCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error { c.pipelines++; return next(ctx, cmds) }
}

// TestPutBatchSendsTheIndexAhead: a batch of postings at the record's
// versions that keep their bed types, area and districts is one pipeline
// (the scripts with their index entries); one that drops a bed type needs
// a second, for leaving its shard; postings of version 0 are indexed after
// the reply, two pipelines. Each way, the index ends the same.
func TestPutBatchSendsTheIndexAhead(t *testing.T) {
	both(t, func(t *testing.T, rdb redis.UniversalClient) {
		ctx := context.Background()
		cs := rediscache.NewCapacityStore(rdb)
		t0 := time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC)
		pos := &discharge.Position{Lat: 53.445, Lon: -2.22}
		count := &pipelineCounter{}
		rdb.AddHook(count)
		batch := func(v int64, asOf time.Time, beds ...discharge.BedType) []capacity.Placed {
			var ps []capacity.Placed
			for _, id := range []string{"A", "B", "C"} {
				c := discharge.Capacity{LocationID: id, AsOf: asOf, Version: v}
				for _, b := range beds {
					c.Beds = append(c.Beds, discharge.BedCapacity{Type: b, MaxCapacity: 10, AcceptingAdmissions: 2})
				}
				ps = append(ps, capacity.Placed{Capacity: c, Pos: pos, Area: "M"})
			}
			return ps
		}
		near := func(bed discharge.BedType) int {
			hits, err := cs.Near(ctx, []string{"M"}, []discharge.BedType{bed}, 53.44, -2.22, 10, 10)
			if err != nil {
				t.Fatal(err)
			}
			return len(hits)
		}
		// Each location's server learns the script first (a NOSCRIPT reply
		// is run again, loading it), as a running gateway's servers have:
		// earlier postings, not geo-indexed.
		for _, p := range batch(0, t0.Add(-time.Hour), discharge.BedNursing, discharge.BedResidential) {
			if _, _, err := cs.Put(ctx, p.Capacity, nil, ""); err != nil {
				t.Fatal(err)
			}
		}
		for _, step := range []struct {
			name                 string
			ps                   []capacity.Placed
			pipelines            int
			nursing, residential int
		}{
			{"geo-indexed", batch(2, t0, discharge.BedNursing, discharge.BedResidential), 1, 3, 3},
			{"the same bed types", batch(3, t0.Add(time.Minute), discharge.BedNursing, discharge.BedResidential), 1, 3, 3},
			{"a bed type dropped", batch(4, t0.Add(2*time.Minute), discharge.BedNursing), 2, 3, 0},
			{"version 0", batch(0, t0.Add(3*time.Minute), discharge.BedNursing, discharge.BedResidential), 2, 3, 3},
		} {
			*count = pipelineCounter{}
			for i, o := range cs.PutBatch(ctx, step.ps) {
				if o.Err != nil || !o.Applied {
					t.Fatalf("%s: posting %d: %+v", step.name, i, o)
				}
			}
			if count.pipelines != step.pipelines || count.commands != 0 {
				t.Fatalf("%s: %d pipelines and %d single commands, want %d pipelines", step.name, count.pipelines, count.commands, step.pipelines)
			}
			if n, r := near(discharge.BedNursing), near(discharge.BedResidential); n != step.nursing || r != step.residential {
				t.Fatalf("%s: %d in the nursing shard, %d in the residential, want %d and %d", step.name, n, r, step.nursing, step.residential)
			}
		}
	})
}
