// Package pgtest starts private PostgreSQL servers for tests: each one is
// initdb'ed into its own temporary directory and listens on a free loopback
// port (and a Unix socket in that directory), so tests never touch a
// PostgreSQL the developer or the machine already runs.
//
// When initdb or postgres is not on PATH (nor in /usr/lib/postgresql/*/bin)
// the test is skipped, unless the environment sets PGTEST_REQUIRED=1 (as
// REDISTEST_REQUIRED does for internal/redistest), in which case it fails:
// integration tests must not silently vanish in CI.
//
// PostgreSQL refuses to run as root. When the test binary runs as root (as
// it does on the project's machines and in CI) the server runs as the
// unprivileged "postgres" system user if it exists, else as "nobody": the
// directory is created outside the test's own TempDir (whose parents are
// private to root) and handed to that user, and the processes are started
// with that user's credentials.
//
// On Linux the postmaster is started with a parent-death signal, so it never
// outlives the test binary (its backends exit when it dies), and Kill takes
// down the postmaster and all its backends at once, as a crash would.
package pgtest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Superuser is the bootstrap superuser's name; AppRole the unprivileged
// role that owns each database made by NewDatabase and that the code under
// test connects as (no SUPERUSER, no BYPASSRLS: row-level security binds it).
const (
	Superuser = "postgres"
	AppRole   = "gateway"
)

// Server is one postmaster owned by a test.
type Server struct {
	tb   testing.TB
	Dir  string // holds data/ and the Unix socket; removed at cleanup
	Port int
	args []string
	cred *credential // nil: run as the test binary's user

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
	dbs  int

	prepared struct { // NewPreparedDatabase's template, preparedTemplate
		once sync.Once
		err  error
	}
}

// Start initialises a cluster in a fresh directory and starts it on a free
// loopback port with durable settings (fsync=on, synchronous_commit=on,
// full_page_writes=on). Extra args are passed as "-c name=value" pairs,
// e.g. "deadlock_timeout=100ms". The server is stopped and its directory
// removed when the test ends.
func Start(tb testing.TB, settings ...string) *Server {
	tb.Helper()
	initdb, postgres := binary(tb, "initdb"), binary(tb, "postgres")
	s := &Server{tb: tb}
	dir, err := os.MkdirTemp("", "pgtest-")
	if err != nil {
		tb.Fatal(err)
	}
	s.Dir = dir
	tb.Cleanup(func() {
		s.Kill()
		_ = os.RemoveAll(dir)
	})
	if os.Geteuid() == 0 {
		cred, err := unprivileged()
		if err != nil {
			tb.Fatal(err)
		}
		s.cred = cred
		if err := chownTo(dir, cred); err != nil {
			tb.Fatal(err)
		}
	}
	// The parent of dir is the system temp directory (world-traversable);
	// dir itself must be reachable by the server's user.
	if err := os.Chmod(dir, 0o700); err != nil {
		tb.Fatal(err)
	}
	cmd := exec.Command(initdb, "-D", s.dataDir(), "-U", Superuser, "--auth=trust", "-E", "UTF8",
		"--locale=C", "--no-sync", "--no-instructions")
	runAs(cmd, s.cred)
	if out, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("initdb: %v\n%s", err, out)
	}
	s.args = []string{postgres}
	for _, kv := range append([]string{
		"listen_addresses=127.0.0.1", "unix_socket_directories=" + dir,
		"fsync=on", "synchronous_commit=on", "full_page_writes=on",
		"max_connections=100", "shared_buffers=32MB", "logging_collector=off",
	}, settings...) {
		s.args = append(s.args, "-c", kv)
	}
	s.launchOnFreePort(tb, "postgres")
	return s
}

// launchOnFreePort picks a free loopback port and launches the server on
// it, picking again when the port was taken between the pick and the bind.
func (s *Server) launchOnFreePort(tb testing.TB, what string) {
	tb.Helper()
	var last error
	for range 3 {
		var err error
		if s.Port, err = freePort(); err != nil {
			tb.Fatal(err)
		}
		if last = s.launch(); last == nil {
			return
		}
		if !strings.Contains(s.Log(), "could not bind") && !strings.Contains(s.Log(), "already in use") {
			break
		}
	}
	tb.Fatalf("%s: %v\n%s", what, last, s.tail(30))
}

