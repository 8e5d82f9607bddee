package rediscache_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/dischargegateway/gateway/adapters/rediscache"
	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/internal/redistest"
)

// TestWaitForReplicas: with WithWait(1), a capacity posting is
// acknowledged only once a replica holds it, and fails as unavailable (so
// the caller retries) when no replica answers in time.
func TestWaitForReplicas(t *testing.T) {
	ctx := context.Background()
	master := redistest.Start(t, "--appendonly", "yes", "--appendfsync", "always", "--repl-diskless-sync-delay", "0")
	replica := redistest.Start(t, "--replicaof", "127.0.0.1", strconv.Itoa(master.Port))
	// Ready means a write on the master is acknowledged by the replica.
	probe := master.Client().Conn()
	defer probe.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		probe.Set(ctx, "probe", "1", 0)
		if n, _ := probe.Do(ctx, "WAIT", 1, 200).Int(); n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the replica never acknowledged a write")
		}
	}
	conn, err := rediscache.Open(ctx, rediscache.Config{URL: master.URL(), Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// A second for the replica's acknowledgement: 300 ms was missed under the
	// test command's load (fsync always on a busy disk), failing a healthy setup.
	cs := rediscache.NewCapacityStore(conn.Client, rediscache.WithWait(1, time.Second))
	posting := func(loc string) discharge.Capacity {
		return discharge.Capacity{LocationID: loc, AsOf: time.Now().UTC().Truncate(time.Second),
			Beds: []discharge.BedCapacity{{Type: discharge.BedNursing, MaxCapacity: 10, Occupied: 9, AcceptingAdmissions: 1}}}
	}
	if _, _, err := cs.Put(ctx, posting("loc-1"), nil, ""); err != nil {
		t.Fatalf("capacity with a replica online: %v", err)
	}
	// The replica has it the moment the posting is acknowledged.
	if got, err := rediscache.NewCapacityStore(replica.Client()).Get(ctx, "loc-1"); err != nil || len(got) != 1 {
		t.Fatalf("replica after acknowledgement: %v %v", got, err)
	}

	replica.Kill()
	start := time.Now()
	_, _, err = cs.Put(ctx, posting("loc-2"), nil, "")
	if kindOf(err) != discharge.KindUnavailable {
		t.Fatalf("posting with no replica: want unavailable, got %v", err)
	}
	if took := time.Since(start); took > 4*time.Second {
		t.Fatalf("posting took %v with a 1 s wait", took)
	}
	// Without WithWait the same cache acknowledges at once.
	if _, _, err := rediscache.NewCapacityStore(conn.Client).Put(ctx, posting("loc-3"), nil, ""); err != nil {
		t.Fatal(err)
	}
}
