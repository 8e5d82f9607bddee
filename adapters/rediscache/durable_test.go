package rediscache_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/dischargegateway/gateway/adapters/rediscache"
	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/fhir"
	"github.com/dischargegateway/gateway/internal/redistest"
)

// TestWaitForReplicas: with WithWait(1), a commit is acknowledged only once
// a replica holds it, and fails as unavailable (so the caller retries) when
// no replica answers in time.
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
	s := rediscache.New(conn.Client, rediscache.WithWait(1, time.Second))
	w := fhir.Write{Resource: res("Patient", "p1", 1, `{"resourceType":"Patient","id":"p1"}`)}
	if err := s.Commit(ctx, "part", []fhir.Write{w}, nil); err != nil {
		t.Fatalf("commit with a replica online: %v", err)
	}
	// The replica has it the moment the commit is acknowledged.
	if v, err := replica.Client().HGet(ctx, "dg:{p:part}:r:Patient:p1", "v").Result(); err != nil || v != "1" {
		t.Fatalf("replica after acknowledgement: %q %v", v, err)
	}
	cs := rediscache.NewCapacityStore(conn.Client, 10, rediscache.WithWait(1, time.Second))
	capa := discharge.Capacity{LocationID: "loc-1", AsOf: time.Now().UTC().Truncate(time.Second),
		Beds: []discharge.BedCapacity{{Type: discharge.BedNursing, MaxCapacity: 10, Occupied: 9, AcceptingAdmissions: 1}}}
	if _, _, err := cs.Put(ctx, capa, nil, ""); err != nil {
		t.Fatalf("capacity with a replica online: %v", err)
	}

	replica.Kill()
	w2 := fhir.Write{Resource: res("Patient", "p2", 1, `{"resourceType":"Patient","id":"p2"}`)}
	start := time.Now()
	err = s.Commit(ctx, "part", []fhir.Write{w2}, nil)
	if kindOf(err) != discharge.KindUnavailable {
		t.Fatalf("commit with no replica: want unavailable, got %v", err)
	}
	if took := time.Since(start); took > 4*time.Second {
		t.Fatalf("commit took %v with a 1 s wait", took)
	}
	// Without WithWait the same store acknowledges at once.
	if err := rediscache.New(conn.Client).Commit(ctx, "part", []fhir.Write{{Resource: res("Patient", "p3", 1, `{}`)}}, nil); err != nil {
		t.Fatal(err)
	}
}
