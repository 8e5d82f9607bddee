package redistest

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestCluster starts a 3+3 cluster, writes a key to each master's slots,
// kills the master of one of them and reads the key back from the replica
// the cluster promoted; the old master then rejoins as a replica.
func TestCluster(t *testing.T) {
	start := time.Now()
	c := StartCluster(t, 3, 1)
	t.Logf("cluster of %d nodes ready in %v", len(c.Servers()), time.Since(start).Round(time.Millisecond))
	ctx := context.Background()
	cc := c.Client()

	// One key on each master: hash tags pick a slot, and keys are added
	// until every master holds one.
	byMaster := map[*Server]string{}
	for i := 0; len(byMaster) < 3; i++ {
		if i == 100 {
			t.Fatalf("100 keys landed on only %d masters", len(byMaster))
		}
		k := fmt.Sprintf("{k%d}x", i)
		m := c.MasterFor(k)
		if _, ok := byMaster[m]; ok {
			continue
		}
		byMaster[m] = k
		if err := cc.Set(ctx, k, "v-"+k, 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	dist := c.KeyDistribution(ctx)
	if len(dist) != 3 {
		t.Fatalf("key distribution over %d masters: %v", len(dist), dist)
	}
	for m, k := range byMaster {
		if dist[m.Addr()] != 1 {
			t.Fatalf("master %s holds %d keys, want 1 (%s): %v", m.Addr(), dist[m.Addr()], k, dist)
		}
	}
	if n, err := cc.DBSize(ctx).Result(); err != nil || n != 3 {
		t.Fatalf("DBSIZE over the cluster: %d %v", n, err)
	}

	var victim *Server
	var key string
	for m, k := range byMaster {
		victim, key = m, k
		break
	}
	slot, err := cc.ClusterKeySlot(ctx, key).Result()
	if err != nil {
		t.Fatal(err)
	}
	// The replica must hold the key before its master dies: write it again
	// on the master and WAIT on that connection.
	waitCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	va := victim.admin()
	err = va.Set(waitCtx, key, "v-"+key, 0).Err()
	if err == nil {
		err = va.Do(waitCtx, "WAIT", 1, 5000).Err()
	}
	va.Close()
	if err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	c.KillMaster(victim)
	if err := c.WaitFailover(waitCtx, int(slot)); err != nil {
		t.Fatal(err)
	}
	t.Logf("slot %d failed over in %v", slot, time.Since(killed).Round(time.Millisecond))
	promoted := c.MasterFor(key)
	if promoted == victim {
		t.Fatalf("slot %d still on the killed master", slot)
	}
	if v, err := cc.Get(ctx, key).Result(); err != nil || v != "v-"+key {
		t.Fatalf("after failover %s = %q, %v", key, v, err)
	}

	c.Restart(victim)
	a := victim.admin()
	defer a.Close()
	role, err := a.Do(ctx, "ROLE").Slice()
	if err != nil || len(role) == 0 || role[0] != "slave" {
		t.Fatalf("the old master came back as %v (%v), want a replica", role, err)
	}
	if err := c.FlushAll(ctx); err != nil {
		t.Fatal(err)
	}
	if n, err := cc.DBSize(ctx).Result(); err != nil || n != 0 {
		t.Fatalf("after FlushAll: %d keys, %v", n, err)
	}
}

// TestSentinel starts a master, a replica and three Sentinels, kills the
// master and finds a write acknowledged by the replica on the new master.
func TestSentinel(t *testing.T) {
	start := time.Now()
	s := StartSentinel(t)
	t.Logf("sentinel set ready in %v", time.Since(start).Round(time.Millisecond))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c := s.Client()
	if err := c.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if n, err := c.Do(ctx, "WAIT", 1, 5000).Int(); err != nil || n != 1 {
		t.Fatalf("WAIT: %d %v", n, err)
	}
	killed := time.Now()
	if m := s.KillMaster(); m != s.Master {
		t.Fatalf("killed %s, want the first master %s", m.Addr(), s.Master.Addr())
	}
	if err := s.WaitFailover(ctx); err != nil {
		t.Fatal(err)
	}
	t.Logf("failed over in %v", time.Since(killed).Round(time.Millisecond))
	if v, err := c.Get(ctx, "k").Result(); err != nil || v != "v" {
		t.Fatalf("after failover k = %q, %v", v, err)
	}
}

// TestOpen checks the target of this run's REDISTEST_MODE: a write through
// its client is found by Keys, and the next test starts empty.
func TestOpen(t *testing.T) {
	ctx := context.Background()
	for i := range 2 {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			tg := Open(t)
			if tg.Mode != Mode() {
				t.Fatalf("mode %q, want %q", tg.Mode, Mode())
			}
			keys, err := tg.Keys(ctx, "*")
			if err != nil || len(keys) != 0 {
				t.Fatalf("not empty at the start: %v %v", keys, err)
			}
			for _, k := range []string{"{a}1", "{b}1", "{c}1", "{d}1"} {
				if err := tg.UniversalClient().Set(ctx, k, "1", 0).Err(); err != nil {
					t.Fatal(err)
				}
			}
			keys, err = tg.Keys(ctx, "{*")
			if err != nil || len(keys) != 4 {
				t.Fatalf("Keys found %v, %v", keys, err)
			}
			env := tg.Env()
			if (env["REDIS_URL"] == "") == (env["REDIS_ADDRS"] == "") || (env["REDIS_MASTER"] != "") != (tg.Mode == "sentinel") ||
				strings.Contains(env["REDIS_ADDRS"], " ") {
				t.Fatalf("env %v for mode %s", env, tg.Mode)
			}
		})
	}
}
