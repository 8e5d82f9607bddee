package redistest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Cluster is a Redis Cluster of redis-server processes on loopback, each
// node in its own directory with the AOF on (appendfsync always), joined by
// redis-cli --cluster create.
type Cluster struct {
	tb       testing.TB // nil for the shared cluster of Open
	masters  int
	replicas int
	nodes    []*Server

	mu     sync.Mutex
	client *redis.ClusterClient
	killed map[*Server]bool // masters stopped by KillMaster
}

// StartCluster starts masters×(1+replicasPerMaster) cluster-enabled
// redis-servers, joins them with redis-cli --cluster create, and waits until
// every node reports cluster_state:ok with all 16384 slots served and every
// master has its replicas attached and in sync. extraArgs are passed to every node. The
// cluster is stopped when the test ends.
func StartCluster(tb testing.TB, masters, replicasPerMaster int, extraArgs ...string) *Cluster {
	tb.Helper()
	requireBinaries(tb, "redis-server", "redis-cli")
	c, err := startCluster(tb, tb.TempDir(), masters, replicasPerMaster, extraArgs)
	if c != nil {
		tb.Cleanup(c.Stop)
	}
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

// startCluster may return a partly started cluster with an error, so that
// the caller can stop it.
func startCluster(tb testing.TB, dir string, masters, replicas int, extraArgs []string) (*Cluster, error) {
	start := time.Now()
	n := masters * (1 + replicas)
	c := &Cluster{tb: tb, masters: masters, replicas: replicas, killed: map[*Server]bool{}}
	for i := range n {
		c.nodes = append(c.nodes, &Server{tb: tb, Dir: filepath.Join(dir, "node-"+strconv.Itoa(i))})
	}
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i, s := range c.nodes {
		wg.Go(func() {
			if err := mkdir(s.Dir); err != nil {
				errs[i] = err
				return
			}
			// Each node needs two ports, its own and the cluster bus's.
			errs[i] = s.launchOnFreePorts(func() error {
				ps, err := freePorts(2)
				if err != nil {
					return err
				}
				s.Port = ps[0]
				s.args = append([]string{"--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
					"--cluster-node-timeout", "2000", "--cluster-port", strconv.Itoa(ps[1]),
					"--appendonly", "yes", "--appendfsync", "always",
					// Replicas sync at once instead of waiting for more to arrive.
					"--repl-diskless-sync-delay", "0"}, extraArgs...)
				return nil
			})
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return c, fmt.Errorf("starting cluster nodes: %w", err)
	}
	args := append([]string{"--cluster", "create"}, c.Addrs()...)
	args = append(args, "--cluster-replicas", strconv.Itoa(replicas), "--cluster-yes")
	// redis-cli waits for the nodes to agree for as long as it takes;
	// one that cannot reach the others must not hang the test binary.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out bytes.Buffer
	create := exec.CommandContext(ctx, "redis-cli", args...)
	create.Stdout, create.Stderr = &out, &out
	if err := create.Run(); err != nil {
		return c, fmt.Errorf("redis-cli %s: %v\n%s\n%s", strings.Join(args, " "), err, out.String(), c.logs())
	}
	// redis-cli returns once the nodes agree on the slots; replicas attach
	// and sync after that.
	if err := c.waitHealthy(ctx, true, nil); err != nil {
		return c, fmt.Errorf("cluster not ready %v after start: %w\nredis-cli said:\n%s\n%s", time.Since(start).Round(time.Millisecond), err, out.String(), c.logs())
	}
	return c, nil
}

// Addrs are the nodes' host:port, the seed list of a cluster client.
func (c *Cluster) Addrs() []string {
	out := make([]string, len(c.nodes))
	for i, s := range c.nodes {
		out[i] = s.Addr()
	}
	return out
}

// Servers are the nodes, masters and replicas as redis-cli chose them.
func (c *Cluster) Servers() []*Server { return slices.Clone(c.nodes) }

// Client is a cluster client, closed when the cluster stops.
func (c *Cluster) Client() *redis.ClusterClient {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.client == nil {
		c.client = redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs()})
	}
	return c.client
}

// Stop closes the client and kills every node.
func (c *Cluster) Stop() {
	c.mu.Lock()
	if c.client != nil {
		_ = c.client.Close()
		c.client = nil
	}
	c.mu.Unlock()
	var wg sync.WaitGroup
	for _, s := range c.nodes {
		wg.Go(s.Kill)
	}
	wg.Wait()
}

func (c *Cluster) fatalf(format string, args ...any) { panicOrFatal(c.tb, format, args...) }

// MasterFor is the node that serves key's slot now.
func (c *Cluster) MasterFor(key string) *Server {
	if c.tb != nil {
		c.tb.Helper()
	}
	ctx := context.Background()
	s, err := c.masterFor(ctx, key)
	if err != nil {
		c.fatalf("master for %q: %v", key, err)
	}
	return s
}

func (c *Cluster) masterFor(ctx context.Context, key string) (*Server, error) {
	var slot int64
	err := c.onAny(func(a *redis.Client) (err error) {
		slot, err = a.ClusterKeySlot(ctx, key).Result()
		return err
	})
	if err != nil {
		return nil, err
	}
	nodes, err := c.view(ctx, nil)
	if err != nil {
		return nil, err
	}
	for _, n := range nodes {
		if n.master && n.serves(int(slot)) {
			if s := c.node(n.addr); s != nil {
				return s, nil
			}
		}
	}
	return nil, fmt.Errorf("no master serves slot %d", slot)
}

// KillMaster kills a node that is a master now, as a crash would; the
// cluster fails its slots over to one of its replicas (see WaitFailover).
func (c *Cluster) KillMaster(node *Server) {
	if c.tb != nil {
		c.tb.Helper()
	}
	a := node.admin()
	role, err := a.Do(context.Background(), "ROLE").Slice()
	a.Close()
	if err != nil || len(role) == 0 || role[0] != "master" {
		c.fatalf("KillMaster(%s): not a master: %v %v", node.Addr(), role, err)
	}
	c.mu.Lock()
	c.killed[node] = true
	c.mu.Unlock()
	node.Kill()
}

// WaitFailover waits until slot is served by a running master that
// KillMaster did not kill (a promoted replica) and every running node says
// cluster_state:ok. The cluster client then reloads its slot map.
func (c *Cluster) WaitFailover(ctx context.Context, slot int) error {
	err := c.waitHealthy(ctx, false, func(nodes []clusterNode) error {
		for _, n := range nodes {
			if n.master && n.serves(slot) {
				s := c.node(n.addr)
				c.mu.Lock()
				dead := c.killed[s]
				c.mu.Unlock()
				if s == nil || dead || !s.Running() {
					return fmt.Errorf("slot %d still on %s", slot, n.addr)
				}
				return nil
			}
		}
		return fmt.Errorf("no master serves slot %d", slot)
	})
	if err != nil {
		return fmt.Errorf("no failover of slot %d: %w\n%s", slot, err, c.logs())
	}
	c.mu.Lock()
	cl := c.client
	c.mu.Unlock()
	if cl != nil {
		cl.ReloadState(ctx)
	}
	return nil
}

// Restart starts a killed node again from its directory (nodes.conf and the
// AOF) and waits until it has rejoined: a master whose slots failed over
// comes back as a replica of its successor.
func (c *Cluster) Restart(node *Server) {
	if c.tb != nil {
		c.tb.Helper()
	}
	node.Restart()
	c.mu.Lock()
	delete(c.killed, node)
	c.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.waitHealthy(ctx, false, nil); err != nil {
		c.fatalf("%s did not rejoin: %v\n%s", node.Addr(), err, c.logs())
	}
}

// FlushAll empties every running master.
func (c *Cluster) FlushAll(ctx context.Context) error {
	return c.eachMaster(ctx, func(s *Server, a *redis.Client) error { return a.FlushAll(ctx).Err() })
}

// KeyDistribution is the number of keys (DBSIZE) on each running master,
// by address: whether keys spread over the cluster or pile onto one slot.
func (c *Cluster) KeyDistribution(ctx context.Context) map[string]int {
	if c.tb != nil {
		c.tb.Helper()
	}
	var mu sync.Mutex
	out := map[string]int{}
	err := c.eachMaster(ctx, func(s *Server, a *redis.Client) error {
		n, err := a.DBSize(ctx).Result()
		mu.Lock()
		out[s.Addr()] = int(n)
		mu.Unlock()
		return err
	})
	if err != nil {
		c.fatalf("key distribution: %v", err)
	}
	return out
}

// eachMaster runs f on every running master, as the nodes see them now
// (not as a client's cached slot map has it), all at once.
func (c *Cluster) eachMaster(ctx context.Context, f func(*Server, *redis.Client) error) error {
	nodes, err := c.view(ctx, nil)
	if err != nil {
		return err
	}
	var wg sync.WaitGroup
	errs := make([]error, len(nodes))
	for i, n := range nodes {
		s := c.node(n.addr)
		if !n.master || len(n.slots) == 0 || s == nil || !s.Running() {
			continue
		}
		wg.Go(func() {
			a := s.admin()
			defer a.Close()
			if err := f(s, a); err != nil {
				errs[i] = fmt.Errorf("%s: %w", s.Addr(), err)
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// node is the Server at addr, or nil.
func (c *Cluster) node(addr string) *Server {
	for _, s := range c.nodes {
		if s.Addr() == addr {
			return s
		}
	}
	return nil
}

// onAny runs f on the first running node that answers.
func (c *Cluster) onAny(f func(*redis.Client) error) error {
	err := errors.New("no node is running")
	for _, s := range c.nodes {
		if !s.Running() {
			continue
		}
		a := s.admin()
		err = f(a)
		a.Close()
		if err == nil {
			return nil
		}
	}
	return err
}

// view is CLUSTER NODES as one running node sees it (from, if given).
func (c *Cluster) view(ctx context.Context, from *Server) ([]clusterNode, error) {
	var text string
	get := func(a *redis.Client) (err error) {
		text, err = a.ClusterNodes(ctx).Result()
		return err
	}
	if from != nil {
		a := from.admin()
		defer a.Close()
		if err := get(a); err != nil {
			return nil, err
		}
	} else if err := c.onAny(get); err != nil {
		return nil, err
	}
	return parseClusterNodes(text), nil
}

// waitHealthy polls until every running node says cluster_state:ok with
// every slot served, sees no running node as failing, and every running
// replica's link to its master is up. With counts, the masters and
// replicas must also number what the cluster was created with; more, when
// not nil, must hold in every running node's view too.
func (c *Cluster) waitHealthy(ctx context.Context, counts bool, more func([]clusterNode) error) error {
	for {
		err := c.healthy(ctx, counts, more)
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func (c *Cluster) healthy(ctx context.Context, counts bool, more func([]clusterNode) error) error {
	for _, s := range c.nodes {
		if !s.Running() {
			continue
		}
		a := s.admin()
		err := c.nodeHealthy(ctx, s, a, counts, more)
		a.Close()
		if err != nil {
			return fmt.Errorf("node %s: %w", s.Addr(), err)
		}
	}
	return nil
}

func (c *Cluster) nodeHealthy(ctx context.Context, s *Server, a *redis.Client, counts bool, more func([]clusterNode) error) error {
	info, err := a.ClusterInfo(ctx).Result()
	if err != nil {
		return err
	}
	for _, want := range []string{"cluster_state:ok", "cluster_slots_ok:16384"} {
		if !strings.Contains(info, want+"\r\n") {
			return fmt.Errorf("CLUSTER INFO lacks %s", want)
		}
	}
	text, err := a.ClusterNodes(ctx).Result()
	if err != nil {
		return err
	}
	nodes := parseClusterNodes(text)
	masters := 0
	for _, n := range nodes {
		if other := c.node(n.addr); other != nil && other.Running() && (n.failing || n.handshake) {
			return fmt.Errorf("sees %s as %s", n.addr, n.flags)
		}
		if n.master && len(n.slots) > 0 {
			masters++
		}
		if !n.myself {
			continue
		}
		rep, err := a.Info(ctx, "replication").Result()
		if err != nil {
			return err
		}
		switch {
		case !n.master && !strings.Contains(rep, "master_link_status:up\r\n"):
			return errors.New("replica's link to its master is not up")
		case counts && n.master && strings.Count(rep, ",state=online,") != c.replicas:
			return fmt.Errorf("master has %d of %d replicas online", strings.Count(rep, ",state=online,"), c.replicas)
		}
	}
	// Other nodes learn of the replicas by gossip, within a second or so;
	// redis-cli has made sure they agree on the masters and slots.
	if counts && (masters != c.masters || len(nodes) != len(c.nodes)) {
		return fmt.Errorf("sees %d nodes and %d masters with slots; want %d and %d", len(nodes), masters, len(c.nodes), c.masters)
	}
	if more != nil {
		return more(nodes)
	}
	return nil
}

// logs is the end of every node's log, for failure messages.
func (c *Cluster) logs() string {
	var b strings.Builder
	for _, s := range c.nodes {
		state := "running"
		if !s.Running() {
			state = "stopped"
		}
		fmt.Fprintf(&b, "--- node %s (%s), last lines of %s:\n%s\n", s.Addr(), state, filepath.Join(s.Dir, "redis.log"), s.tail(12))
	}
	return b.String()
}

// clusterNode is one line of CLUSTER NODES.
type clusterNode struct {
	id, addr, flags, masterID string
	myself, master            bool
	failing, handshake        bool
	slots                     [][2]int
}

func (n clusterNode) serves(slot int) bool {
	for _, r := range n.slots {
		if r[0] <= slot && slot <= r[1] {
			return true
		}
	}
	return false
}

// parseClusterNodes reads CLUSTER NODES: id ip:port@cport[,hostname] flags
// master ping-sent pong-recv config-epoch link-state slot...
func parseClusterNodes(text string) []clusterNode {
	var out []clusterNode
	for line := range strings.SplitSeq(strings.TrimSpace(text), "\n") {
		f := strings.Fields(line)
		if len(f) < 8 {
			continue
		}
		addr, _, _ := strings.Cut(f[1], "@")
		n := clusterNode{id: f[0], addr: addr, flags: f[2]}
		for fl := range strings.SplitSeq(f[2], ",") {
			switch fl {
			case "myself":
				n.myself = true
			case "master":
				n.master = true
			case "fail", "fail?":
				n.failing = true
			case "handshake", "noaddr":
				n.handshake = true
			}
		}
		if f[3] != "-" {
			n.masterID = f[3]
		}
		for _, r := range f[8:] {
			if strings.HasPrefix(r, "[") { // a slot being migrated or imported
				continue
			}
			lo, hi, isRange := strings.Cut(r, "-")
			a, err1 := strconv.Atoi(lo)
			b := a
			var err2 error
			if isRange {
				b, err2 = strconv.Atoi(hi)
			}
			if err1 == nil && err2 == nil {
				n.slots = append(n.slots, [2]int{a, b})
			}
		}
		out = append(out, n)
	}
	return out
}
