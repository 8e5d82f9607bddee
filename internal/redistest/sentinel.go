package redistest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Sentinel is a master, one replica and three Sentinels watching them, all
// on loopback, each with its own directory.
type Sentinel struct {
	tb testing.TB // nil for the shared set of Open
	// Master and Replica are the servers as started; after a failover the
	// Replica is the master (Sentinel names the current one).
	Master    *Server
	Replica   *Server
	Sentinels []*Server

	mu     sync.Mutex
	killed *Server // the master KillMaster stopped last
}

// SentinelMaster is the monitored master's name (REDIS_MASTER).
const SentinelMaster = "discharge"

// StartSentinel starts the set and waits until every Sentinel knows the
// master, its replica and both other Sentinels. Everything is stopped when
// the test ends.
func StartSentinel(tb testing.TB) *Sentinel {
	tb.Helper()
	requireBinaries(tb, "redis-server")
	s, err := startSentinel(tb, tb.TempDir())
	if s != nil {
		tb.Cleanup(s.Stop)
	}
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

func startSentinel(tb testing.TB, dir string) (*Sentinel, error) {
	start := time.Now()
	ports, err := freePorts(5)
	if err != nil {
		return nil, err
	}
	newServer := func(port int, args ...string) (*Server, error) {
		s := &Server{tb: tb, Dir: filepath.Join(dir, "node-"+strconv.Itoa(port)), Port: port, args: args}
		return s, mkdir(s.Dir)
	}
	s := &Sentinel{tb: tb}
	aof := []string{"--appendonly", "yes", "--appendfsync", "always", "--repl-diskless-sync-delay", "0"}
	if s.Master, err = newServer(ports[0], aof...); err != nil {
		return nil, err
	}
	if s.Replica, err = newServer(ports[1], aof...); err != nil {
		return nil, err
	}
	if err := errors.Join(s.Master.launch(), s.Replica.launch()); err != nil {
		return s, err
	}
	// REPLICAOF at run time connects at once; --replicaof would wait for
	// the next replication cron tick. A restart gets --replicaof.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	a := s.Replica.admin()
	err = a.ReplicaOf(ctx, "127.0.0.1", strconv.Itoa(s.Master.Port)).Err()
	a.Close()
	if err != nil {
		return s, fmt.Errorf("replicaof: %w", err)
	}
	s.Replica.args = append(s.Replica.args, "--replicaof", "127.0.0.1", strconv.Itoa(s.Master.Port))

	// Each Sentinel is told its peers and the replica in its configuration
	// (with fixed ids), instead of learning them from hello messages every
	// two seconds and the master's INFO every ten.
	ids := make([]string, 3)
	for i := range ids {
		b := make([]byte, 20)
		_, _ = rand.Read(b)
		ids[i] = hex.EncodeToString(b)
	}
	for i := range 3 {
		sn, err := newServer(ports[2+i])
		if err != nil {
			return s, err
		}
		var conf strings.Builder
		fmt.Fprintf(&conf, "port %d\nbind 127.0.0.1\ndir %s\nsentinel myid %s\nsentinel resolve-hostnames no\nsentinel announce-hostnames no\n",
			sn.Port, sn.Dir, ids[i])
		fmt.Fprintf(&conf, "sentinel monitor %[1]s 127.0.0.1 %[2]d 2\nsentinel down-after-milliseconds %[1]s 1000\n"+
			"sentinel failover-timeout %[1]s 5000\nsentinel parallel-syncs %[1]s 1\nsentinel known-replica %[1]s 127.0.0.1 %[3]d\n",
			SentinelMaster, s.Master.Port, s.Replica.Port)
		for j := range 3 {
			if j != i {
				fmt.Fprintf(&conf, "sentinel known-sentinel %s 127.0.0.1 %d %s\n", SentinelMaster, ports[2+j], ids[j])
			}
		}
		sn.sentinelConf = filepath.Join(sn.Dir, "sentinel.conf")
		if err := os.WriteFile(sn.sentinelConf, []byte(conf.String()), 0o600); err != nil {
			return s, err
		}
		s.Sentinels = append(s.Sentinels, sn)
	}
	errs := make([]error, 3)
	var wg sync.WaitGroup
	for i, sn := range s.Sentinels {
		wg.Go(func() { errs[i] = sn.launch() })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return s, err
	}
	for {
		err := s.ready(ctx)
		if err == nil {
			return s, nil
		}
		select {
		case <-ctx.Done():
			return s, fmt.Errorf("sentinel set not ready %v after start: %w\n%s", time.Since(start).Round(time.Millisecond), err, s.logs())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// ready: the replica is in sync and every Sentinel sees the master up, the
// replica and two other Sentinels.
func (s *Sentinel) ready(ctx context.Context) error {
	a := s.Replica.admin()
	rep, err := a.Info(ctx, "replication").Result()
	a.Close()
	if err != nil || !strings.Contains(rep, "master_link_status:up\r\n") {
		return fmt.Errorf("replica not in sync: %v", err)
	}
	// The replica's link being up comes before the master counts its acks:
	// a write must be acknowledged by WAIT 1 before tests rely on WAIT.
	m := s.Master.admin()
	_ = m.Set(ctx, "redistest:probe", time.Now().UnixNano(), 0).Err()
	n, err := m.Do(ctx, "WAIT", 1, 200).Int()
	_ = m.Del(ctx, "redistest:probe").Err()
	m.Close()
	if err != nil || n < 1 {
		return fmt.Errorf("the master's writes are not acknowledged by the replica yet (WAIT 1: %d, %v)", n, err)
	}
	for _, sn := range s.Sentinels {
		c := redis.NewSentinelClient(&redis.Options{Addr: sn.Addr(), MaxRetries: -1})
		m, err := c.Master(ctx, SentinelMaster).Result()
		reps, _ := c.Replicas(ctx, SentinelMaster).Result()
		c.Close()
		if err != nil {
			return fmt.Errorf("sentinel %s: %w", sn.Addr(), err)
		}
		if m["flags"] != "master" || m["num-slaves"] != "1" || m["num-other-sentinels"] != "2" || len(reps) != 1 || reps[0]["flags"] != "slave" {
			return fmt.Errorf("sentinel %s sees master %v and replicas %v", sn.Addr(), m, reps)
		}
	}
	return nil
}

// Addrs are the Sentinels' addresses (REDIS_ADDRS).
func (s *Sentinel) Addrs() []string {
	out := make([]string, len(s.Sentinels))
	for i, sn := range s.Sentinels {
		out[i] = sn.Addr()
	}
	return out
}

// MasterName is the name the Sentinels monitor the master by
// (REDIS_MASTER).
func (s *Sentinel) MasterName() string { return SentinelMaster }

// Client is a failover client of the current master, closed at test end (by
// the caller, on the shared set).
func (s *Sentinel) Client() *redis.Client {
	c := redis.NewFailoverClient(&redis.FailoverOptions{MasterName: SentinelMaster, SentinelAddrs: s.Addrs()})
	if s.tb != nil {
		s.tb.Cleanup(func() { _ = c.Close() })
	}
	return c
}

// Stop kills every process.
func (s *Sentinel) Stop() {
	var wg sync.WaitGroup
	for _, sv := range append([]*Server{s.Master, s.Replica}, s.Sentinels...) {
		if sv != nil {
			wg.Go(sv.Kill)
		}
	}
	wg.Wait()
}

// current is the server the Sentinels name as master now.
func (s *Sentinel) current(ctx context.Context) (*Server, error) {
	var err error
	for _, sn := range s.Sentinels {
		if !sn.Running() {
			continue
		}
		c := redis.NewSentinelClient(&redis.Options{Addr: sn.Addr(), MaxRetries: -1})
		var addr []string
		addr, err = c.GetMasterAddrByName(ctx, SentinelMaster).Result()
		c.Close()
		if err != nil || len(addr) != 2 {
			continue
		}
		for _, sv := range []*Server{s.Master, s.Replica} {
			if sv.Addr() == addr[0]+":"+addr[1] {
				return sv, nil
			}
		}
		return nil, fmt.Errorf("sentinels name an unknown master %v", addr)
	}
	return nil, fmt.Errorf("no sentinel names a master: %v", err)
}

// KillMaster kills whichever server the Sentinels name as master now, as a
// crash would, and returns it.
func (s *Sentinel) KillMaster() *Server {
	if s.tb != nil {
		s.tb.Helper()
	}
	m, err := s.current(context.Background())
	if err != nil {
		panicOrFatal(s.tb, "KillMaster: %v", err)
	}
	s.mu.Lock()
	s.killed = m
	s.mu.Unlock()
	m.Kill()
	return m
}

// WaitFailover waits until every running Sentinel names a new master (not
// the one KillMaster stopped, or not Master if the test killed it itself)
// and that server says it is a master.
func (s *Sentinel) WaitFailover(ctx context.Context) error {
	s.mu.Lock()
	old := s.killed
	s.mu.Unlock()
	if old == nil {
		old = s.Master
	}
	last := errors.New("no answer yet")
	for {
		if last = s.failedOver(ctx, old); last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("no failover from %s: %w\n%s", old.Addr(), last, s.logs())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (s *Sentinel) failedOver(ctx context.Context, old *Server) error {
	want := ""
	for _, sn := range s.Sentinels {
		if !sn.Running() {
			continue
		}
		c := redis.NewSentinelClient(&redis.Options{Addr: sn.Addr(), MaxRetries: -1})
		addr, err := c.GetMasterAddrByName(ctx, SentinelMaster).Result()
		c.Close()
		if err != nil || len(addr) != 2 {
			return fmt.Errorf("sentinel %s: %v %v", sn.Addr(), addr, err)
		}
		got := addr[0] + ":" + addr[1]
		if got == old.Addr() || (want != "" && got != want) {
			return fmt.Errorf("sentinel %s names %s", sn.Addr(), got)
		}
		want = got
	}
	for _, sv := range []*Server{s.Master, s.Replica} {
		if sv.Addr() != want {
			continue
		}
		a := sv.admin()
		role, err := a.Do(ctx, "ROLE").Slice()
		a.Close()
		if err != nil || len(role) == 0 || role[0] != "master" {
			return fmt.Errorf("%s named master but says %v %v", want, role, err)
		}
		return nil
	}
	return fmt.Errorf("sentinels name an unknown master %s", want)
}

// logs is the end of every process's log, for failure messages.
func (s *Sentinel) logs() string {
	var b strings.Builder
	for _, sv := range append([]*Server{s.Master, s.Replica}, s.Sentinels...) {
		if sv != nil {
			fmt.Fprintf(&b, "--- %s, last lines of %s:\n%s\n", sv.Addr(), filepath.Join(sv.Dir, "redis.log"), sv.tail(12))
		}
	}
	return b.String()
}

// panicOrFatal fails tb, or panics when there is no test (a shared set).
func panicOrFatal(tb testing.TB, format string, args ...any) {
	if tb == nil {
		panic(fmt.Sprintf(format, args...))
	}
	tb.Helper()
	tb.Fatalf(format, args...)
}

// mkdir makes a process's directory.
func mkdir(dir string) error { return os.MkdirAll(dir, 0o755) }
