// Package pgrecordtest gives tests a fresh database on the test binary's
// shared PostgreSQL (internal/pgtest) whose record is already migrated: a
// copy, made with CREATE DATABASE … TEMPLATE, of one database the
// migrations ran on once per test binary. It is the PostgreSQL counterpart
// of internal/sqlitetest, and lives apart from internal/pgtest because
// adapters/sqlstore's own tests use pgtest and this package imports
// sqlstore.
//
// The migrations still run on empty databases in adapters/sqlstore's tests
// and in every test that starts a PostgreSQL of its own.
package pgrecordtest

import (
	"context"
	"testing"

	"github.com/dischargegateway/gateway/adapters/sqlstore"
	"github.com/dischargegateway/gateway/internal/pgtest"
)

// URL returns the DATABASE_URL of a new database holding a migrated, empty
// record, dropped when tb ends (pgtest.SharedPreparedDatabase).
func URL(tb testing.TB) string {
	tb.Helper()
	return pgtest.SharedPreparedDatabase(tb, migrate)
}

// migrate runs every migration on an empty database and closes the record,
// which ends its connections.
func migrate(databaseURL string) error {
	s, err := sqlstore.Open(context.Background(), databaseURL, "")
	if err != nil {
		return err
	}
	return s.Close()
}
