package redistest

import (
	"context"
	"os"
	"sync/atomic"
	"testing"

	"github.com/redis/go-redis/v9"
)

// TestClusterStarts starts a 3+3 cluster and writes a key to each master's
// slots through a cluster client.
func TestClusterStarts(t *testing.T) {
	if _, err := os.Stat("/proc"); err != nil {
		t.Skip("needs Linux")
	}
	dir := t.TempDir()
	c, err := StartCluster(dir, 3, 1)
	if err != nil {
		if os.Getenv("REDISTEST_REQUIRED") != "1" {
			t.Skip(err)
		}
		t.Fatal(err)
	}
	defer c.Stop()
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs()})
	defer cc.Close()
	ctx := context.Background()
	for _, k := range []string{"{a}x", "{b}x", "{c}x", "{d}x", "{e}x"} {
		if err := cc.Set(ctx, k, "1", 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	var masters atomic.Int32 // ForEachMaster calls back on every master at once
	_ = cc.ForEachMaster(ctx, func(ctx context.Context, m *redis.Client) error {
		masters.Add(1)
		return nil
	})
	if masters := masters.Load(); masters != 3 {
		t.Fatalf("%d masters", masters)
	}
	if n, _ := cc.DBSize(ctx).Result(); n != 5 {
		t.Fatalf("DBSIZE over the cluster: %d", n)
	}
}
