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
		}{
			{"first, at the record's version", at7(t0, 7, 4), true, 7, 4},
			{"a replay", at7(t0, 7, 1), false, 7, 4},
			{"a correction", at7(t0, 8, 3), true, 8, 3},
			{"an earlier correction, late", at7(t0, 6, 9), false, 8, 3},
			{"newer", at7(t0.Add(time.Hour), 9, 2), true, 9, 2},
			{"older, at a higher version", at7(t0, 12, 5), false, 9, 2},
			{"no version, equal as-of", at7(t0.Add(time.Hour), 0, 1), true, 10, 1},
		} {
			cur, applied, err := cs.Put(ctx, step.c, at, "M")
			if err != nil || applied != step.applied || cur.Version != step.version || cur.Vacant(discharge.BedNursing) != step.free {
				t.Fatalf("%s: %+v applied %v, %v; want version %d with %d free, applied %v", step.name, cur, applied, err, step.version, step.free, step.applied)
			}
			if vs, err := cs.Versions(ctx, "L7"); err != nil || vs[0] != step.version {
				t.Fatalf("%s: Versions %v %v", step.name, vs, err)
			}
			hits, err := cs.Near(ctx, []string{"M"}, []discharge.BedType{discharge.BedNursing}, 53.44, -2.22, 5, 10)
			if err != nil || len(hits) != 1 || hits[0].CapacityVersion != step.version {
				t.Fatalf("%s: the geo index has %+v %v", step.name, hits, err)
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
// districts it no longer serves.
func TestCapacityPostingLeavesDroppedShards(t *testing.T) {
	both(t, func(t *testing.T, rdb redis.UniversalClient) {
		ctx := context.Background()
		cs := rediscache.NewCapacityStore(rdb)
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
		if _, _, err := cs.Put(ctx, both, m, "M"); err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(near(discharge.BedNursing, "M"), near(discharge.BedResidential, "M"))+" "+covering("M15") != "[L1] [L1] [L1]" {
			t.Fatal("first posting not indexed:", near(discharge.BedNursing, "M"), near(discharge.BedResidential, "M"), covering("M15"))
		}
		one := discharge.Capacity{LocationID: "L1", AsOf: t0.Add(time.Hour), Beds: []discharge.BedCapacity{
			{Type: discharge.BedResidential, MaxCapacity: 10, AcceptingAdmissions: 1}},
			HomeCare: []discharge.HomeCareOffer{{Outcodes: []string{"M14"}, HoursPerWeek: 10, EarliestStart: discharge.DateOf(t0)}}}
		if _, _, err := cs.Put(ctx, one, m, "M"); err != nil {
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
		if _, _, err := cs.Put(ctx, one, &discharge.Position{Lat: 53.41, Lon: -2.16}, "SK"); err != nil {
			t.Fatal(err)
		}
		if got := near(discharge.BedResidential, "M"); len(got) != 0 {
			t.Errorf("still in the old area's shard: %v", got)
		}
		if got := near(discharge.BedResidential, "SK"); fmt.Sprint(got) != "[L1]" {
			t.Errorf("new area's shard: %v", got)
		}
		// An older posting is refused, and touches no shard.
		if _, applied, _ := cs.Put(ctx, both, m, "M"); applied {
			t.Fatal("an older posting was applied")
		}
		if got := near(discharge.BedNursing, "M"); len(got) != 0 {
			t.Errorf("a refused posting re-indexed the location: %v", got)
		}
	})
}
