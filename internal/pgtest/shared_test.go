package pgtest_test

import (
	"context"
	"os"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/dischargegateway/gateway/internal/pgtest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	pgtest.StopShared()
	os.Exit(code)
}

// TestSharedServerFreshDatabases: every caller gets the one shared server,
// each SharedDatabase is empty and its own, and it is gone (dropped) once
// the test that made it has ended; the server outlives that test.
func TestSharedServerFreshDatabases(t *testing.T) {
	ctx := context.Background()
	var first *pgtest.Server
	var url string
	t.Run("make", func(t *testing.T) {
		first = pgtest.Shared(t)
		url = pgtest.SharedDatabase(t)
		other := pgtest.SharedDatabase(t)
		if url == other {
			t.Fatalf("two databases share %s", url)
		}
		c, err := pgx.Connect(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close(ctx)
		var tables int
		if err := c.QueryRow(ctx, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").Scan(&tables); err != nil || tables != 0 {
			t.Fatalf("not empty: %d %v", tables, err)
		}
		if _, err := c.Exec(ctx, "CREATE TABLE t (n int)"); err != nil {
			t.Fatal(err)
		}
	})
	if s := pgtest.Shared(t); s != first || !s.Running() {
		t.Fatalf("the shared server changed or stopped with the test that started it: %p %p", s, first)
	}
	c, err := pgx.Connect(ctx, url)
	if err == nil {
		c.Close(ctx)
		t.Fatal("the database is still there after its test ended")
	}
}
