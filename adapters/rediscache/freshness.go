package rediscache

import (
	"context"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// Freshness index: the as-of time of every location's current posting, for
// counting fresh, stale and unknown capacity without reading the postings.
// Sharded over freshnessShards keys (each its own slot), so neither the
// postings that update it nor the counts that read it meet on one node.
//
//	dg:{capfresh~<n>…}   ZSET location id → as-of (Unix seconds); the tags are
//	                     spread evenly over the slots (slots.go)
const freshnessShards = 16

// noteAsOf records a location's as-of time; GT keeps the newest, whatever
// order racing postings arrive in.
func noteAsOf(ctx context.Context, pipe redis.Pipeliner, loc string, asOf time.Time) redis.Cmder {
	return pipe.ZAddGT(ctx, freshnessKey(loc), redis.Z{Score: float64(asOf.Unix()), Member: loc})
}

// FreshnessCounts counts locations whose current posting is fresh (younger
// than staleAfter), stale, or unknown (older than expireAfter) at now; one
// round trip of ZCOUNTs.
func (s *CapacityStore) FreshnessCounts(ctx context.Context, now time.Time, staleAfter, expireAfter time.Duration) (fresh, stale, unknown int64, err error) {
	staleAt := strconv.FormatInt(now.Add(-staleAfter).Unix(), 10)
	expireAt := strconv.FormatInt(now.Add(-expireAfter).Unix(), 10)
	pipe := s.rdb.Pipeline()
	type counts struct{ f, s, u *redis.IntCmd }
	cs := make([]counts, freshnessShards)
	for i := range cs {
		k := freshnessShardKey(i)
		cs[i] = counts{pipe.ZCount(ctx, k, "("+staleAt, "+inf"), pipe.ZCount(ctx, k, "("+expireAt, staleAt), pipe.ZCount(ctx, k, "-inf", expireAt)}
	}
	if _, err := pipe.Exec(ctx); err != nil && err != redis.Nil {
		return 0, 0, 0, classify("rediscache.FreshnessCounts", err)
	}
	for _, c := range cs {
		fresh += c.f.Val()
		stale += c.s.Val()
		unknown += c.u.Val()
	}
	return fresh, stale, unknown, nil
}
