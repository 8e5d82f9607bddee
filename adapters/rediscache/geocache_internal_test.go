package rediscache

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"

	"github.com/dischargegateway/gateway/placement"
)

// round4 answers exactly what formatting to 4 decimals and parsing back
// does, for random distances and for those at and beside a half in the
// fifth decimal, where the two roundings could part.
func TestRound4MatchesStrconv(t *testing.T) {
	viaStrings := func(x float64) float64 {
		r, _ := strconv.ParseFloat(strconv.FormatFloat(x, 'f', 4, 64), 64)
		return r
	}
	check := func(x float64) {
		t.Helper()
		if got, want := round4(x), viaStrings(x); got != want && !(math.IsNaN(got) && math.IsNaN(want)) {
			t.Fatalf("round4(%v) = %v, want %v", x, got, want)
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 200000 {
		check(rng.Float64() * 200)              // km within any radius
		check(rng.Float64() * 20040)            // any km on Earth
		check(rng.Float64() * 2.004e7)          // any m on Earth
		check(float64(rng.IntN(2000000)) / 1e4) // already 4 decimals
		// A half in the fifth decimal, and the floats either side.
		h := (float64(rng.IntN(2000000)) + 0.5) / 1e4
		check(h)
		check(math.Nextafter(h, 0))
		check(math.Nextafter(h, math.Inf(1)))
	}
	// Exact binary ties: FormatFloat rounds them to even.
	for _, x := range []float64{0.03125, 0.09375, 0.15625, 1.03125, 12.21875, 0.00005, 0, 1e9, 1e12, math.Inf(1), math.NaN(), -0.03125, -3.14159265} {
		check(x)
	}
}

// nearOld is nearIn and Near's cut as they were before nearestFirst: a
// map merge in shard order, a full sort, then the first limit.
func nearOld(shards []*geoShard, lat, lon, radiusKm float64, limit int) []placement.Nearby {
	radiusM := radiusKm * 1000
	var out []placement.Nearby
	best := map[string]int{}
	for _, sh := range shards {
		for _, m := range sh.members {
			d := haversineAsBefore(lon, lat, m.lon, m.lat)
			if d > radiusM {
				continue
			}
			km, _ := strconv.ParseFloat(strconv.FormatFloat(d/1000, 'f', 4, 64), 64)
			if j, ok := best[m.id]; ok {
				out[j].DistanceKm = min(out[j].DistanceKm, km)
				out[j].CapacityVersion = max(out[j].CapacityVersion, m.version)
				continue
			}
			best[m.id] = len(out)
			out = append(out, placement.Nearby{LocationID: m.id, DistanceKm: km, CapacityVersion: m.version})
		}
	}
	slices.SortFunc(out, compareNearby)
	return out[:min(limit, len(out))]
}

// nearIn and nearestFirst answer what a merge, a full sort and a cut
// answer, on random shards where a location is in several shards, at the
// same place or (an index update in flight) another, with many equal
// distances, for limits below, at and above the hits.
func TestNearestFirstMatchesFullSort(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	const lat0, lon0 = 53.45, -2.22
	for round := range 300 {
		nLoc := 1 + rng.IntN(400)
		pos := make([][2]float64, nLoc)
		for i := range pos {
			// A coarse grid, so that distances often tie.
			pos[i] = [2]float64{lat0 + float64(rng.IntN(40)-20)*0.005, lon0 + float64(rng.IntN(40)-20)*0.008}
		}
		shards := make([]*geoShard, 1+rng.IntN(6))
		var numbers geoCache
		for s := range shards {
			sh := &geoShard{}
			for i := range nLoc {
				if rng.IntN(len(shards)) != 0 {
					continue
				}
				p := pos[i]
				if rng.IntN(10) == 0 {
					p[0] += 0.003 // listed elsewhere in this shard
				}
				sh.members = append(sh.members, geoMember{id: fmt.Sprintf("L%04d", i), lat: p[0], lon: p[1], rad: toRad(p[1], p[0]), version: int64(rng.IntN(5))})
			}
			rng.Shuffle(len(sh.members), func(a, b int) { sh.members[a], sh.members[b] = sh.members[b], sh.members[a] })
			sh.sortByLat()
			numbers.number(sh)
			shards[s] = sh
		}
		radius := 0.5 + rng.Float64()*15
		for _, limit := range []int{1, 2, 7, 50, 500, nLoc, nLoc + 1} {
			want := nearOld(shards, lat0, lon0, radius, limit)
			got := nearestFirst(nearIn(shards, lat0, lon0, radius), limit)
			if !slices.Equal(got, want) {
				t.Fatalf("round %d, limit %d: got %v\nwant %v", round, limit, got, want)
			}
		}
	}
}

// selectNearest puts the k smallest first, whatever the input's order.
func TestSelectNearest(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for range 2000 {
		n := rng.IntN(60)
		hits := make([]placement.Nearby, n)
		for i := range hits {
			hits[i] = placement.Nearby{LocationID: fmt.Sprintf("L%03d", i), DistanceKm: float64(rng.IntN(8))}
		}
		switch rng.IntN(3) {
		case 0:
			slices.SortFunc(hits, compareNearby)
		case 1:
			slices.SortFunc(hits, func(a, b placement.Nearby) int { return -compareNearby(a, b) })
		}
		sorted := slices.Clone(hits)
		slices.SortFunc(sorted, compareNearby)
		k := rng.IntN(n + 1)
		selectNearest(hits, k)
		head := slices.Clone(hits[:k])
		slices.SortFunc(head, compareNearby)
		if !slices.Equal(head, sorted[:k]) {
			t.Fatalf("k %d: first k %v, want %v", k, head, sorted[:k])
		}
	}
}

// BenchmarkNearShards searches copies of 12 shards (3 bed types in 4
// areas) holding 25,000 locations, most in two bed types, for the nearest
// 500 within 25 km, as a dense area's placement does.
func BenchmarkNearShards(b *testing.B) {
	rng := rand.New(rand.NewPCG(7, 8))
	const lat0, lon0 = 53.45, -2.22
	shards := make([]*geoShard, 12)
	for i := range shards {
		shards[i] = &geoShard{}
	}
	for i := range 25000 {
		lat, lon := lat0+(rng.Float64()-0.5)*1.2, lon0+(rng.Float64()-0.5)*2
		area := rng.IntN(4)
		for bed := range 3 {
			if rng.IntN(3) > 0 {
				sh := shards[3*area+bed]
				sh.members = append(sh.members, geoMember{id: fmt.Sprintf("loc-%05d", i), lat: lat, lon: lon, rad: toRad(lon, lat), version: int64(i)})
			}
		}
	}
	var numbers geoCache
	for _, sh := range shards {
		sh.sortByLat()
		numbers.number(sh)
	}
	b.ReportAllocs()
	for b.Loop() {
		if got := nearShards(shards, lat0, lon0, 25, 500); len(got) != 500 {
			b.Fatal(len(got))
		}
	}
}

// band keeps every member the box test |m.lat-lat| <= dLat keeps, those
// exactly on the box's edges included.
func TestBandKeepsTheBox(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	for range 2000 {
		lat, dLat := -80+160*rng.Float64(), rng.Float64()*0.5
		sh := &geoShard{}
		for range rng.IntN(50) {
			l := lat + (rng.Float64()-0.5)*4*dLat
			switch rng.IntN(4) {
			case 0:
				l = lat + dLat
			case 1:
				l = lat - dLat
			}
			sh.members = append(sh.members, geoMember{lat: l})
		}
		sh.sortByLat()
		band := sh.band(lat, dLat)
		in := 0
		for _, m := range band {
			if math.Abs(m.lat-lat) <= dLat {
				in++
			}
		}
		want := 0
		for _, m := range sh.members {
			if math.Abs(m.lat-lat) <= dLat {
				want++
			}
		}
		if in != want {
			t.Fatalf("lat %v dLat %v: band keeps %d of the box's %d", lat, dLat, in, want)
		}
	}
}

// haversineAsBefore is the distance as nearIn computed it before radPoint.
func haversineAsBefore(lon1, lat1, lon2, lat2 float64) float64 {
	lon1r, lon2r := degRad(lon1), degRad(lon2)
	v := math.Sin((lon2r - lon1r) / 2)
	if v == 0 {
		return redisEarthRadiusM * math.Abs(degRad(lat2)-degRad(lat1))
	}
	lat1r, lat2r := degRad(lat1), degRad(lat2)
	u := math.Sin((lat2r - lat1r) / 2)
	a := u*u + math.Cos(lat1r)*math.Cos(lat2r)*v*v
	return 2.0 * redisEarthRadiusM * math.Asin(math.Sqrt(a))
}

// The haversine from points in radians gives the very same float as from
// degrees, on random pairs, equal longitudes and identical points.
func TestRedisDistanceRadBitForBit(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	for i := range 300000 {
		lon1, lat1 := -180+360*rng.Float64(), -85+170*rng.Float64()
		lon2, lat2 := lon1+(rng.Float64()-0.5)*rng.Float64(), lat1+(rng.Float64()-0.5)*rng.Float64()
		switch i % 5 {
		case 0:
			lon2 = lon1
		case 1:
			lon2, lat2 = lon1, lat1
		}
		want := haversineAsBefore(lon1, lat1, lon2, lat2)
		if got := redisDistanceRad(toRad(lon1, lat1), toRad(lon2, lat2)); math.Float64bits(got) != math.Float64bits(want) {
			t.Fatalf("(%v,%v)-(%v,%v): %v, want %v", lon1, lat1, lon2, lat2, got, want)
		}
	}
}

// A scratch's stamps from an earlier search never count in a later one,
// across the wrap of the search number too, and growing keeps them.
func TestScratchStamps(t *testing.T) {
	sc := &nearScratch{}
	sc.nextSearch()
	sc.grow(3)
	sc.stamp[2] = sc.search
	sc.grow(40)
	if len(sc.stamp) < 40 || len(sc.at) != len(sc.stamp) || sc.stamp[2] != sc.search {
		t.Fatalf("grown to %d/%d, stamp %v", len(sc.stamp), len(sc.at), sc.stamp[2])
	}
	sc.search = math.MaxUint32
	sc.stamp[5] = 1
	sc.nextSearch()
	if sc.search != 1 || sc.stamp[5] != 0 || sc.stamp[2] != 0 {
		t.Fatalf("after the wrap: search %d, stamps %v %v", sc.search, sc.stamp[5], sc.stamp[2])
	}
}

// compareNearby answers byDistance, NaN, equal distances and equal ids
// included.
func TestCompareNearbyIsByDistance(t *testing.T) {
	ds := []float64{math.NaN(), math.Inf(-1), -1, 0, 0.0001, 1.5, 1.5000000000000002, 2, math.Inf(1)}
	ids := []string{"", "a", "b", "loc-1"}
	for _, da := range ds {
		for _, db := range ds {
			for _, ia := range ids {
				for _, ib := range ids {
					a, b := placement.Nearby{LocationID: ia, DistanceKm: da}, placement.Nearby{LocationID: ib, DistanceKm: db}
					if got, want := compareNearby(a, b), byDistance(da, db, ia, ib); got != want {
						t.Fatalf("%v %q vs %v %q: %d, want %d", da, ia, db, ib, got, want)
					}
				}
			}
		}
	}
}

// BenchmarkNearestFirst selects and sorts the nearest 500 of 3,000 hits.
func BenchmarkNearestFirst(b *testing.B) {
	rng := rand.New(rand.NewPCG(13, 14))
	hits := make([]placement.Nearby, 3000)
	for i := range hits {
		hits[i] = placement.Nearby{LocationID: fmt.Sprintf("loc-%05d", i), DistanceKm: round4(rng.Float64() * 25)}
	}
	work := make([]placement.Nearby, len(hits))
	for b.Loop() {
		copy(work, hits)
		nearestFirst(work, 500)
	}
}
