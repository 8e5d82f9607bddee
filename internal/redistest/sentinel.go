package redistest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Sentinel is a master, one replica and three Sentinels watching them, all
// on loopback, each with its own directory.
type Sentinel struct {
	tb        testing.TB
	Master    *Server
	Replica   *Server
	Sentinels []*Server
}

// SentinelMaster is the monitored master's name.
const SentinelMaster = "discharge"

// StartSentinel starts the set and waits until every Sentinel knows the
// master and its replica. Everything is stopped when the test ends.
func StartSentinel(tb testing.TB) *Sentinel {
	tb.Helper()
	s := &Sentinel{tb: tb}
	s.Master = Start(tb, "--appendonly", "yes", "--appendfsync", "always", "--repl-diskless-sync-delay", "0")
	s.Replica = Start(tb, "--replicaof", "127.0.0.1", strconv.Itoa(s.Master.Port), "--appendonly", "yes", "--appendfsync", "always")
	for i := 0; i < 3; i++ {
		dir := tb.TempDir()
		port := FreePort(tb)
		conf := filepath.Join(dir, "sentinel.conf")
		body := fmt.Sprintf("port %d\nbind 127.0.0.1\ndir %s\nsentinel monitor %s 127.0.0.1 %d 2\n"+
			"sentinel down-after-milliseconds %s 1000\nsentinel failover-timeout %s 5000\nsentinel parallel-syncs %s 1\n",
			port, dir, SentinelMaster, s.Master.Port, SentinelMaster, SentinelMaster, SentinelMaster)
		if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
			tb.Fatal(err)
		}
		cmd := exec.Command("redis-server", conf, "--sentinel", "--logfile", filepath.Join(dir, "sentinel.log"))
		if err := cmd.Start(); err != nil {
			tb.Fatalf("start sentinel: %v", err)
		}
		go func() { _ = cmd.Wait() }()
		srv := &Server{tb: tb, Dir: dir, Port: port, cmd: cmd}
		tb.Cleanup(srv.Kill)
		if err := waitReady(srv.Addr(), 10*time.Second); err != nil {
			tb.Fatalf("sentinel %s: %v", srv.Addr(), err)
		}
		s.Sentinels = append(s.Sentinels, srv)
	}
	ctx := context.Background()
	deadline := time.Now().Add(20 * time.Second)
	for _, sn := range s.Sentinels {
		c := redis.NewSentinelClient(&redis.Options{Addr: sn.Addr()})
		for {
			reps, err := c.Replicas(ctx, SentinelMaster).Result()
			peers, _ := c.Sentinels(ctx, SentinelMaster).Result()
			if err == nil && len(reps) == 1 && len(peers) == 2 {
				break
			}
			if time.Now().After(deadline) {
				c.Close()
				tb.Fatalf("sentinel %s never saw the replica and its peers: %v %v", sn.Addr(), reps, err)
			}
			time.Sleep(100 * time.Millisecond)
		}
		c.Close()
	}
	return s
}

// Addrs are the Sentinels' addresses (REDIS_ADDRS).
func (s *Sentinel) Addrs() []string {
	out := make([]string, len(s.Sentinels))
	for i, sn := range s.Sentinels {
		out[i] = sn.Addr()
	}
	return out
}

// WaitFailover waits until the Sentinels name the replica as master.
func (s *Sentinel) WaitFailover(ctx context.Context) error {
	c := redis.NewSentinelClient(&redis.Options{Addr: s.Sentinels[0].Addr()})
	defer c.Close()
	want := strconv.Itoa(s.Replica.Port)
	for {
		addr, err := c.GetMasterAddrByName(ctx, SentinelMaster).Result()
		if err == nil && len(addr) == 2 && addr[1] == want {
			role, _ := s.Replica.Client().Do(ctx, "ROLE").Slice()
			if len(role) > 0 && strings.EqualFold(fmt.Sprint(role[0]), "master") {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("no failover: sentinels name %v (%v)", addr, err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}
