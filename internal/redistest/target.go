package redistest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/redis/go-redis/v9"
)

// Target is the Redis an integration test runs against, chosen by
// REDISTEST_MODE:
//
//   - unset or "single": a fresh standalone redis-server of the test's own;
//   - "cluster": the test binary's shared Redis Cluster of 3 masters and 3
//     replicas;
//   - "sentinel": the test binary's shared master, replica and 3 Sentinels.
//
// The shared setups start on first use, are emptied (FLUSHALL on every
// master) at the start of each test, and die with the test binary. Tests
// that need a particular server (to kill it, slow it down, restart it from
// its AOF) use Start, StartCluster or StartSentinel instead.
type Target struct {
	// Mode is "single", "cluster" or "sentinel".
	Mode string
	// Server is the standalone server; nil otherwise.
	Server *Server
	// URL is set in single mode; Addrs (cluster nodes, or Sentinels with
	// SentinelMaster) otherwise.
	URL            string
	Addrs          []string
	SentinelMaster string

	client redis.UniversalClient
}

// UniversalClient reaches the target: a *redis.Client (a failover client
// under Sentinel) or a *redis.ClusterClient. It is closed at test end.
func (t *Target) UniversalClient() redis.UniversalClient { return t.client }

// Env is the environment cmd/gateway reads to use the target: REDIS_URL, or
// REDIS_ADDRS with REDIS_MASTER under Sentinel.
func (t *Target) Env() map[string]string {
	switch t.Mode {
	case "cluster":
		return map[string]string{"REDIS_ADDRS": strings.Join(t.Addrs, ",")}
	case "sentinel":
		return map[string]string{"REDIS_ADDRS": strings.Join(t.Addrs, ","), "REDIS_MASTER": t.SentinelMaster}
	}
	return map[string]string{"REDIS_URL": t.URL}
}

// Keys lists the keys matching pattern on every master: KEYS on a cluster
// client only asks one node.
func (t *Target) Keys(ctx context.Context, pattern string) ([]string, error) {
	scan := func(c *redis.Client) ([]string, error) {
		var out []string
		it := c.Scan(ctx, 0, pattern, 1000).Iterator()
		for it.Next(ctx) {
			out = append(out, it.Val())
		}
		return out, it.Err()
	}
	switch c := t.client.(type) {
	case *redis.ClusterClient:
		var mu sync.Mutex
		var out []string
		err := c.ForEachMaster(ctx, func(ctx context.Context, m *redis.Client) error {
			keys, err := scan(m)
			mu.Lock() // ForEachMaster calls back on every master at once
			out = append(out, keys...)
			mu.Unlock()
			return err
		})
		return out, err
	case *redis.Client:
		return scan(c)
	}
	return nil, fmt.Errorf("redistest: unexpected client %T", t.client)
}

// Mode is the REDISTEST_MODE Open uses: "single" (the default), "cluster"
// or "sentinel".
func Mode() string {
	if m := os.Getenv("REDISTEST_MODE"); m != "" {
		return m
	}
	return "single"
}

// Open returns the target for one test.
func Open(tb testing.TB) *Target {
	tb.Helper()
	ctx := context.Background()
	switch m := Mode(); m {
	case "single":
		s := Start(tb)
		return &Target{Mode: m, Server: s, URL: s.URL(), client: s.Client()}
	case "cluster":
		c := shared(tb).cluster
		if err := c.FlushAll(ctx); err != nil {
			tb.Fatalf("emptying the shared Redis Cluster: %v\n%s", err, c.logs())
		}
		cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs()})
		tb.Cleanup(func() { _ = cc.Close() })
		return &Target{Mode: m, Addrs: c.Addrs(), client: cc}
	case "sentinel":
		s := shared(tb).sentinel
		fc := redis.NewFailoverClient(&redis.FailoverOptions{MasterName: s.MasterName(), SentinelAddrs: s.Addrs()})
		tb.Cleanup(func() { _ = fc.Close() })
		if err := fc.FlushAll(ctx).Err(); err != nil {
			tb.Fatalf("emptying the shared Sentinel master: %v\n%s", err, s.logs())
		}
		return &Target{Mode: m, Addrs: s.Addrs(), SentinelMaster: s.MasterName(), client: fc}
	default:
		tb.Fatalf("REDISTEST_MODE=%q: want single, cluster or sentinel", m)
		return nil
	}
}

// sharedSetup is the test binary's one cluster or Sentinel set.
type sharedSetup struct {
	dir      string
	cluster  *Cluster
	sentinel *Sentinel
	err      error
}

var (
	sharedOnce sync.Once
	theShared  sharedSetup
)

// shared starts the setup REDISTEST_MODE names, once per test binary. A
// setup that failed to start fails every test that asks for it, with the
// same message.
func shared(tb testing.TB) *sharedSetup {
	tb.Helper()
	requireBinaries(tb, "redis-server", "redis-cli")
	sharedOnce.Do(func() {
		sweepStale()
		dir, err := os.MkdirTemp("", "redistest-shared-")
		if err == nil {
			err = os.WriteFile(filepath.Join(dir, "owner.pid"), []byte(strconv.Itoa(os.Getpid())), 0o600)
		}
		if err != nil {
			theShared.err = err
			return
		}
		theShared.dir = dir
		if Mode() == "cluster" {
			theShared.cluster, theShared.err = startCluster(nil, dir, 3, 1, nil)
		} else {
			theShared.sentinel, theShared.err = startSentinel(nil, dir)
		}
		if theShared.err != nil {
			StopShared() // what did start
		}
	})
	if theShared.err != nil {
		tb.Fatalf("starting the shared %s: %v", Mode(), theShared.err)
	}
	return &theShared
}

// sweepStale removes the directories of shared setups whose test binaries
// have exited (their processes died with them; nothing else removes the
// files unless the package's TestMain calls Main).
func sweepStale() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), "redistest-shared-*"))
	for _, d := range dirs {
		b, err := os.ReadFile(filepath.Join(d, "owner.pid"))
		if err != nil {
			continue
		}
		if pid, err := strconv.Atoi(string(b)); err == nil && !alive(pid) {
			_ = os.RemoveAll(d)
		}
	}
}

// Main runs a package's tests, then stops the shared cluster or Sentinel
// set and removes its files. Call it from TestMain:
//
//	func TestMain(m *testing.M) { redistest.Main(m) }
//
// It is optional on Linux, where the processes die with the test binary
// anyway and the next run removes the files; elsewhere it is what stops
// them.
func Main(m *testing.M) {
	code := m.Run()
	StopShared()
	os.Exit(code)
}

// StopShared stops the shared setup, if one was started, and removes its
// files.
func StopShared() {
	if theShared.cluster != nil {
		theShared.cluster.Stop()
	}
	if theShared.sentinel != nil {
		theShared.sentinel.Stop()
	}
	if theShared.dir != "" {
		_ = os.RemoveAll(theShared.dir)
	}
}
