package rediscache

import (
	"context"
	"testing"

	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/internal/redistest"
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
	keys := []string{shard, vs}
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
