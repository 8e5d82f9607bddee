// Package redistest starts private redis-server processes for tests: each on
// a free loopback port with its own temporary directory, so tests never share
// state and never touch a Redis the developer already runs.
//
// When redis-server is not on PATH the test is skipped, unless the
// environment sets REDISTEST_REQUIRED=1 (the test command and CI do), in
// which case it fails: integration tests must not silently vanish in CI.
package redistest

import (
	"bufio"
	"context"
	"fmt"
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

// Server is one redis-server process owned by a test.
type Server struct {
	tb   testing.TB
	Dir  string
	Port int
	args []string

	mu  sync.Mutex
	cmd *exec.Cmd
}

// Start launches a redis-server on a free loopback port. Extra arguments are
// passed through as configuration, e.g. "--appendonly", "yes". The server is
// stopped when the test ends.
func Start(tb testing.TB, args ...string) *Server {
	tb.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("REDISTEST_REQUIRED") == "1" {
			tb.Fatalf("redis-server not on PATH and REDISTEST_REQUIRED=1: %v", err)
		}
		tb.Skip("redis-server not on PATH; set REDISTEST_REQUIRED=1 to fail instead")
	}
	_ = bin
	s := &Server{tb: tb, Dir: tb.TempDir(), args: args}
	s.Port = FreePort(tb)
	s.start()
	tb.Cleanup(s.Kill)
	return s
}

// FreePort returns a loopback TCP port that was free a moment ago.
func FreePort(tb testing.TB) int {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Addr is host:port.
func (s *Server) Addr() string { return "127.0.0.1:" + strconv.Itoa(s.Port) }

// URL is a redis:// URL for database 0.
func (s *Server) URL() string { return "redis://" + s.Addr() + "/0" }

// Client returns a go-redis client for the server, closed at test end.
func (s *Server) Client() *redis.Client {
	c := redis.NewClient(&redis.Options{Addr: s.Addr()})
	s.tb.Cleanup(func() { _ = c.Close() })
	return c
}

func (s *Server) start() {
	s.tb.Helper()
	args := []string{
		"--port", strconv.Itoa(s.Port),
		"--bind", "127.0.0.1",
		"--dir", s.Dir,
		"--save", "",
		"--appendonly", "no",
		"--daemonize", "no",
		"--logfile", filepath.Join(s.Dir, "redis.log"),
	}
	args = append(args, s.args...)
	cmd := exec.Command("redis-server", args...)
	if err := cmd.Start(); err != nil {
		s.tb.Fatalf("start redis-server: %v", err)
	}
	s.mu.Lock()
	s.cmd = cmd
	s.mu.Unlock()
	go func() { _ = cmd.Wait() }()
	if err := waitReady(s.Addr(), 10*time.Second); err != nil {
		s.tb.Fatalf("redis-server on %s not ready: %v\n%s", s.Addr(), err, s.Log())
	}
}

// Kill stops the server at once (SIGKILL), as a crash would.
func (s *Server) Kill() {
	s.mu.Lock()
	cmd := s.cmd
	s.cmd = nil
	s.mu.Unlock()
	if cmd == nil || cmd.Process == nil {
		return
	}
	_ = cmd.Process.Kill()
	// Wait until the port no longer answers, so a restart can bind it.
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		c, err := net.DialTimeout("tcp", s.Addr(), 100*time.Millisecond)
		if err != nil {
			return
		}
		c.Close()
		time.Sleep(20 * time.Millisecond)
	}
}

// Restart starts the server again on the same port and directory, so an AOF
// or RDB file written before a Kill is loaded.
func (s *Server) Restart() {
	s.tb.Helper()
	s.Kill()
	s.start()
}

// Log returns the server's log, for failure messages.
func (s *Server) Log() string {
	b, _ := os.ReadFile(filepath.Join(s.Dir, "redis.log"))
	return string(b)
}

func waitReady(addr string, within time.Duration) error {
	deadline := time.Now().Add(within)
	var last error
	for time.Now().Before(deadline) {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			_ = c.SetDeadline(time.Now().Add(time.Second))
			fmt.Fprint(c, "PING\r\n")
			line, rerr := bufio.NewReader(c).ReadString('\n')
			c.Close()
			if rerr == nil && strings.HasPrefix(line, "+PONG") {
				return nil
			}
			last = fmt.Errorf("ping: %q %v", line, rerr)
		} else {
			last = err
		}
		time.Sleep(25 * time.Millisecond)
	}
	return last
}

// Flush empties the server between subtests that want a clean store.
func (s *Server) Flush(ctx context.Context) {
	s.tb.Helper()
	if err := s.Client().FlushAll(ctx).Err(); err != nil {
		s.tb.Fatalf("flushall: %v", err)
	}
}
