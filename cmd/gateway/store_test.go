package main

import (
	"os"
	"testing"

	"github.com/dischargegateway/gateway/internal/pgtest"
	"github.com/dischargegateway/gateway/internal/redistest"
	"github.com/dischargegateway/gateway/internal/sqlitetest"
)

// TestMain stops the shared PostgreSQL (GATEWAY_TEST_STORE=postgres: the
// tests over a real Redis keep their record there, see withDataDir) and
// the shared Redis Cluster or Sentinel set once every test has run.
func TestMain(m *testing.M) {
	code := m.Run()
	pgtest.StopShared()
	redistest.StopShared()
	sqlitetest.Cleanup()
	os.Exit(code)
}
