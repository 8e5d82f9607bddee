package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"
)

// groupFixture is a SQLite store with a table of keys, a first writer that
// holds the write lock until released, and queued writers.
type groupFixture struct {
	t       *testing.T
	s       *Store
	release chan struct{}
	first   chan error
}

// openSQLite is a SQLite store in a temporary directory, closed when the
// test ends.
func openSQLite(t *testing.T) *Store {
	t.Helper()
	s, err := Open(context.Background(), "", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// keysStore is openSQLite with a table of keys for writers to insert.
func keysStore(t *testing.T) *Store {
	t.Helper()
	s := openSQLite(t)
	if _, err := s.db.Exec("CREATE TABLE group_keys (k TEXT PRIMARY KEY)"); err != nil {
		t.Fatal(err)
	}
	return s
}

// storedKeys counts each key in s's table of keys.
func storedKeys(t *testing.T, s *Store) map[string]int {
	t.Helper()
	rs, err := s.db.Query("SELECT k FROM group_keys")
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	out := map[string]int{}
	for rs.Next() {
		var k string
		if err := rs.Scan(&k); err != nil {
			t.Fatal(err)
		}
		out[k]++
	}
	return out
}

func newGroupFixture(t *testing.T) *groupFixture {
	t.Helper()
	ctx := context.Background()
	s := keysStore(t)
	f := &groupFixture{t: t, s: s, release: make(chan struct{}), first: make(chan error, 1)}
	entered := make(chan struct{})
	go func() {
		f.first <- s.inTx(ctx, "test", "", false, func(tx *sql.Tx) error {
			close(entered)
			<-f.release
			_, err := tx.ExecContext(ctx, "INSERT INTO group_keys VALUES ('first')")
			return err
		})
	}()
	<-entered
	return f
}

// insert is a writer's work: its key, then whatever then does.
func insert(ctx context.Context, key string, then func(*sql.Tx) error) func(*sql.Tx) error {
	return func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, "INSERT INTO group_keys VALUES ($1)", key); err != nil {
			return err
		}
		if then != nil {
			return then(tx)
		}
		return nil
	}
}

// queue starts one writer per work, in order, each queued before the next
// starts, and returns their errors once the first writer is released and
// all have ended. A writer that panics reports the panic as its error.
func (f *groupFixture) queue(works []func(*sql.Tx) error) []error {
	f.t.Helper()
	errs := make([]error, len(works))
	var wg sync.WaitGroup
	for i, w := range works {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() {
				if p := recover(); p != nil {
					errs[i] = fmt.Errorf("panicked: %v", p)
				}
			}()
			errs[i] = f.s.inTx(context.Background(), "test", "", false, w)
		}()
		f.waitQueued(i + 1)
	}
	close(f.release)
	if err := <-f.first; err != nil {
		f.t.Fatal(err)
	}
	wg.Wait()
	return errs
}

func (f *groupFixture) waitQueued(n int) {
	f.t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		f.s.writes.mu.Lock()
		q := len(f.s.writes.queue)
		f.s.writes.mu.Unlock()
		if q >= n {
			return
		}
	}
	f.t.Fatalf("%d writers never queued", n)
}

// keys counts each stored key.
func (f *groupFixture) keys() map[string]int {
	f.t.Helper()
	return storedKeys(f.t, f.s)
}

// TestWriteGroupOneCommitForQueuedWriters: the writers that queue while
// one transaction holds SQLite's write lock commit together, as one
// transaction, in arrival order (each sees the writes before it).
func TestWriteGroupOneCommitForQueuedWriters(t *testing.T) {
	f := newGroupFixture(t)
	ctx := context.Background()
	const n = 10
	var works []func(*sql.Tx) error
	seen := make([]int, n)
	for i := range n {
		works = append(works, insert(ctx, fmt.Sprint("k", i), func(tx *sql.Tx) error {
			return tx.QueryRowContext(ctx, "SELECT count(*) FROM group_keys WHERE k LIKE 'k%'").Scan(&seen[i])
		}))
	}
	g0, m0 := f.s.writes.groups.Load(), f.s.writes.members.Load()
	for i, err := range f.queue(works) {
		if err != nil {
			t.Errorf("writer %d: %v", i, err)
		}
	}
	if g, m := f.s.writes.groups.Load()-g0, f.s.writes.members.Load()-m0; g != 2 || m != n+1 {
		t.Errorf("%d transactions committed %d writers, want 2 committing %d (the first alone, then the queued together)", g, m, n+1)
	}
	for i, c := range seen {
		if c != i+1 {
			t.Errorf("writer %d saw %d keys, want %d: the writers before it and its own", i, c, i+1)
		}
	}
	keys := f.keys()
	if len(keys) != n+1 {
		t.Errorf("stored %v", keys)
	}
}