// binary finds a PostgreSQL program on PATH or in Debian's versioned
// directory, or skips (fails under PGTEST_REQUIRED=1) the test.
func binary(tb testing.TB, name string) string {
	tb.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	if ms, _ := filepath.Glob("/usr/lib/postgresql/*/bin/" + name); len(ms) > 0 {
		return ms[len(ms)-1]
	}
	if os.Getenv("PGTEST_REQUIRED") == "1" {
		tb.Fatalf("%s not found and PGTEST_REQUIRED=1", name)
	}
	tb.Skipf("%s not found; set PGTEST_REQUIRED=1 to fail instead", name)
	return ""
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func (s *Server) dataDir() string { return filepath.Join(s.Dir, "data") }

// launch starts the postmaster and waits until it accepts connections.
func (s *Server) launch() error {
	args := append(append([]string{}, s.args[1:]...), "-D", s.dataDir(), "-p", strconv.Itoa(s.Port))
	cmd := exec.Command(s.args[0], args...)
	out, err := os.OpenFile(filepath.Join(s.Dir, "postgres.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o666)
	if err != nil {
		return err
	}
	defer out.Close()
	_ = os.Chmod(out.Name(), 0o666) // the server's user appends to it
	cmd.Stdout, cmd.Stderr = out, out
	if err := spawn(cmd, s.cred); err != nil {
		return fmt.Errorf("start postgres: %w", err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	s.mu.Lock()
	s.cmd, s.done = cmd, done
	s.mu.Unlock()
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case <-done:
			return errors.New("postgres exited before it was ready")
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		c, err := pgx.Connect(ctx, s.url(Superuser, "postgres"))
		if err == nil {
			err = c.Ping(ctx)
			_ = c.Close(ctx)
		}
		cancel()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not ready after 30s: %w", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// url is a DATABASE_URL for a role and database over loopback TCP.
func (s *Server) url(role, db string) string {
	u := url.URL{Scheme: "postgres", User: url.User(role), Host: "127.0.0.1:" + strconv.Itoa(s.Port), Path: "/" + db,
		RawQuery: "sslmode=disable&connect_timeout=2"}
	return u.String()
}

// SuperuserURL is a DATABASE_URL for the superuser on a database, for a
// test's own checks (a superuser bypasses row-level security).
func (s *Server) SuperuserURL(db string) string { return s.url(Superuser, db) }

// NewDatabase creates an empty database owned by AppRole (creating the role
// on first use) and returns its name and a DATABASE_URL that connects as
// AppRole, so each test gets a clean schema on a shared server.
func (s *Server) NewDatabase(tb testing.TB) (name, databaseURL string) {
	tb.Helper()
	return s.newFrom(tb, "")
}

// preparedTemplate is the database NewPreparedDatabase copies.
const preparedTemplate = "prepared_template"

// NewPreparedDatabase is NewDatabase for a database that starts as a copy
// of one prepared once per server: on the first call prepare gets the
// DATABASE_URL of an empty database (as NewDatabase makes it) and must
// close every connection it opened; every call, that one included, then
// gets a new database made from it with CREATE DATABASE … TEMPLATE, which
// copies the schema, the rows, the row-level security policies and the
// owners. The server keeps one prepared database: later calls' prepare is
// not run. A prepare that failed fails every caller.
//
// Why: the gateway's suites migrate a new record for almost every test; on
// PostgreSQL a copy costs a fraction of running every migration (figures
// in docs/performance.md under issue 21). The migrations still
// run, once per server here and on empty databases in adapters/sqlstore's
// own tests.
func (s *Server) NewPreparedDatabase(tb testing.TB, prepare func(databaseURL string) error) (name, databaseURL string) {
	tb.Helper()
	s.prepared.once.Do(func() {
		if err := s.create(preparedTemplate, ""); err != nil {
			s.prepared.err = err
		} else if err := prepare(s.url(AppRole, preparedTemplate)); err != nil {
			s.prepared.err = fmt.Errorf("preparing the template database: %w", err)
		} else {
			s.prepared.err = s.disconnect(preparedTemplate)
		}
	})
	if s.prepared.err != nil {
		tb.Fatalf("pgtest: %v", s.prepared.err)
	}
	return s.newFrom(tb, preparedTemplate)
}

// newFrom creates the server's next database, empty or from template.
func (s *Server) newFrom(tb testing.TB, template string) (name, databaseURL string) {
	tb.Helper()
	s.mu.Lock()
	s.dbs++
	name = "t" + strconv.Itoa(s.dbs)
	s.mu.Unlock()
	if err := s.create(name, template); err != nil {
		tb.Fatal(err)
	}
	return name, s.url(AppRole, name)
}

// create makes database name owned by AppRole (creating the role on first
// use), empty or, with a template, a copy of that database.
func (s *Server) create(name, template string) error {
	return s.admin(func(ctx context.Context, c *pgx.Conn) error { return s.createOn(ctx, c, name, template) })
}

// admin runs fn on a superuser's connection to the postgres database, within
// 30 seconds.
func (s *Server) admin(fn func(ctx context.Context, c *pgx.Conn) error) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, s.url(Superuser, "postgres"))
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer c.Close(ctx)
	return fn(ctx, c)
}

func (s *Server) createOn(ctx context.Context, c *pgx.Conn, name, template string) error {
	var exists bool
	if err := c.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)", AppRole).Scan(&exists); err != nil {
		return err
	}
	if !exists {
		if _, err := c.Exec(ctx, "CREATE ROLE "+AppRole+" LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE"); err != nil {
			return err
		}
	}
	if template != "" {
		// The copy's public schema is the template's, already AppRole's.
		if _, err := c.Exec(ctx, "CREATE DATABASE "+name+" OWNER "+AppRole+" TEMPLATE "+template); err != nil {
			return fmt.Errorf("create database %s from %s: %w", name, template, err)
		}
		return nil
	}
	if _, err := c.Exec(ctx, "CREATE DATABASE "+name+" OWNER "+AppRole); err != nil {
		return fmt.Errorf("create database %s: %w", name, err)
	}
	// PostgreSQL 15 no longer lets every role create in public; the owner
	// of the database does not own its public schema either.
	dc, err := pgx.Connect(ctx, s.url(Superuser, name))
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer dc.Close(ctx)
	if _, err := dc.Exec(ctx, "ALTER SCHEMA public OWNER TO "+AppRole); err != nil {
		return err
	}
	return nil
}

// disconnect ends every session on database name (CREATE DATABASE refuses
// a template that has one) and waits until they are gone.
func (s *Server) disconnect(name string) error {
	return s.admin(func(ctx context.Context, c *pgx.Conn) error { return disconnectOn(ctx, c, name) })
}

func disconnectOn(ctx context.Context, c *pgx.Conn, name string) error {
	for {
		var n int
		if err := c.QueryRow(ctx, "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = $1", name).Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("sessions on %s did not end: %w", name, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Running reports whether the postmaster is up.
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

// Kill sends SIGKILL to the postmaster and every backend (its process
// children), as a crash would, and returns once the postmaster is gone.
func (s *Server) Kill() {
	s.mu.Lock()
	cmd, done := s.cmd, s.done
	s.cmd = nil
	s.mu.Unlock()
	if cmd == nil || cmd.Process == nil {
		return
	}
	killGroup(cmd.Process.Pid)
	select {
	case <-done:
	case <-time.After(10 * time.Second):
	}
}

// Restart starts the server again on the same port and data directory,
// which runs crash recovery from the WAL after a Kill.
func (s *Server) Restart() {
	s.tb.Helper()
	s.Kill()
	// A new postmaster refuses to start while a killed backend still holds
	// the old shared memory segment; they go within moments.
	deadline := time.Now().Add(15 * time.Second)
	for {
		err := s.launch()
		if err == nil {
			return
		}
		if !strings.Contains(s.tail(3), "pre-existing shared memory block") || time.Now().After(deadline) {
			s.tb.Fatalf("restart: %v\n%s", err, s.tail(30))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Log is the server's output, for failure messages.
func (s *Server) Log() string {
	b, _ := os.ReadFile(filepath.Join(s.Dir, "postgres.log"))
	return string(b)
}

func (s *Server) tail(n int) string {
	lines := strings.Split(strings.TrimSpace(s.Log()), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// StartStandby starts a hot standby of s, streaming from it: a base backup
// of s (pg_basebackup -R, which writes standby.signal and primary_conninfo)
// in a fresh directory, started on a free loopback port with
// cluster_name=name, which is its application_name on the primary. Make it
// synchronous with SetSynchronousStandbys on the primary. It is stopped and
// removed when the test ends.
func (s *Server) StartStandby(tb testing.TB, name string) *Server {
	tb.Helper()
	basebackup := binary(tb, "pg_basebackup")
	sb := &Server{tb: tb, cred: s.cred}
	dir, err := os.MkdirTemp("", "pgtest-standby-")
	if err != nil {
		tb.Fatal(err)
	}
	sb.Dir = dir
	tb.Cleanup(func() {
		sb.Kill()
		_ = os.RemoveAll(dir)
	})
	if s.cred != nil {
		if err := chownTo(dir, s.cred); err != nil {
			tb.Fatal(err)
		}
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		tb.Fatal(err)
	}
	cmd := exec.Command(basebackup, "-h", "127.0.0.1", "-p", strconv.Itoa(s.Port), "-U", Superuser,
		"-D", sb.dataDir(), "-R", "-X", "stream", "--no-sync", "-c", "fast")
	runAs(cmd, s.cred)
	if out, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("pg_basebackup: %v\n%s", err, out)
	}
	sb.args = append(append([]string{}, s.args...), "-c", "cluster_name="+name, "-c", "unix_socket_directories="+dir,
		"-c", "hot_standby=on")
	sb.launchOnFreePort(tb, "standby")
	return sb
}

// SetSynchronousStandbys sets synchronous_standby_names on s (for example
// "ANY 1 (standby1)") and waits until that many standbys stream as
// synchronous (sync_state sync or quorum), so that from then on a commit is
// acknowledged only once a standby has it.
func (s *Server) SetSynchronousStandbys(tb testing.TB, names string, want int) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, s.url(Superuser, "postgres"))
	if err != nil {
		tb.Fatal(err)
	}
	defer c.Close(ctx)
	if _, err := c.Exec(ctx, "ALTER SYSTEM SET synchronous_standby_names = "+quoteLiteral(names)); err != nil {
		tb.Fatal(err)
	}
	if _, err := c.Exec(ctx, "SELECT pg_reload_conf()"); err != nil {
		tb.Fatal(err)
	}
	for {
		var n int
		if err := c.QueryRow(ctx, "SELECT count(*) FROM pg_stat_replication WHERE sync_state IN ('sync', 'quorum') AND state = 'streaming'").Scan(&n); err != nil {
			tb.Fatal(err)
		}
		if n >= want {
			return
		}
		select {
		case <-ctx.Done():
			tb.Fatalf("%d synchronous standbys after 30s, want %d\n%s", n, want, s.tail(20))
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Promote makes a standby the primary (pg_promote, waiting for it), as a
// failover manager would once the old primary is gone.
func (s *Server) Promote(tb testing.TB) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, s.url(Superuser, "postgres"))
	if err != nil {
		tb.Fatal(err)
	}
	defer c.Close(ctx)
	var ok bool
	if err := c.QueryRow(ctx, "SELECT pg_promote(true, 30)").Scan(&ok); err != nil || !ok {
		tb.Fatalf("promote: %v %v\n%s", ok, err, s.tail(20))
	}
}

func quoteLiteral(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// FailoverURL is databaseURL (one of the primary's, from NewDatabase) with
// the primary and each standby as its hosts and
// target_session_attrs=read-write, so a client finds whichever is the
// primary after a promotion, as DATABASE_URL does in production.
func (s *Server) FailoverURL(tb testing.TB, databaseURL string, standbys ...*Server) string {
	tb.Helper()
	u, err := url.Parse(databaseURL)
	if err != nil {
		tb.Fatal(err)
	}
	hosts := []string{fmt.Sprintf("127.0.0.1:%d", s.Port)}
	for _, sb := range standbys {
		hosts = append(hosts, fmt.Sprintf("127.0.0.1:%d", sb.Port))
	}
	u.Host = strings.Join(hosts, ",")
	q := u.Query()
	q.Set("target_session_attrs", "read-write")
	u.RawQuery = q.Encode()
	return u.String()
}
