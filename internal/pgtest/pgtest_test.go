package pgtest_test

import (
	"context"
	"net/url"
	"strings"
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

// TestStandbyPromote: a synchronous standby has every acknowledged commit
// of its primary, and after the primary is killed and the standby promoted
// it takes writes.
func TestStandbyPromote(t *testing.T) {
	primary := pgtest.Start(t)
	_, dbURL := primary.NewDatabase(t)
	standby := primary.StartStandby(t, "standby1")
	primary.SetSynchronousStandbys(t, "ANY 1 (standby1)", 1)
	ctx := context.Background()
	c, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Exec(ctx, "CREATE TABLE t (n int)"); err != nil {
		t.Fatal(err)
	}
	for i := range 50 {
		if _, err := c.Exec(ctx, "INSERT INTO t VALUES ($1)", i); err != nil {
			t.Fatal(err)
		}
	}
	_ = c.Close(ctx)
	primary.Kill()
	standby.Promote(t)
	sc, err := pgx.Connect(ctx, standby.SuperuserURL(strings.TrimPrefix(mustPath(t, dbURL), "/")))
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close(ctx)
	var n int
	if err := sc.QueryRow(ctx, "SELECT count(*) FROM t").Scan(&n); err != nil || n != 50 {
		t.Fatalf("promoted standby holds %d of 50 acknowledged rows: %v", n, err)
	}
	if _, err := sc.Exec(ctx, "INSERT INTO t VALUES (50)"); err != nil {
		t.Fatalf("the promoted standby refuses writes: %v", err)
	}
}

func mustPath(t *testing.T, u string) string {
	t.Helper()
	p, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	return p.Path
}