// TestWriteGroupFailingMemberFailsAlone: a member whose work fails after
// writing, or whose caller gives up during its statement, hears its own
// error and leaves nothing; the members around it commit.
func TestWriteGroupFailingMemberFailsAlone(t *testing.T) {
	f := newGroupFixture(t)
	ctx := context.Background()
	refused := errors.New("refused by its check")
	cctx, cancel := context.WithCancel(ctx)
	works := []func(*sql.Tx) error{
		insert(ctx, "a", nil),
		insert(ctx, "b", func(*sql.Tx) error { return refused }),
		insert(ctx, "c", nil),
		insert(cctx, "d", func(tx *sql.Tx) error {
			cancel()
			_, err := tx.ExecContext(cctx, "INSERT INTO group_keys VALUES ('d2')")
			return err
		}),
		insert(ctx, "e", func(tx *sql.Tx) error {
			_, err := tx.ExecContext(ctx, "INSERT INTO group_keys VALUES ('a')") // a's key: constraint
			return err
		}),
		insert(ctx, "f", nil),
	}
	g0 := f.s.writes.groups.Load()
	errs := f.queue(works)
	if !errors.Is(errs[1], refused) {
		t.Errorf("b: %v, want its own error", errs[1])
	}
	if errs[3] == nil || errs[4] == nil {
		t.Errorf("d: %v, e: %v, want their errors", errs[3], errs[4])
	}
	for _, i := range []int{0, 2, 5} {
		if errs[i] != nil {
			t.Errorf("writer %d: %v", i, errs[i])
		}
	}
	want := map[string]int{"first": 1, "a": 1, "c": 1, "f": 1}
	if got := f.keys(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("stored %v, want %v", got, want)
	}
	if g := f.s.writes.groups.Load() - g0; g != 2 {
		t.Errorf("%d transactions, want 2: a failing member does not end its group", g)
	}
}

// TestWriteGroupLostTransactionRunsTheOthersAgain: a member whose work ends
// the shared transaction (here by a ROLLBACK of its own; SQLite does the
// same on an interrupted write or a full disk) fails, and every other
// member, before and after it, is run again alone: each key is stored
// exactly once and none of the culprit's.
func TestWriteGroupLostTransactionRunsTheOthersAgain(t *testing.T) {
	f := newGroupFixture(t)
	ctx := context.Background()
	var works []func(*sql.Tx) error
	for i := range 6 {
		var then func(*sql.Tx) error
		if i == 3 {
			then = func(tx *sql.Tx) error {
				_, err := tx.ExecContext(ctx, "ROLLBACK")
				return err
			}
		}
		works = append(works, insert(ctx, fmt.Sprint("k", i), then))
	}
	errs := f.queue(works)
	if !errors.Is(errs[3], errGroupInDoubt) {
		t.Errorf("the member that ended the transaction: %v, want errGroupInDoubt", errs[3])
	}
	want := map[string]int{"first": 1}
	for i, err := range errs {
		if i == 3 {
			continue
		}
		if err != nil {
			t.Errorf("writer %d: %v", i, err)
		}
		want[fmt.Sprint("k", i)] = 1
	}
	if got := f.keys(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("stored %v, want %v", got, want)
	}
}

