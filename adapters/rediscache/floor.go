package rediscache

import (
	"context"
	"errors"

	"github.com/redis/go-redis/v9"

	"github.com/dischargegateway/gateway/discharge"
)

// RawPlacementFloor does the raw Redis work one placement request would need
// without any of the gateway's caches: a GEOSEARCH of every bed type × area
// shard within radiusKm of the point (nearest first, at most limit hits per
// shard), then an HMGET of each hit's capacity posting, each step one
// pipelined round trip. It returns how many postings it read. The load
// generator measures it as the store's floor, a baseline from the same run;
// it lives here because only this package builds keys.
func (s *CapacityStore) RawPlacementFloor(ctx context.Context, areas []string, beds []discharge.BedType, lat, lon, radiusKm float64, limit int) (int, error) {
	const op = "rediscache.CapacityStore.RawPlacementFloor"
	pipe := s.rdb.Pipeline()
	var cmds []*redis.GeoSearchLocationCmd
	for _, bt := range beds {
		for _, a := range areas {
			cmds = append(cmds, pipe.GeoSearchLocation(ctx, geoKey(bt, a), &redis.GeoSearchLocationQuery{
				GeoSearchQuery: redis.GeoSearchQuery{Longitude: lon, Latitude: lat, Radius: radiusKm, RadiusUnit: "km", Sort: "ASC", Count: limit},
				WithDist:       true}))
		}
	}
	if len(cmds) == 0 {
		return 0, nil
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return 0, classify(op, err)
	}
	pipe = s.rdb.Pipeline()
	n := 0
	for _, c := range cmds {
		for _, l := range c.Val() {
			pipe.HMGet(ctx, capKey(l.Name), "rv", "doc")
			n++
		}
	}
	if n > 0 {
		if _, err := pipe.Exec(ctx); err != nil {
			return 0, classify(op, err)
		}
	}
	return n, nil
}
