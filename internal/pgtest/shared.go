package pgtest

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
)

// The shared server: one postmaster for a whole test binary, for suites
// that need a fresh database per test but not a server each (initdb costs
// seconds; a database, a fraction of one). It is started by the first
// Shared call and lives until StopShared, which the package's TestMain
// calls after m.Run (on Linux it also dies with the test binary).

var shared struct {
	once sync.Once
	srv  *Server
	tb   *binaryTB
	fail string // why it did not start
	skip string // why it was skipped: no PostgreSQL, PGTEST_REQUIRED unset
}

// Shared returns the test binary's shared server, starting it on first
// use. A missing PostgreSQL skips tb (fails it under PGTEST_REQUIRED=1), as
// Start does; a server that did not start fails every caller.
func Shared(tb testing.TB) *Server {
	tb.Helper()
	shared.once.Do(func() {
		shared.tb = &binaryTB{}
		defer func() {
			if r := recover(); r != nil {
				stop, ok := r.(binaryTBStop)
				if !ok {
					panic(r)
				}
				if stop.skip {
					shared.skip = stop.msg
				} else {
					shared.fail = stop.msg
				}
				shared.tb.cleanup()
			}
		}()
		shared.srv = Start(shared.tb, sharedSettings()...)
	})
	switch {
	case shared.skip != "":
		tb.Skip(shared.skip)
	case shared.fail != "":
		tb.Fatalf("starting the shared PostgreSQL: %s", shared.fail)
	}
	return shared.srv
}

// sharedSettings are PGTEST_SHARED_SETTINGS ("name=value,name=value"):
// server settings for the shared server, a diagnostic for benchmarks (for
// example shared_preload_libraries=pg_stat_statements, to see what each
// statement costs). Tests never set it.
func sharedSettings() []string {
	var out []string
	for _, kv := range strings.Split(os.Getenv("PGTEST_SHARED_SETTINGS"), ",") {
		if kv = strings.TrimSpace(kv); kv != "" {
			out = append(out, kv)
		}
	}
	return out
}

// SharedDatabase creates a fresh database on the shared server (see
// NewDatabase) and returns its DATABASE_URL. The database is dropped when
// tb ends, after the cleanups tb registers later (which close what uses
// it), so a run of hundreds of tests keeps the server small.
func SharedDatabase(tb testing.TB) string {
	tb.Helper()
	s := Shared(tb)
	name, url := s.NewDatabase(tb)
	tb.Cleanup(func() { s.drop(name) })
	return url
}

// SharedPreparedDatabase is SharedDatabase for a database copied from one
// that prepare made once for the test binary (see NewPreparedDatabase).
func SharedPreparedDatabase(tb testing.TB, prepare func(databaseURL string) error) string {
	tb.Helper()
	s := Shared(tb)
	name, url := s.NewPreparedDatabase(tb, prepare)
	tb.Cleanup(func() { s.drop(name) })
	return url
}

// StopShared stops the shared server, if one was started, and removes its
// directory. Call it from TestMain after m.Run.
func StopShared() {
	if shared.tb != nil {
		shared.tb.cleanup()
	}
}

// drop drops a database, ending its connections (WITH (FORCE)); errors are
// ignored, as a test that killed the server has nothing left to keep small.
func (s *Server) drop(name string) {
	_ = s.admin(func(ctx context.Context, c *pgx.Conn) error {
		_, err := c.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
		return err
	})
}

// binaryTB is the testing.TB the shared server belongs to: it lives for
// the whole test binary, not one test, so its cleanups run at StopShared.
// Start and what it calls use only Helper, Cleanup, Fatal(f) and Skipf (and
// Restart, which a shared server's users must not call); the embedded nil
// TB is never called.
type binaryTB struct {
	testing.TB
	mu       sync.Mutex
	cleanups []func()
}

// binaryTBStop is what Fatal and Skipf panic with, for Shared to recover.
type binaryTBStop struct {
	msg  string
	skip bool
}

func (b *binaryTB) Helper() {}

func (b *binaryTB) Cleanup(f func()) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.cleanups = append(b.cleanups, f)
}

func (b *binaryTB) Fatal(args ...any) { panic(binaryTBStop{msg: fmt.Sprint(args...)}) }

func (b *binaryTB) Fatalf(format string, args ...any) {
	panic(binaryTBStop{msg: fmt.Sprintf(format, args...)})
}

func (b *binaryTB) Skipf(format string, args ...any) {
	panic(binaryTBStop{msg: fmt.Sprintf(format, args...), skip: true})
}

// cleanup runs the cleanups, last registered first, once.
func (b *binaryTB) cleanup() {
	b.mu.Lock()
	fs := b.cleanups
	b.cleanups = nil
	b.mu.Unlock()
	for i := len(fs) - 1; i >= 0; i-- {
		fs[i]()
	}
}
