package redistest

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Target is the Redis an integration test runs against: a fresh standalone
// redis-server of its own (the default), or, with REDISTEST_MODE=cluster,
// the test binary's shared Redis Cluster of 3 masters and 3 replicas,
// emptied before each test. Tests that need a particular server (to kill
// it, slow it down, restart it from its AOF) use Start instead.
type Target struct {
	// Server is the standalone server; nil on a cluster.
	Server *Server
	// URL is set for a standalone server, Addrs for a cluster.
	URL   string
	Addrs []string
	// Client reaches the target (a *redis.ClusterClient on a cluster).
	Client redis.UniversalClient
}

// Cluster reports whether the target is a cluster.
func (t *Target) Cluster() bool { return len(t.Addrs) > 0 }

// Env is the environment cmd/gateway reads to use the target.
func (t *Target) Env() map[string]string {
	if t.Cluster() {
		return map[string]string{"REDIS_ADDRS": strings.Join(t.Addrs, ",")}
	}
	return map[string]string{"REDIS_URL": t.URL}
}

// ClusterMode reports whether REDISTEST_MODE=cluster.
func ClusterMode() bool { return os.Getenv("REDISTEST_MODE") == "cluster" }

// Open returns the target for one test.
func Open(tb testing.TB) *Target {
	tb.Helper()
	if !ClusterMode() {
		s := Start(tb)
		return &Target{Server: s, URL: s.URL(), Client: s.Client()}
	}
	c := sharedCluster(tb)
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs()})
	tb.Cleanup(func() { _ = cc.Close() })
	ctx := context.Background()
	if err := cc.ForEachMaster(ctx, func(ctx context.Context, m *redis.Client) error {
		return m.FlushAll(ctx).Err()
	}); err != nil {
		tb.Fatalf("flushing the shared cluster: %v", err)
	}
	return &Target{Addrs: c.Addrs(), Client: cc}
}

// Cluster is a Redis Cluster of redis-server processes on loopback.
type Cluster struct {
	dir   string
	ports []int
	procs []*exec.Cmd
}

// Addrs are the nodes' host:port.
func (c *Cluster) Addrs() []string {
	out := make([]string, len(c.ports))
	for i, p := range c.ports {
		out[i] = "127.0.0.1:" + strconv.Itoa(p)
	}
	return out
}

var (
	sharedOnce sync.Once
	shared     *Cluster
	sharedErr  error
	// starter is one OS thread that starts every cluster process and never
	// exits, so the processes' parent-death signal (which Linux ties to the
	// thread that forked them) fires only when the test binary exits.
	starter = make(chan func())
)

func init() {
	go func() {
		runtime.LockOSThread()
		for f := range starter {
			f()
		}
	}()
}

func sharedCluster(tb testing.TB) *Cluster {
	tb.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		if os.Getenv("REDISTEST_REQUIRED") == "1" {
			tb.Fatalf("redis-server not on PATH and REDISTEST_REQUIRED=1: %v", err)
		}
		tb.Skip("redis-server not on PATH")
	}
	sharedOnce.Do(func() {
		dir, err := os.MkdirTemp("", "redistest-cluster-")
		if err != nil {
			sharedErr = err
			return
		}
		shared, sharedErr = StartCluster(dir, 3, 1)
	})
	if sharedErr != nil {
		tb.Fatalf("starting the shared Redis Cluster: %v", sharedErr)
	}
	return shared
}

// clusterPort is a port p with p and p+10000 (the cluster bus) both free;
// the bus port must fit too, so p is at most 55535.
func clusterPort() (int, error) {
	for range 200 {
		p := 20000 + rand.IntN(25000)
		ok := true
		for _, q := range []int{p, p + 10000} {
			l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(q))
			if err != nil {
				ok = false
				break
			}
			l.Close()
		}
		if ok {
			return p, nil
		}
	}
	return 0, fmt.Errorf("no free port pair for a cluster node")
}

// StartCluster starts masters×(1+replicas) cluster-enabled redis-servers
// in dir (AOF on, appendfsync always), joins them with redis-cli --cluster
// create, and waits until every node reports cluster_state:ok and every
// replica is in sync. The processes die with the test binary.
func StartCluster(dir string, masters, replicas int) (*Cluster, error) {
	c := &Cluster{dir: dir}
	n := masters * (1 + replicas)
	for i := 0; i < n; i++ {
		p, err := clusterPort()
		if err != nil {
			return nil, err
		}
		nd := filepath.Join(dir, strconv.Itoa(p))
		if err := os.MkdirAll(nd, 0o755); err != nil {
			return nil, err
		}
		cmd := exec.Command("redis-server", "--port", strconv.Itoa(p), "--bind", "127.0.0.1", "--dir", nd,
			"--logfile", filepath.Join(nd, "redis.log"), "--daemonize", "no", "--save", "",
			"--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf", "--cluster-node-timeout", "2000",
			"--appendonly", "yes", "--appendfsync", "always", "--repl-diskless-sync-delay", "0")
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		errc := make(chan error, 1)
		starter <- func() { errc <- cmd.Start() }
		if err := <-errc; err != nil {
			return nil, err
		}
		go func() { _ = cmd.Wait() }()
		c.ports = append(c.ports, p)
		c.procs = append(c.procs, cmd)
	}
	for _, a := range c.Addrs() {
		if err := waitReady(a, 10*time.Second); err != nil {
			return nil, fmt.Errorf("node %s: %v\n%s", a, err, c.logs())
		}
	}
	args := append([]string{"--cluster", "create"}, c.Addrs()...)
	args = append(args, "--cluster-replicas", strconv.Itoa(replicas), "--cluster-yes")
	var out bytes.Buffer
	create := exec.Command("redis-cli", args...)
	create.Stdout, create.Stderr = &out, &out
	if err := create.Run(); err != nil {
		return nil, fmt.Errorf("redis-cli --cluster create: %v\n%s", err, out.String())
	}
	ctx := context.Background()
	deadline := time.Now().Add(30 * time.Second)
	for {
		ready, why := c.ready(ctx, masters, replicas)
		if ready {
			return c, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("cluster not ready: %s\n%s", why, c.logs())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// ready: every node says cluster_state:ok and each master has its
// replicas online.
func (c *Cluster) ready(ctx context.Context, masters, replicas int) (bool, string) {
	online := 0
	for _, a := range c.Addrs() {
		cl := redis.NewClient(&redis.Options{Addr: a})
		info, err := cl.ClusterInfo(ctx).Result()
		rep, _ := cl.Info(ctx, "replication").Result()
		cl.Close()
		if err != nil || !strings.Contains(info, "cluster_state:ok") {
			return false, a + " not ok"
		}
		if strings.Contains(rep, "role:master") {
			online += strings.Count(rep, "state=online")
		}
	}
	if online < masters*replicas {
		return false, fmt.Sprintf("%d of %d replicas online", online, masters*replicas)
	}
	return true, ""
}

// Stop kills every node.
func (c *Cluster) Stop() {
	for _, p := range c.procs {
		if p.Process != nil {
			_ = p.Process.Kill()
		}
	}
	_ = os.RemoveAll(c.dir)
}

func (c *Cluster) logs() string {
	var b strings.Builder
	for _, p := range c.ports {
		log, _ := os.ReadFile(filepath.Join(c.dir, strconv.Itoa(p), "redis.log"))
		lines := strings.Split(strings.TrimSpace(string(log)), "\n")
		fmt.Fprintf(&b, "--- node %d (last lines)\n%s\n", p, strings.Join(lines[max(0, len(lines)-8):], "\n"))
	}
	return b.String()
}
