package sqlstore_test

import (
	"os"
	"testing"

	"github.com/dischargegateway/gateway/internal/sqlitetest"
)

// TestMain removes the migrated template database that the engines' SQLite
// stores are copied from (sqlitetest). Migrating from an empty file is
// tested on its own (open_test.go) and by the template itself.
func TestMain(m *testing.M) {
	code := m.Run()
	sqlitetest.Cleanup()
	os.Exit(code)
}
