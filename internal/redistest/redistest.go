// Package redistest starts private redis-server processes for tests: each on
// a free loopback port with its own temporary directory, so tests never share
// state and never touch a Redis the developer already runs. Start gives one
// server, StartCluster a Redis Cluster, StartSentinel a Sentinel set, and
// Open whichever of them REDISTEST_MODE asks for.
//
// When redis-server is not on PATH the test is skipped, unless the
// environment sets REDISTEST_REQUIRED=1 (the test command and CI do), in
// which case it fails: integration tests must not silently vanish in CI.
//
// On Linux every process is started with a parent-death signal, so none
// outlives the test binary, even one killed by a test timeout.
package redistest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Server is one redis-server (or redis-sentinel) process owned by a test,
// or by the test binary for the shared setups of Open.
type Server struct {
	// tb is nil for the shared setups, which outlive any one test; their
	// helpers then panic instead of failing a test.
	tb   testing.TB
	Dir  string
	Port int
	args []string
	// sentinelConf, when set, makes this a Sentinel started from that file.
	sentinelConf string

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd has exited
}

// Start launches a redis-server on a free loopback port. Extra arguments are
// passed through as configuration, e.g. "--appendonly", "yes". The server is
// stopped when the test ends.
func Start(tb testing.TB, args ...string) *Server {
	tb.Helper()
	requireBinaries(tb, "redis-server")
	s := &Server{tb: tb, Dir: tb.TempDir(), args: args}
	tb.Cleanup(s.Kill)
	err := s.launchOnFreePorts(func() error {
		ps, err := freePorts(1)
		if err == nil {
			s.Port = ps[0]
		}
		return err
	})
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// requireBinaries skips the test when a Redis binary is missing, or fails
// it under REDISTEST_REQUIRED=1.
func requireBinaries(tb testing.TB, names ...string) {
	tb.Helper()
	for _, n := range names {
		if _, err := exec.LookPath(n); err != nil {
			if os.Getenv("REDISTEST_REQUIRED") == "1" {
				tb.Fatalf("%s not on PATH and REDISTEST_REQUIRED=1: %v", n, err)
			}
			tb.Skipf("%s not on PATH; set REDISTEST_REQUIRED=1 to fail instead", n)
		}
	}
}

// FreePort returns a loopback TCP port that was free a moment ago.
func FreePort(tb testing.TB) int {
	tb.Helper()
	ps, err := freePorts(1)
	if err != nil {
		tb.Fatalf("free port: %v", err)
	}
	return ps[0]
}

// freePorts returns n distinct loopback ports that were free a moment ago:
// every listener stays open until all are chosen, so none repeats.
func freePorts(n int) ([]int, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	ports := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// Addr is host:port.
func (s *Server) Addr() string { return "127.0.0.1:" + strconv.Itoa(s.Port) }

// URL is a redis:// URL for database 0.
func (s *Server) URL() string { return "redis://" + s.Addr() + "/0" }

// Client returns a go-redis client for the server, closed at test end (by
// the caller, on a shared server).
func (s *Server) Client() *redis.Client {
	c := redis.NewClient(&redis.Options{Addr: s.Addr()})
	if s.tb != nil {
		s.tb.Cleanup(func() { _ = c.Close() })
	}
	return c
}

// admin is a short-lived client for the harness's own checks: it does not
// retry, so a dead node answers at once.
func (s *Server) admin() *redis.Client {
	return redis.NewClient(&redis.Options{Addr: s.Addr(), DialTimeout: time.Second, ReadTimeout: 2 * time.Second,
		WriteTimeout: 2 * time.Second, MaxRetries: -1, PoolSize: 1})
}

// Running reports whether the process is up (not killed, not crashed).
func (s *Server) Running() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return false
	}
	select {
	case <-s.done:
		return false
	default:
		return true
	}
}

// launchOnFreePorts picks ports and launches the process; when another
// process took a port between the pick and the bind, it picks again.
func (s *Server) launchOnFreePorts(pick func() error) error {
	var err error
	for range 3 {
		if err = pick(); err != nil {
			return err
		}
		if err = s.launch(); err == nil || !errors.Is(err, errExited) || !strings.Contains(s.Log(), "Address already in use") {
			return err
		}
	}
	return err
}

// errExited is a process that exited before it answered, most often
// because its port was taken.
var errExited = errors.New("exited before it was ready")