// TestWriteGroupPanicIsTheMembersOwn: a member's panic is raised on its own
// goroutine, its writes undone; the group goes on and later writes work.
func TestWriteGroupPanicIsTheMembersOwn(t *testing.T) {
	f := newGroupFixture(t)
	ctx := context.Background()
	errs := f.queue([]func(*sql.Tx) error{
		insert(ctx, "a", nil),
		insert(ctx, "b", func(*sql.Tx) error { panic("boom") }),
		insert(ctx, "c", nil),
	})
	if errs[0] != nil || errs[2] != nil || errs[1] == nil || errs[1].Error() != "panicked: boom" {
		t.Fatalf("errors %v, want only b's panic", errs)
	}
	if err := f.s.inTx(ctx, "test", "", false, insert(ctx, "later", nil)); err != nil {
		t.Fatal(err)
	}
	want := map[string]int{"first": 1, "a": 1, "c": 1, "later": 1}
	if got := f.keys(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("stored %v, want %v", got, want)
	}
}

// TestWriteGroupConcurrentOutcomes: 400 writers at once, each inserting
// its key and then succeeding, failing, breaking a constraint, or ending
// the shared transaction; a writer's key is stored, once, exactly when
// its call returned nil, whatever the groups it fell into.
func TestWriteGroupConcurrentOutcomes(t *testing.T) {
	ctx := context.Background()
	s := keysStore(t)
	if _, err := s.db.ExecContext(ctx, "INSERT INTO group_keys VALUES ('taken')"); err != nil {
		t.Fatal(err)
	}
	const n = 400
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			key := fmt.Sprint("k", i)
			errs[i] = s.inTx(ctx, "test", "", false, insert(ctx, key, func(tx *sql.Tx) error {
				switch i % 8 {
				case 1, 2:
					return errors.New("refused")
				case 3:
					_, err := tx.ExecContext(ctx, "INSERT INTO group_keys VALUES ('taken')")
					return err
				case 4:
					_, err := tx.ExecContext(ctx, "ROLLBACK")
					return err
				}
				return nil
			}))
		}()
	}
	wg.Wait()
	keys := storedKeys(t, s)
	ok := 0
	for i, err := range errs {
		key := fmt.Sprint("k", i)
		switch {
		case err == nil && keys[key] != 1:
			t.Errorf("writer %d returned nil, its key is stored %d times", i, keys[key])
		case err != nil && keys[key] != 0:
			t.Errorf("writer %d failed (%v), its key is stored", i, err)
		case (err == nil) != (i%8 == 0 || i%8 >= 5):
			t.Errorf("writer %d (kind %d): %v", i, i%8, err)
		}
		if err == nil {
			ok++
		}
	}
	if len(keys) != ok+1 {
		t.Errorf("%d keys stored for %d writers that succeeded", len(keys)-1, ok)
	}
	t.Logf("%d writers, %d succeeded, %d transactions", n, ok, s.writes.groups.Load())
}

// Every group's transaction runs on the one connection the write group
// keeps, so SQLite's page cache of that connection is never dropped for
// another connection's commit. A TEMP table lives on one connection only:
// created by the first write, it is still there for a later one although
// every other connection of the pool is held meanwhile (before, the later
// write took one of the pool's and found no such table). Closing the store
// closes the group's connection too.
func TestWriteGroupKeepsItsConnection(t *testing.T) {
	s, err := Open(context.Background(), "", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	write := func(f func(*sql.Tx) error) error { return s.tryTx(ctx, "", false, f) }
	if err := write(func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, "CREATE TEMP TABLE wg_probe (x INTEGER)")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	// Hold every other connection the pool may open, and read on each,
	// so the pool has nothing idle but what the group does not hold.
	var held []*sql.Conn
	for i := 0; i < s.db.Stats().MaxOpenConnections-1; i++ {
		c, err := s.db.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var one int
		if err := c.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
			t.Fatal(err)
		}
		held = append(held, c)
	}
	for i := 0; i < 3; i++ {
		if err := write(func(tx *sql.Tx) error {
			_, err := tx.ExecContext(ctx, "INSERT INTO temp.wg_probe (x) VALUES (?)", i)
			return err
		}); err != nil {
			t.Fatalf("write %d on another connection than the first: %v", i, err)
		}
	}
	for _, c := range held {
		c.Close()
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if n := s.db.Stats().OpenConnections; n != 0 {
		t.Fatalf("%d connections open after Close", n)
	}
}
