package pgtest_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/dischargegateway/gateway/internal/pgtest"
)

// TestStartKillRestart checks the harness itself: a committed row survives
// a SIGKILL of the whole server and a restart on the same directory.
func TestStartKillRestart(t *testing.T) {
	s := pgtest.Start(t)
	_, url := s.NewDatabase(t)
	ctx := context.Background()
	c, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	var super bool
	if err := c.QueryRow(ctx, "SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = current_user").Scan(&super); err != nil || super {
		t.Fatalf("app role must be unprivileged: %v %v", super, err)
	}
	if _, err := c.Exec(ctx, "CREATE TABLE t (n int); INSERT INTO t VALUES (42)"); err != nil {
		t.Fatal(err)
	}
	c.Close(ctx)
	s.Kill()
	if s.Running() {
		t.Fatal("still running after Kill")
	}
	if _, err := pgx.Connect(ctx, url); err == nil {
		t.Fatal("connected to a killed server")
	}
	s.Restart()
	c, err = pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	var n int
	if err := c.QueryRow(ctx, "SELECT n FROM t").Scan(&n); err != nil || n != 42 {
		t.Fatalf("after restart: %d %v", n, err)
	}
}
