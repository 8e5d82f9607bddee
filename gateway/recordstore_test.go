package gateway_test

import (
	"context"
	"os"
	"testing"

	"github.com/dischargegateway/gateway/adapters/sqlstore"
	"github.com/dischargegateway/gateway/internal/pgrecordtest"
	"github.com/dischargegateway/gateway/internal/pgtest"
	"github.com/dischargegateway/gateway/internal/redistest"
	"github.com/dischargegateway/gateway/internal/sqlitetest"
)

// The record engine of this suite: the embedded SQLite (a file in the
// test's TempDir) unless GATEWAY_TEST_STORE=postgres, which runs every env
// on a real PostgreSQL that the tests start (one server for the whole test
// binary, pgtest.Shared; a fresh database per env), as scripts/test.sh does
// in a second pass. Redis (internal/redistest, any REDISTEST_MODE) is the
// capacity cache, the rate limiter and the replay cache on both.
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
	pgtest.StopShared()
	redistest.StopShared()
	sqlitetest.Cleanup()
	os.Exit(code)
}

// openRecord opens the system of record of one env on the suite's engine,
// migrated (a copy of a database migrated once per test binary: sqlitetest
// on SQLite, pgrecordtest on PostgreSQL), closed (and its PostgreSQL database dropped) when t ends.
func openRecord(t testing.TB) *sqlstore.Store {
	t.Helper()
	if testEngine() != "postgres" {
		return openSQL(t, "", sqlitetest.Dir(t))
	}
	return openSQL(t, pgrecordtest.URL(t), "")
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
