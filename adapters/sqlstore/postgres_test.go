package sqlstore_test

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/dischargegateway/gateway/adapters/sqlstore"
	"github.com/dischargegateway/gateway/auth"
	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/fhir"
	"github.com/dischargegateway/gateway/internal/pgtest"
)

// TestPostgres covers what only the PostgreSQL engine has: row-level
// security, the append-only audit grant, retries after a deadlock, and
// behaviour when the server dies. The subtests share one server and run in
// order; the last ones kill it.
func TestPostgres(t *testing.T) {
	// The server's deadlock_timeout stays at 1 s, so that the deadlock test
	// knows which of two waiting transactions PostgreSQL aborts.
	pg := pgtest.Start(t)
	ctx := context.Background()
	open := func(t *testing.T) (*sqlstore.Store, string, string) {
		db, url := pg.NewDatabase(t)
		s, err := sqlstore.Open(ctx, url, "")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s, db, url
	}
	connect := func(t *testing.T, url string) *pgx.Conn {
		c, err := pgx.Connect(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close(ctx) })
		return c
	}
	sqlState := func(err error) string {
		var pe *pgconn.PgError
		if errors.As(err, &pe) {
			return pe.Code
		}
		return ""
	}

	t.Run("row-level security alone keeps partitions apart", func(t *testing.T) {
		s, db, url := open(t)
		w := fhir.Write{Resource: res("Patient", "a", 1, `{}`),
			Index: []fhir.IndexEntry{tok("identifier", "x|1"), {Param: "birthdate", Low: 1, High: 2, IsRange: true}}}
		if err := s.Commit(ctx, "A", []fhir.Write{w}, nil); err != nil {
			t.Fatal(err)
		}
		// The directory's commit gives it a generation row.
		if err := s.Commit(ctx, fhir.DirectoryPartition, []fhir.Write{{Resource: res("Location", "l", 1, `{}`)}}, nil); err != nil {
			t.Fatal(err)
		}
		app := connect(t, url)
		tables := []string{"resources", "resource_history", "search_token", "search_range", "partition_generation"}
		// owner is the partition whose one row each table holds.
		owner := map[string]string{"partition_generation": fhir.DirectoryPartition}
		// count reads every table with no partition condition at all, as
		// the gateway's role, with app.partition set to p (or not set).
		count := func(c *pgx.Conn, p *string) map[string]int {
			tx, err := c.Begin(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer tx.Rollback(ctx)
			if p != nil {
				if _, err := tx.Exec(ctx, "SELECT set_config('app.partition', $1, true)", *p); err != nil {
					t.Fatal(err)
				}
			}
			out := map[string]int{}
			for _, table := range tables {
				var n int
				if err := tx.QueryRow(ctx, "SELECT COUNT(*) FROM "+table).Scan(&n); err != nil {
					t.Fatal(err)
				}
				out[table] = n
			}
			return out
		}
		b := "B"
		for _, table := range tables {
			a := cmp.Or(owner[table], "A")
			if n := count(app, &a)[table]; n != 1 {
				t.Errorf("%s as %s: %d rows, want 1", table, a, n)
			}
			if n := count(app, &b)[table]; n != 0 {
				t.Errorf("%s as B: %d rows visible", table, n)
			}
			if n := count(app, nil)[table]; n != 0 {
				t.Errorf("%s with no partition set: %d rows visible", table, n)
			}
		}
		// The setting was local to each transaction: none is left over.
		if n := count(app, nil)["resources"]; n != 0 {
			t.Errorf("partition leaked past its transaction: %d rows", n)
		}
		// Writing into another partition is refused, and its rows cannot
		// be changed.
		tx, err := app.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tx.Exec(ctx, "SELECT set_config('app.partition', 'B', true)"); err != nil {
			t.Fatal(err)
		}
		tag, err := tx.Exec(ctx, "UPDATE resources SET body = '{}' WHERE partition = 'A'")
		if err != nil || tag.RowsAffected() != 0 {
			t.Errorf("update of A's rows as B: %v rows, %v", tag.RowsAffected(), err)
		}
		_, err = tx.Exec(ctx, "INSERT INTO resources (partition, type, id, version, last_updated, body) VALUES ('A', 'Patient', 'z', 1, 0, '{}')")
		if sqlState(err) != "42501" {
			t.Errorf("insert into A as B: %v, want 42501", err)
		}
		tx.Rollback(ctx)
		// A superuser (who bypasses the policies) sees the row: the
		// zeros above are the policies at work, not an empty table.
		super := connect(t, pg.SuperuserURL(db))
		if n := count(super, nil)["resources"]; n != 2 { // A's and the directory's
			t.Errorf("superuser sees %d rows", n)
		}
	})

	t.Run("the audit log is append-only", func(t *testing.T) {
		s, _, url := open(t)
		a := sqlstore.NewAudit(s)
		if err := a.Record(ctx, auth.AuditEntry{Time: time.Now(), ClientID: "c", Org: "RXA", Action: "R", ResourceType: "Patient", ResourceID: "p", Status: 200}); err != nil {
			t.Fatal(err)
		}
		app := connect(t, url)
		for _, stmt := range []string{"UPDATE audit_log SET status = 500", "DELETE FROM audit_log", "TRUNCATE audit_log"} {
			if _, err := app.Exec(ctx, stmt); sqlState(err) != "42501" {
				t.Errorf("%s: %v, want 42501 insufficient_privilege", stmt, err)
			}
		}
		if pg, err := a.Search(ctx, auth.AuditQuery{Count: 10}); err != nil || pg.Total != 1 || pg.Entries[0].Status != 200 {
			t.Fatalf("after the attempts: %+v %v", pg, err)
		}
	})

	// waitForLocks waits until n sessions of db wait for a lock, or stop
	// is closed (what was to wait finished instead).
	waitForLocks := func(t *testing.T, db string, n int, stop <-chan struct{}) {
		t.Helper()
		watch := connect(t, pg.SuperuserURL("postgres"))
		deadline := time.Now().Add(10 * time.Second)
		for {
			var waiting int
			if err := watch.QueryRow(ctx, "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = $1 AND wait_event_type = 'Lock'", db).Scan(&waiting); err != nil {
				t.Fatal(err)
			}
			if waiting >= n {
				return
			}
			select {
			case <-stop:
				return
			default:
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d sessions waited for a lock, want %d", waiting, n)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}

	t.Run("a deadlock is retried inside the store", func(t *testing.T) {
		s, db, _ := open(t)
		v1 := []fhir.Write{{Resource: res("Patient", "a", 1, `{"v":1}`)}, {Resource: res("Patient", "b", 1, `{"v":1}`)}}
		if err := s.Commit(ctx, "p", v1, nil); err != nil {
			t.Fatal(err)
		}
		// Another client locks b's row, then (once the store's commit has
		// updated a and waits for b) asks for a's: a deadlock. It runs as
		// superuser to raise its own deadlock_timeout, so PostgreSQL aborts
		// the store's transaction, which must run again and succeed.
		other := connect(t, pg.SuperuserURL(db))
		if _, err := other.Exec(ctx, "SET deadlock_timeout = '60s'"); err != nil {
			t.Fatal(err)
		}
		tx, err := other.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback(ctx)
		lock := "SELECT 1 FROM resources WHERE partition = 'p' AND type = 'Patient' AND id = $1 FOR UPDATE"
		if _, err := tx.Exec(ctx, lock, "b"); err != nil {
			t.Fatal(err)
		}
		before := s.Retries()
		done := make(chan error, 1)
		go func() {
			done <- s.Commit(ctx, "p", []fhir.Write{{Resource: res("Patient", "b", 2, `{"v":2}`), ExpectVersion: 1},
				{Resource: res("Patient", "a", 2, `{"v":2}`), ExpectVersion: 1}}, nil)
		}()
		waitForLocks(t, db, 1, nil)
		if _, err := tx.Exec(ctx, lock, "a"); err != nil {
			t.Fatal(err)
		}
		if err := tx.Commit(ctx); err != nil {
			t.Fatal(err)
		}
		if err := <-done; err != nil {
			t.Fatalf("commit after a deadlock: %v", err)
		}
		// At least one: under load the store's rerun can take a's lock
		// before the other client is woken for it, and deadlock again.
		if n := s.Retries() - before; n < 1 {
			t.Fatalf("%d retries, want at least 1", n)
		}
		if got, err := s.ReadMany(ctx, "p", []fhir.Ref{{Type: "Patient", ID: "a"}, {Type: "Patient", ID: "b"}}); err != nil ||
			got["Patient/a"].VersionID != 2 || got["Patient/b"].VersionID != 2 {
			t.Fatalf("read %+v %v", got, err)
		}
	})

	t.Run("two conditional creates of one value: the claim decides", func(t *testing.T) {
		s, db, _ := open(t)
		guard := []fhir.Guard{{Type: "Patient", Param: "identifier", Token: "nhs|9476719931"}}
		create := func(id string) error {
			w := fhir.Write{Resource: res("Patient", id, 1, `{}`), Index: []fhir.IndexEntry{tok("identifier", "nhs|9476719931")}}
			return s.Commit(ctx, "p", []fhir.Write{w}, guard)
		}
		// Another client holds the key of the first create's resource, so
		// that create stops after its guard check, its claim held, until
		// that client gives the key up.
		other := connect(t, pg.SuperuserURL(db))
		tx, err := other.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback(ctx)
		if _, err := tx.Exec(ctx, "INSERT INTO resources (partition, type, id, version, last_updated, body) VALUES ('p', 'Patient', 'first', 1, 0, '{}')"); err != nil {
			t.Fatal(err)
		}
		first, second := make(chan error, 1), make(chan error, 1)
		go func() { first <- create("first") }()
		waitForLocks(t, db, 1, nil)
		// The second create's check would see no value yet; its claim
		// must wait for the first to end (without it, it commits now).
		secondDone := make(chan struct{})
		go func() { second <- create("second"); close(secondDone) }()
		waitForLocks(t, db, 2, secondDone)
		if err := tx.Rollback(ctx); err != nil {
			t.Fatal(err)
		}
		err1, err2 := <-first, <-second
		if err1 != nil || kindOf(err2) != discharge.KindRetry {
			t.Fatalf("first: %v; second: %v, want retry", err1, err2)
		}
		_, total, err := s.Search(ctx, "p", fhir.Query{Type: "Patient", Filters: []fhir.Filter{{Param: "identifier", AnyOf: []string{"nhs|9476719931"}}}})
		if err != nil || total != 1 {
			t.Fatalf("%d Patients hold the value (%v), want 1", total, err)
		}
		var claims int
		if err := other.QueryRow(ctx, "SELECT COUNT(*) FROM guard_claims").Scan(&claims); err != nil || claims != 0 {
			t.Fatalf("%d claims left after the commits (%v)", claims, err)
		}
	})

	t.Run("audit entries commit in groups, and a bad one fails alone", func(t *testing.T) {
		s, db, _ := open(t)
		a := sqlstore.NewAudit(s)
		entry := func(req string) auth.AuditEntry {
			return auth.AuditEntry{Time: time.Now(), ClientID: "c", Org: "RXA", Action: "R", ResourceType: "Patient", ResourceID: "p", Status: 200, RequestID: req}
		}
		// Another client blocks inserts into the log, so the first entry's
		// write waits and the next ones queue behind it (as superuser: the
		// gateway's role may not lock the log, having no UPDATE on it).
		other := connect(t, pg.SuperuserURL(db))
		tx, err := other.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback(ctx)
		if _, err := tx.Exec(ctx, "LOCK TABLE audit_log IN SHARE MODE"); err != nil {
			t.Fatal(err)
		}
		first := make(chan error, 1)
		go func() { first <- a.Record(ctx, entry("r0")) }()
		waitForLocks(t, db, 1, nil)
		const n = 20
		errs := make([]error, n+1)
		var wg sync.WaitGroup
		for i := range n + 1 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				e := entry(fmt.Sprint("r", i+1))
				if i == n {
					e.ClientID = "bad\x00" // PostgreSQL text refuses NUL
				}
				errs[i] = a.Record(ctx, e)
			}()
		}
		time.Sleep(200 * time.Millisecond) // the Records queue behind the first
		if err := tx.Rollback(ctx); err != nil {
			t.Fatal(err)
		}
		wg.Wait()
		if err := <-first; err != nil {
			t.Fatal(err)
		}
		for i, err := range errs[:n] {
			if err != nil {
				t.Errorf("entry %d: %v", i+1, err)
			}
		}
		if kindOf(errs[n]) != discharge.KindInternal {
			t.Errorf("bad entry: %v, want internal", errs[n])
		}
		if pg, err := a.Search(ctx, auth.AuditQuery{Count: 100}); err != nil || pg.Total != n+1 {
			t.Fatalf("%d entries (%v), want %d", pg.Total, err, n+1)
		}
		// The first write and at most AuditWriters-1 more wait for the
		// lock; the rest queue and go together when it is released.
		if g := sqlstore.AuditGroups(a); g > sqlstore.AuditWriters+2 {
			t.Errorf("%d group writes for %d entries", g, n+2)
		}
	})

	t.Run("a killed server is unavailable, then recovers", func(t *testing.T) {
		s, _, _ := open(t)
		if err := s.Commit(ctx, "p", []fhir.Write{{Resource: res("Patient", "k", 1, `{}`)}}, nil); err != nil {
			t.Fatal(err)
		}
		pg.Kill()
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		checks := map[string]func() error{
			"read":   func() error { _, err := s.Read(cctx, "p", "Patient", "k"); return err },
			"commit": func() error { return s.Commit(cctx, "p", []fhir.Write{{Resource: res("Patient", "k2", 1, `{}`)}}, nil) },
			"search": func() error { _, _, err := s.Search(cctx, "p", fhir.Query{Type: "Patient", Count: 1}); return err },
			"ping":   func() error { return s.Ping(cctx) },
			"audit":  func() error { return sqlstore.NewAudit(s).Record(cctx, auth.AuditEntry{Time: time.Now()}) },
		}
		for name, f := range checks {
			if err := f(); kindOf(err) != discharge.KindUnavailable {
				t.Errorf("%s with the server down: %v, want unavailable", name, err)
			}
		}
		pg.Restart()
		// Pooled connections died with the server; the pool replaces them.
		var err error
		for range 5 {
			var r fhir.Resource
			if r, err = s.Read(ctx, "p", "Patient", "k"); err == nil && r.VersionID == 1 {
				break
			}
		}
		if err != nil {
			t.Fatalf("after restart: %v", err)
		}
		if err := s.Commit(ctx, "p", []fhir.Write{{Resource: res("Patient", "k2", 1, `{}`)}}, nil); err != nil {
			t.Fatalf("commit after restart: %v", err)
		}
	})

	t.Run("kill -9 mid-load loses no acknowledged commit", func(t *testing.T) {
		s, _, url := open(t)
		var mu sync.Mutex
		var acked []fhir.Ref
		var wg sync.WaitGroup
		stop := make(chan struct{})
		for w := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				part := fmt.Sprintf("org%d", w%4)
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					default:
					}
					id := fmt.Sprintf("w%d-%d", w, i)
					err := s.Commit(ctx, part, []fhir.Write{{Resource: res("Patient", id, 1, `{"resourceType":"Patient"}`),
						Index: []fhir.IndexEntry{tok("identifier", "x|"+id)}}}, nil)
					if err != nil {
						if kindOf(err) != discharge.KindUnavailable {
							t.Errorf("commit during the crash: %v", err)
						}
						return
					}
					mu.Lock()
					acked = append(acked, fhir.Ref{Type: part, ID: id}) // Type holds the partition here
					mu.Unlock()
				}
			}()
		}
		time.Sleep(1500 * time.Millisecond)
		pg.Kill()
		close(stop)
		wg.Wait()
		pg.Restart()
		s2, err := sqlstore.Open(ctx, url, "")
		if err != nil {
			t.Fatal(err)
		}
		defer s2.Close()
		byPart := map[string][]fhir.Ref{}
		for _, a := range acked {
			byPart[a.Type] = append(byPart[a.Type], fhir.Ref{Type: "Patient", ID: a.ID})
		}
		lost := 0
		for part, refs := range byPart {
			got, err := s2.ReadMany(ctx, part, refs)
			if err != nil {
				t.Fatal(err)
			}
			lost += len(refs) - len(got)
		}
		t.Logf("%d commits acknowledged before the kill, %d lost", len(acked), lost)
		if len(acked) < 100 || lost != 0 {
			t.Fatalf("%d acknowledged, %d lost", len(acked), lost)
		}
	})
}
