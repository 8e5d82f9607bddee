package gateway_test

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/dischargegateway/gateway/adapters/sqlstore"
	"github.com/dischargegateway/gateway/internal/pgtest"
	"github.com/dischargegateway/gateway/internal/redistest"
	"github.com/jackc/pgx/v5"
)

// The record engine of this suite: the embedded SQLite (a file in the
// test's TempDir) unless GATEWAY_TEST_STORE=postgres, which runs every env
// on a real PostgreSQL that the tests start (one server for the whole test
// binary, a fresh database per env), as scripts/test.sh does in a second
// pass. Redis (internal/redistest, any REDISTEST_MODE) is the capacity
// cache, the rate limiter and the replay cache on both.
func testEngine() string {
	if os.Getenv("GATEWAY_TEST_STORE") == "postgres" {
		return "postgres"
	}
	return "sqlite"
}

// TestMain stops the shared PostgreSQL and the shared Redis Cluster or
// Sentinel set (when the run started them) once every test has run.
func TestMain(m *testing.M) {
	code := m.Run()
	sharedPG.stop()
	redistest.StopShared()
	os.Exit(code)
}

// openRecord opens the system of record of one env on the suite's engine,
// migrated, closed (and its PostgreSQL database dropped) when t ends.
func openRecord(t testing.TB) *sqlstore.Store {
	t.Helper()
	if testEngine() != "postgres" {
		return openSQL(t, "", t.TempDir())
	}
	pg := sharedPG.get(t)
	name, url := pg.NewDatabase(t)
	// Registered before the store's Close, so it runs after it: a
	// database with open connections cannot be dropped. Dropping keeps a
	// long run's server small (hundreds of envs).
	t.Cleanup(func() { dropDatabase(pg, name) })
	return openSQL(t, url, "")
}

// openOwnPostgres starts a PostgreSQL of the test's own, which the test may
// kill and restart (a record outage), and opens the record on it.
func openOwnPostgres(t testing.TB) (*pgtest.Server, *sqlstore.Store) {
	t.Helper()
	pg := pgtest.Start(t)
	_, url := pg.NewDatabase(t)
	return pg, openSQL(t, url, "")
}

func openSQL(t testing.TB, url, dir string) *sqlstore.Store {
	t.Helper()
	s, err := sqlstore.Open(context.Background(), url, dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func dropDatabase(pg *pgtest.Server, name string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, pg.SuperuserURL("postgres"))
	if err != nil {
		return // the server is gone (killed by a test's end); nothing to keep small
	}
	defer c.Close(ctx)
	_, _ = c.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
}

// sharedPG is the one PostgreSQL of a GATEWAY_TEST_STORE=postgres run,
// started by the first env that needs it and stopped by TestMain.
var sharedPG sharedPostgres

type sharedPostgres struct {
	once sync.Once
	srv  *pgtest.Server
	tb   *mainTB
	fail string // why it did not start
	skip string // why it was skipped (no PostgreSQL, PGTEST_REQUIRED unset)
}

func (s *sharedPostgres) get(t testing.TB) *pgtest.Server {
	t.Helper()
	s.once.Do(func() {
		s.tb = &mainTB{}
		defer func() {
			if r := recover(); r != nil {
				stop, ok := r.(mainTBStop)
				if !ok {
					panic(r)
				}
				if stop.skip {
					s.skip = stop.msg
				} else {
					s.fail = stop.msg
				}
				s.tb.cleanup()
			}
		}()
		s.srv = pgtest.Start(s.tb)
	})
	switch {
	case s.skip != "":
		t.Skip(s.skip)
	case s.fail != "":
		t.Fatalf("starting the shared PostgreSQL: %s", s.fail)
	}
	return s.srv
}

func (s *sharedPostgres) stop() {
	if s.tb != nil {
		s.tb.cleanup()
	}
}

// mainTB is the testing.TB that the shared server belongs to: it lives
// for the whole test binary, not for one test, so its cleanups run from
// TestMain. pgtest.Start uses only Helper, Cleanup, Fatal(f) and Skipf;
// the embedded nil TB is never called.
type mainTB struct {
	testing.TB
	mu       sync.Mutex
	cleanups []func()
}

// mainTBStop is what Fatal and Skip panic with, for sharedPostgres.get.
type mainTBStop struct {
	msg  string
	skip bool
}

func (m *mainTB) Helper() {}

func (m *mainTB) Cleanup(f func()) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.cleanups = append(m.cleanups, f)
}

func (m *mainTB) Fatal(args ...any) { panic(mainTBStop{msg: fmt.Sprint(args...)}) }

func (m *mainTB) Fatalf(format string, args ...any) {
	panic(mainTBStop{msg: fmt.Sprintf(format, args...)})
}

func (m *mainTB) Skipf(format string, args ...any) {
	panic(mainTBStop{msg: fmt.Sprintf(format, args...), skip: true})
}

// cleanup runs the cleanups last-registered first, once.
func (m *mainTB) cleanup() {
	m.mu.Lock()
	fs := m.cleanups
	m.cleanups = nil
	m.mu.Unlock()
	for i := len(fs) - 1; i >= 0; i-- {
		fs[i]()
	}
}
