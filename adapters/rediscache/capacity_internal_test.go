package rediscache

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/internal/redistest"
	"github.com/dischargegateway/gateway/placement"
)

// Two applied postings whose index updates arrive out of order: the newer
// one's removal from a shard is not undone by the older one's late add, and
// an older removal does not take out a newer add.
func TestGeoShardUpdatesNeverGoBack(t *testing.T) {
	target := redistest.Open(t)
	c, err := Open(context.Background(), Config{URL: target.URL, Addrs: target.Addrs, SentinelMaster: target.SentinelMaster})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	shard, vs := geoKey(discharge.BedNursing, "M"), geoVersionKey(discharge.BedNursing, "M")
	keys := []string{shard, vs, geoGenKey(discharge.BedNursing, "M")}
	member := func() bool {
		n, err := c.Client.ZScore(ctx, shard, "L1").Result()
		return err == nil && n != 0
	}
	// Version 2 (no nursing beds) removes; version 1's add arrives late.
	if err := shardDelScript.Run(ctx, c.Client, keys, "L1", 2).Err(); err != nil {
		t.Fatal(err)
	}
	if err := shardPutScript.Run(ctx, c.Client, keys, -2.22, 53.44, "L1", 1).Err(); err != nil {
		t.Fatal(err)
	}
	if member() {
		t.Fatal("an older posting's late add undid a newer removal")
	}
	// Version 3 adds; version 2's removal arriving again changes nothing.
	if err := shardPutScript.Run(ctx, c.Client, keys, -2.22, 53.44, "L1", 3).Err(); err != nil {
		t.Fatal(err)
	}
	if err := shardDelScript.Run(ctx, c.Client, keys, "L1", 2).Err(); err != nil {
		t.Fatal(err)
	}
	if !member() {
		t.Fatal("an older removal took out a newer add")
	}
	if v, _ := c.Client.HGet(ctx, vs, "L1").Int(); v != 3 {
		t.Fatalf("recorded version %d, want 3", v)
	}
}