// launch starts the process and waits until it answers PING (after loading
// its AOF) and INFO names its own pid.
func (s *Server) launch() error {
	var args []string
	if s.sentinelConf != "" {
		args = []string{s.sentinelConf, "--sentinel"}
	}
	args = append(args,
		"--port", strconv.Itoa(s.Port),
		"--bind", "127.0.0.1",
		"--dir", s.Dir,
		"--daemonize", "no",
		"--logfile", filepath.Join(s.Dir, "redis.log"),
	)
	if s.sentinelConf == "" {
		args = append(args, "--save", "", "--appendonly", "no")
	}
	args = append(args, s.args...)
	cmd := exec.Command("redis-server", args...)
	// Bad arguments are reported on stderr, before the log file opens.
	out, err := os.OpenFile(filepath.Join(s.Dir, "output.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer out.Close()
	cmd.Stdout, cmd.Stderr = out, out
	if err := spawn(cmd); err != nil {
		return fmt.Errorf("start redis-server: %w", err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	s.mu.Lock()
	s.cmd, s.done = cmd, done
	s.mu.Unlock()
	if err := waitReady(s.Addr(), cmd.Process.Pid, done, 10*time.Second); err != nil {
		return fmt.Errorf("redis-server on %s: %w\n%s", s.Addr(), err, s.Log())
	}
	return nil
}

// fatalf fails the owning test; on a shared server it panics, which fails
// the test that was using it.
func (s *Server) fatalf(format string, args ...any) { panicOrFatal(s.tb, format, args...) }

// Kill stops the server at once (SIGKILL), as a crash would, and returns
// once the process has exited and its ports are closed.
func (s *Server) Kill() {
	s.mu.Lock()
	cmd, done := s.cmd, s.done
	s.cmd = nil
	s.mu.Unlock()
	if cmd == nil || cmd.Process == nil {
		return
	}
	_ = cmd.Process.Kill()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
	}
}

// Restart starts the server again on the same port and directory, so an AOF
// or RDB file (or a cluster node's nodes.conf) written before a Kill is
// loaded.
func (s *Server) Restart() {
	if s.tb != nil {
		s.tb.Helper()
	}
	s.Kill()
	if err := s.launch(); err != nil {
		s.fatalf("restart: %v", err)
	}
}

// Log returns the server's log and anything it wrote to stdout or stderr,
// for failure messages.
func (s *Server) Log() string {
	b, _ := os.ReadFile(filepath.Join(s.Dir, "redis.log"))
	out, _ := os.ReadFile(filepath.Join(s.Dir, "output.log"))
	return string(b) + string(out)
}

// tail is the last n lines of the log.
func (s *Server) tail(n int) string {
	lines := strings.Split(strings.TrimSpace(s.Log()), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// waitReady waits until the process with this pid answers PING on addr.
// Asking for the pid makes sure the answer is not from some other process
// that took the port first.
func waitReady(addr string, pid int, exited <-chan struct{}, within time.Duration) error {
	deadline := time.Now().Add(within)
	want := "process_id:" + strconv.Itoa(pid) + "\r\n"
	var last error
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return errExited
		default:
		}
		last = pingOwn(addr, want)
		if last == nil {
			return nil
		}
		time.Sleep(10 * time.Millisecond)
	}
	return fmt.Errorf("not ready after %v: %w", within, last)
}

func pingOwn(addr, want string) error {
	c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	if _, err := io.WriteString(c, "PING\r\nINFO server\r\n"); err != nil {
		return err
	}
	r := bufio.NewReader(c)
	line, err := r.ReadString('\n')
	if err != nil {
		return err
	}
	if !strings.HasPrefix(line, "+PONG") {
		return fmt.Errorf("ping: %q", strings.TrimSpace(line)) // -LOADING while the AOF loads
	}
	head, err := r.ReadString('\n')
	if err != nil || !strings.HasPrefix(head, "$") {
		return fmt.Errorf("info: %q %v", head, err)
	}
	n, err := strconv.Atoi(strings.TrimSpace(head[1:]))
	if err != nil {
		return fmt.Errorf("info: %q", head)
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(r, body); err != nil {
		return err
	}
	if !strings.Contains(string(body), want) {
		return errors.New("another process answers on this port")
	}
	return nil
}

// Flush empties the server between subtests that want a clean store.
func (s *Server) Flush(ctx context.Context) {
	if s.tb != nil {
		s.tb.Helper()
	}
	c := s.admin()
	defer c.Close()
	if err := c.FlushAll(ctx).Err(); err != nil {
		s.fatalf("flushall: %v", err)
	}
}
