package sitrep_test

import (
	"os"
	"testing"

	"github.com/dischargegateway/gateway/internal/sqlitetest"
)

// TestMain removes the migrated template database sqlitetest copied from.
func TestMain(m *testing.M) {
	code := m.Run()
	sqlitetest.Cleanup()
	os.Exit(code)
}
