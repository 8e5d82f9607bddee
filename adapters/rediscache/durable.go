package rediscache

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/dischargegateway/gateway/discharge"
)

// Option configures a CapacityStore.
type Option func(*options)

type options struct {
	durable durability
}

func applyOptions(opts []Option) options {
	var o options
	for _, f := range opts {
		f(&o)
	}
	return o
}

// WithWait makes every write wait until replicas replicas hold it (Redis
// WAIT) before it is acknowledged; short of them within timeout, the write
// is reported as KindUnavailable, so the caller gets 503 and retries.
//
// WAIT counts the writes of the connection it is sent on, so the script and
// the WAIT go over one dedicated connection to the master that owns the
// keys (on a cluster, the master of the first key's slot: every script's
// keys share that slot).
//
// With appendfsync always on the masters, a write acknowledged this way is
// on the master's disk and in replicas memory: losing the master (the
// replica is promoted) or restarting everything (the AOF is replayed) does
// not lose it. Redis replication is asynchronous, so this is not strong
// consistency: a write that timed out waiting may still be applied.
func WithWait(replicas int, timeout time.Duration) Option {
	return func(o *options) {
		o.durable.replicas = replicas
		o.durable.timeout = timeout
	}
}

type durability struct {
	replicas int
	timeout  time.Duration
}

// run runs a write script, then WAITs when replicas are required.
func (d durability) run(ctx context.Context, rdb redis.UniversalClient, sc *redis.Script, keys []string, args ...any) (any, error) {
	if d.replicas <= 0 {
		return sc.Run(ctx, rdb, keys, args...).Result()
	}
	node, err := masterFor(ctx, rdb, keys[0])
	if err != nil {
		return nil, err
	}
	conn := node.Conn()
	defer conn.Close()
	res, err := sc.Run(ctx, conn, keys, args...).Result()
	if err != nil {
		return nil, err
	}
	if err := d.wait(ctx, conn); err != nil {
		return nil, err
	}
	return res, nil
}

// wait sends WAIT on conn and checks enough replicas acknowledged.
func (d durability) wait(ctx context.Context, conn *redis.Conn) error {
	timeout := d.timeout
	if timeout <= 0 {
		timeout = time.Second
	}
	if dl, ok := ctx.Deadline(); ok {
		if left := time.Until(dl) - 50*time.Millisecond; left < timeout {
			timeout = max(left, time.Millisecond)
		}
	}
	n, err := conn.Do(ctx, "WAIT", d.replicas, timeout.Milliseconds()).Int()
	if err != nil {
		return err
	}
	if n < d.replicas {
		return discharge.Wrap(discharge.KindUnavailable, "rediscache.WAIT",
			fmt.Errorf("the write reached %d of %d required replicas in time; it may still be applied", n, d.replicas))
	}
	return nil
}

// masterFor is the client of the master that owns key: the cluster's node
// for its slot, or the one server (single or Sentinel-managed).
func masterFor(ctx context.Context, rdb redis.UniversalClient, key string) (*redis.Client, error) {
	switch c := rdb.(type) {
	case *redis.ClusterClient:
		return c.MasterForKey(ctx, key)
	case *redis.Client:
		return c, nil
	}
	return nil, fmt.Errorf("rediscache: WAIT needs a *redis.Client or *redis.ClusterClient, not %T", rdb)
}
