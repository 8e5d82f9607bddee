// Package sqlitetest gives tests a fresh data directory whose SQLite record
// is already migrated: a copy of one migrated, empty database made once per
// test binary, instead of one run of every migration per test.
//
// Why: under the race detector, which instruments the transpiled SQLite
// engine as well, migrating a new database took 1.2–1.4 s on this
// project's 2-core machines and opening an already migrated one 40 ms
// (48 ms and 40 ms without it). The gateway's suites open a new record for
// almost every test, so migrations were a large part of the race pass of
// scripts/test.sh. A copy of a closed database file is the same database,
// and opening it is what a gateway restarting on its data directory does;
// the migrations themselves still run here, once, and in adapters/sqlstore's
// own tests, which start from empty files.
package sqlitetest

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/dischargegateway/gateway/adapters/sqlstore"
)

var template struct {
	once sync.Once
	dir  string
	err  error
}

// Dir returns a new directory (removed when tb ends) holding a migrated,
// empty SQLite record, for sqlstore.Open(ctx, "", Dir(tb)) or
// GATEWAY_DATA_DIR.
func Dir(tb testing.TB) string {
	tb.Helper()
	template.once.Do(func() {
		template.dir, template.err = makeTemplate()
	})
	if template.err != nil {
		tb.Fatalf("sqlitetest: migrating the template database: %v", template.err)
	}
	dir := tb.TempDir()
	// The -wal file is copied too if Close left one, so the copy holds
	// every committed page either way.
	for _, name := range []string{sqlstore.SQLiteFile, sqlstore.SQLiteFile + "-wal"} {
		if err := copyFile(filepath.Join(template.dir, name), filepath.Join(dir, name)); err != nil && !os.IsNotExist(err) {
			tb.Fatalf("sqlitetest: %v", err)
		}
	}
	return dir
}

// Cleanup removes the template; call it from TestMain after m.Run.
func Cleanup() {
	if template.dir != "" {
		_ = os.RemoveAll(template.dir)
	}
}

func makeTemplate() (string, error) {
	dir, err := os.MkdirTemp("", "sqlitetest-")
	if err != nil {
		return "", err
	}
	s, err := sqlstore.Open(context.Background(), "", dir)
	if err != nil {
		os.RemoveAll(dir)
		return "", err
	}
	if err := s.Close(); err != nil {
		os.RemoveAll(dir)
		return "", fmt.Errorf("closing: %w", err)
	}
	return dir, nil
}

func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