// The process copy of the geo shards answers exactly what GEOSEARCH over
// the same shards answers (ids, order and WITHDIST distances), and a
// second process's writes show in the first's very next search: moves,
// dropped bed types, new locations and new versions.
func TestNearMatchesGeosearch(t *testing.T) {
	target := redistest.Open(t)
	open := func() *Conn {
		c, err := Open(context.Background(), Config{URL: target.URL, Addrs: target.Addrs, SentinelMaster: target.SentinelMaster})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	ctx := context.Background()
	c1, c2 := open(), open()
	reader := NewCapacityStore(c1.Client) // one gateway process
	writer := NewCapacityStore(c2.Client) // another
	r := rand.New(rand.NewPCG(11, 12))
	areas := []string{"M", "SK", "OL", "WA"}
	beds := []discharge.BedType{discharge.BedNursing, discharge.BedResidential}
	const lat0, lon0 = 53.45, -2.22
	asOf := time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC)
	post := func(i int) {
		t.Helper()
		d := 0.4 * r.ExpFloat64()
		pos := discharge.Position{Lat: lat0 + d*(r.Float64()-0.5), Lon: lon0 + 1.6*d*(r.Float64()-0.5)}
		var bs []discharge.BedCapacity
		for _, b := range beds {
			if r.IntN(3) > 0 {
				bs = append(bs, discharge.BedCapacity{Type: b, MaxCapacity: 5, Occupied: 4, AcceptingAdmissions: 1})
			}
		}
		asOf = asOf.Add(time.Second)
		c := discharge.Capacity{LocationID: fmt.Sprintf("loc-%03d", i), AsOf: asOf, Beds: bs}
		if _, _, err := writer.Put(ctx, c, &pos, areas[r.IntN(len(areas))]); err != nil {
			t.Fatal(err)
		}
	}
	// GEOSEARCH every shard, merge by id (nearest, highest version), sort
	// and cut: what Near answered before it kept a copy.
	want := func(lat, lon, radius float64, limit int) []placement.Nearby {
		t.Helper()
		best := map[string]placement.Nearby{}
		for _, b := range beds {
			for _, a := range areas {
				locs, err := c2.Client.GeoSearchLocation(ctx, geoKey(b, a), &redis.GeoSearchLocationQuery{
					GeoSearchQuery: redis.GeoSearchQuery{Longitude: lon, Latitude: lat, Radius: radius, RadiusUnit: "km", Sort: "ASC"},
					WithDist:       true}).Result()
				if err != nil {
					t.Fatal(err)
				}
				for _, l := range locs {
					v, _ := c2.Client.HGet(ctx, geoVersionKey(b, a), l.Name).Int64()
					h, ok := best[l.Name]
					if !ok || l.Dist < h.DistanceKm {
						h.LocationID, h.DistanceKm = l.Name, l.Dist
					}
					h.CapacityVersion = max(h.CapacityVersion, v)
					best[l.Name] = h
				}
			}
		}
		out := make([]placement.Nearby, 0, len(best))
		for _, h := range best {
			out = append(out, h)
		}
		slices.SortFunc(out, func(a, b placement.Nearby) int {
			return byDistance(a.DistanceKm, b.DistanceKm, a.LocationID, b.LocationID)
		})
		if len(out) > limit {
			out = out[:limit]
		}
		return out
	}
	check := func(round int) {
		t.Helper()
		for q := 0; q < 20; q++ {
			lat, lon := lat0+0.3*(r.Float64()-0.5), lon0+0.5*(r.Float64()-0.5)
			radius := []float64{0.5, 2, 6.25, 25, 80}[q%5]
			limit := []int{5, 50, 1000}[q%3]
			got, err := reader.Near(ctx, areas, beds, lat, lon, radius, limit)
			if err != nil {
				t.Fatal(err)
			}
			exp := want(lat, lon, radius, limit)
			if fmt.Sprint(got) != fmt.Sprint(exp) {
				t.Fatalf("round %d, query %d (%.5f,%.5f r=%v limit=%d):\n near       %v\n geosearch  %v", round, q, lat, lon, radius, limit, got, exp)
			}
		}
	}
	for i := 0; i < 300; i++ {
		post(i)
	}
	check(0)
	if len(reader.geo.shards) == 0 {
		t.Fatal("Near kept no copy of the shards")
	}
	// Another process moves, re-types and adds locations; the reader's copy
	// must follow at once.
	for round := 1; round <= 3; round++ {
		for k := 0; k < 40; k++ {
			post(r.IntN(330))
		}
		check(round)
	}
	// Changes that only add to shards: a new location, and postings that
	// change nothing but the version (same place, area and bed types).
	at := discharge.Position{Lat: lat0, Lon: lon0}
	fixed := func(id string) {
		t.Helper()
		asOf = asOf.Add(time.Second)
		c := discharge.Capacity{LocationID: id, AsOf: asOf, Beds: []discharge.BedCapacity{
			{Type: discharge.BedNursing, MaxCapacity: 5, Occupied: 4, AcceptingAdmissions: 1}}}
		if _, _, err := writer.Put(ctx, c, &at, "M"); err != nil {
			t.Fatal(err)
		}
	}
	nearest := func() placement.Nearby {
		t.Helper()
		got, err := reader.Near(ctx, areas, beds, lat0, lon0, 0.001, 5)
		if err != nil || len(got) != 1 {
			t.Fatalf("%v %v", got, err)
		}
		return got[0]
	}
	fixed("new-one")
	if h := nearest(); h.LocationID != "new-one" || h.CapacityVersion != 1 {
		t.Fatalf("a new location not seen by the other process: %+v", h)
	}
	for v := int64(2); v <= 4; v++ {
		fixed("new-one")
		if h := nearest(); h.CapacityVersion != v {
			t.Fatalf("version %d not seen by the other process: %+v", v, h)
		}
	}
	// A change that only removes from a shard: the location moves to
	// another area, and must leave the first area's copy at once.
	asOf = asOf.Add(time.Second)
	away := discharge.Position{Lat: lat0 + 0.05, Lon: lon0}
	moved := discharge.Capacity{LocationID: "new-one", AsOf: asOf, Beds: []discharge.BedCapacity{
		{Type: discharge.BedNursing, MaxCapacity: 5, Occupied: 4, AcceptingAdmissions: 1}}}
	if _, _, err := writer.Put(ctx, moved, &away, "SK"); err != nil {
		t.Fatal(err)
	}
	if got, err := reader.Near(ctx, []string{"M"}, []discharge.BedType{discharge.BedNursing}, lat0, lon0, 0.001, 5); err != nil || len(got) != 0 {
		t.Fatalf("a location that left the shard is still found there: %v %v", got, err)
	}
	check(4)
}
