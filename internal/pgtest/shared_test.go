package pgtest_test

import (
	"context"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
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

// TestSharedPreparedDatabases: prepare runs once, on an empty database, even
// for many callers at once; each caller's database is a copy of what it
// left (tables, rows, a row-level security policy), its own (a write to one
// is not in another), owned by the unprivileged application role, and
// dropped when its test ends.
func TestSharedPreparedDatabases(t *testing.T) {
	ctx := context.Background()
	var prepares atomic.Int32
	prepare := func(url string) error {
		prepares.Add(1)
		c, err := pgx.Connect(ctx, url)
		if err != nil {
			return err
		}
		defer c.Close(ctx)
		var tables int
		if err := c.QueryRow(ctx, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").Scan(&tables); err != nil {
			return err
		}
		if tables != 0 {
			return fmt.Errorf("prepare was given a database with %d tables", tables)
		}
		_, err = c.Exec(ctx, `CREATE TABLE t (n int, tenant text);
			INSERT INTO t VALUES (1, 'a'), (2, 'b');
			ALTER TABLE t ENABLE ROW LEVEL SECURITY; ALTER TABLE t FORCE ROW LEVEL SECURITY;
			CREATE POLICY only_a ON t USING (tenant = 'a') WITH CHECK (true)`)
		return err
	}
	const n = 4
	urls := make([]string, n)
	t.Run("make", func(t *testing.T) {
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				urls[i] = pgtest.SharedPreparedDatabase(t, prepare)
			}()
		}
		wg.Wait()
		if got := prepares.Load(); got != 1 {
			t.Fatalf("prepare ran %d times, want 1", got)
		}
		for i, url := range urls {
			c, err := pgx.Connect(ctx, url)
			if err != nil {
				t.Fatal(err)
			}
			var owner string
			if err := c.QueryRow(ctx, "SELECT tableowner FROM pg_tables WHERE tablename = 't'").Scan(&owner); err != nil || owner != pgtest.AppRole {
				t.Fatalf("db %d: table owner %q %v", i, owner, err)
			}
			// The policy came with the copy: the owner sees only tenant a's row.
			var rows, sum int
			if err := c.QueryRow(ctx, "SELECT count(*), coalesce(sum(n), 0) FROM t").Scan(&rows, &sum); err != nil || rows != 1 || sum != 1 {
				t.Fatalf("db %d: %d rows summing to %d, want tenant a's one row: %v", i, rows, sum, err)
			}
			// A write to the first; the others' checks above then see it
			// only if the databases were shared.
			if i == 0 {
				if _, err := c.Exec(ctx, "INSERT INTO t VALUES (10, 'a')"); err != nil {
					t.Fatal(err)
				}
			}
			c.Close(ctx)
		}
	})
	for _, url := range urls {
		if c, err := pgx.Connect(ctx, url); err == nil {
			c.Close(ctx)
			t.Fatalf("%s is still there after its test ended", url)
		}
	}
}
