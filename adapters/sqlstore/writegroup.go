package sqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
)

// Group commit of SQLite's read-write transactions.
//
// SQLite has one writer, and each commit in WAL mode with synchronous=FULL
// ends in an fsync: on this machine's disk a commit waited 1 to 7 ms for
// it, so writers queued behind each other's flushes (intake used about one
// core of two at 1,100 creates/s). Concurrent read-write transactions of
// one process now share a transaction and its one flush: the first writer
// to arrive leads a group, takes every writer that queued meanwhile, runs
// each one's work inside a SAVEPOINT of its own, and commits once.
//
// What a member is promised is what a transaction alone promises:
//   - it is acknowledged only after the transaction holding it committed;
//   - its work is all or nothing: a member whose work fails is rolled back
//     to its savepoint and hears its own error, and the members before and
//     after it go on (they never saw its writes);
//   - the members run one after another, in arrival order, each seeing the
//     writes of those before it, as if each had committed alone in turn.
//
// Anything that leaves the group's outcome in doubt makes every member of
// it, but the one that caused it, run again alone (a group of one, no
// savepoints, exactly the old path), so no member is acknowledged on the
// strength of writes that were not kept, nor refused because of them:
//   - a transaction that is no longer there: SQLite rolls back the whole
//     transaction on some errors (an interrupted write, a full disk, an
//     I/O error), after which the member's ROLLBACK TO or RELEASE fails
//     for want of its savepoint;
//   - a failed COMMIT.
//
// A member's work runs on the leader's goroutine. Its statements use its
// own context (the work closes over it), so a member whose caller gives up
// has its statement interrupted; the group's own statements (BEGIN,
// SAVEPOINT, RELEASE, COMMIT) use a context without the leader's
// cancellation, so one caller giving up never ends the others'
// transaction. A panic in a member's work is carried back and re-raised on
// the member's own goroutine, after its savepoint was rolled back.
//
// Every group's transaction runs on one connection, taken from the pool by
// the first group and kept (only the leader uses it, and there is one
// leader at a time). SQLite keeps a page cache per connection and drops it
// whole when a transaction begins after another connection's commit; with
// the groups' transactions spread over the pool, every group began after
// another connection's commit, and read the pages it wrote back from the
// WAL and the database file (about fifteen reads a capacity batch, in an
// strace of the load generator). On its own connection the writer's cache
// stays warm: no other connection writes.
//
// Members queue holding no connection (the write gate's reason: waiting
// writers never starve reads of the pool), and one whose context ends
// while it still queues leaves the queue having written nothing. There is
// no background goroutine: the leader, once its group is answered, hands
// the lead to the oldest member still queued.
type writeGroup struct {
	db  *sql.DB
	max int

	// conn is the groups' connection: nil until the first group, and
	// again after it failed (begin takes another). Only the leader uses
	// it; close closes it.
	conn   *sql.Conn
	closed bool // under mu: close was called

	mu      sync.Mutex
	leading bool
	queue   []*groupTx

	// groups and members count the transactions committed and the
	// members they held, for tests and benchmarks.
	groups, members atomic.Int64
}

// maxGroupTx bounds the members of one group: enough for every request a
// gateway has in flight, few enough that a group's transaction stays
// short.
const maxGroupTx = 128

// groupTx is one member: a read-write transaction's work, waiting for, or
// in, a group.
type groupTx struct {
	ctx   context.Context
	f     func(*sql.Tx) error
	solo  bool // run alone: its group did not commit
	taken bool // a leader took it (under writeGroup.mu)
	res   chan groupTxResult
}

// groupTxResult is what a member hears: to lead, to run again alone, or
// its outcome.
type groupTxResult struct {
	lead, rerun bool
	err         error
	panicked    any
}

// errGroupInDoubt is a member's outcome when its group's transaction ended
// without a commit it can trust; the member runs again alone.
var errGroupInDoubt = errors.New("sqlstore: the write group's transaction was lost")

func newWriteGroup(db *sql.DB) *writeGroup { return &writeGroup{db: db, max: maxGroupTx} }

// run runs f in a read-write transaction shared with the writers queued
// beside it, and returns once that transaction committed (nil) or f's
// work was undone (its error).
func (g *writeGroup) run(ctx context.Context, f func(*sql.Tx) error) error {
	m := &groupTx{ctx: ctx, f: f, res: make(chan groupTxResult, 1)}
	for {
		r, err := g.wait(m)
		if err != nil {
			return err
		}
		if r.lead {
			g.lead(m)
			r = <-m.res
		}
		if r.panicked != nil {
			panic(r.panicked)
		}
		if !r.rerun {
			return r.err
		}
		m = &groupTx{ctx: ctx, f: f, solo: true, res: make(chan groupTxResult, 1)}
	}
}

// wait queues m and returns what it is told: to lead (the group had no
// leader), or its result. A member whose context ends while it is still
// queued leaves with the context's error.
func (g *writeGroup) wait(m *groupTx) (groupTxResult, error) {
	g.mu.Lock()
	g.queue = append(g.queue, m)
	if !g.leading {
		g.leading = true
		m.taken = true
		g.remove(m)
		g.mu.Unlock()
		return groupTxResult{lead: true}, nil
	}
	g.mu.Unlock()
	select {
	case r := <-m.res:
		return r, nil
	case <-m.ctx.Done():
		g.mu.Lock()
		if !m.taken {
			g.remove(m)
			g.mu.Unlock()
			return groupTxResult{}, m.ctx.Err()
		}
		g.mu.Unlock()
		// Taken already: its outcome follows.
		return <-m.res, nil
	}
}

// remove takes m out of the queue (under g.mu).
func (g *writeGroup) remove(m *groupTx) {
	for i, q := range g.queue {
		if q == m {
			g.queue = append(g.queue[:i], g.queue[i+1:]...)
			return
		}
	}
}

// next takes from the queue the members a group that holds have may
// still take, in arrival order: none when its first runs alone (solo),
// none past max, and none from a solo member on, which leads a group of
// its own. The caller does not hold g.mu; next takes it.
func (g *writeGroup) next(have int, first *groupTx) []*groupTx {
	if first.solo || have >= g.max {
		return nil
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	var out []*groupTx
	n := 0
	for _, q := range g.queue {
		if have+len(out) >= g.max || q.solo {
			break
		}
		q.taken = true
		out = append(out, q)
		n++
	}
	g.queue = g.queue[n:]
	return out
}

// begin begins a group's transaction on the groups' connection, taking
// one from the pool when there is none. A connection that failed (the
// driver called it bad, or it was closed) is closed and another taken,
// once: a failure on a fresh connection is the caller's.
func (g *writeGroup) begin(ctx context.Context) (*sql.Tx, error) {
	for fresh := false; ; fresh = true {
		if g.conn == nil {
			g.mu.Lock()
			closed := g.closed
			g.mu.Unlock()
			if closed {
				return nil, sql.ErrConnDone
			}
			c, err := g.db.Conn(ctx)
			if err != nil {
				return nil, err
			}
			g.conn, fresh = c, true
		}
		tx, err := g.conn.BeginTx(ctx, nil)
		if err == nil || !(errors.Is(err, driver.ErrBadConn) || errors.Is(err, sql.ErrConnDone)) {
			return tx, err
		}
		g.dropConn()
		if fresh {
			return nil, err
		}
	}
}

// close closes the groups' connection, now or, when a group is running,
// once its leader lets go (Store.Close: the pool's Close would leave a
// held connection, and with it the SQLite file's -wal and -shm, open).
func (g *writeGroup) close() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.closed = true
	if !g.leading {
		g.dropConn()
	}
}

// dropConn closes the groups' connection, if any (by the leader, or under
// mu with no leader).
func (g *writeGroup) dropConn() {
	if g.conn != nil {
		g.conn.Close()
		g.conn = nil
	}
}

// lead runs groups, starting with first's, until the queue is empty or
// its head is another's to lead, answering every member it took.
func (g *writeGroup) lead(first *groupTx) {
	members := g.runGroup(first)
	for _, r := range members {
		r.m.res <- r.res
	}
	g.mu.Lock()
	if len(g.queue) == 0 {
		g.leading = false
		if g.closed {
			g.dropConn()
		}
		g.mu.Unlock()
		return
	}
	head := g.queue[0]
	head.taken = true
	g.queue = g.queue[1:]
	g.mu.Unlock()
	head.res <- groupTxResult{lead: true}
}

// answered is a member with its outcome.
type answered struct {
	m   *groupTx
	res groupTxResult
}

// runGroup runs one group's transaction, first first, and returns each
// member's outcome.
func (g *writeGroup) runGroup(first *groupTx) (out []answered) {
	ctx := context.WithoutCancel(first.ctx)
	took := []*groupTx{first}
	doubt := func(culprit *groupTx, res groupTxResult) []answered {
		out = out[:0]
		for _, m := range took {
			if m == culprit {
				out = append(out, answered{m, res})
			} else {
				out = append(out, answered{m, groupTxResult{rerun: true}})
			}
		}
		return out
	}
	tx, err := g.begin(ctx)
	if err != nil {
		// Nothing ran: each hears the error (a busy database is retried
		// by the caller's attempts).
		for _, m := range took {
			out = append(out, answered{m, groupTxResult{err: err}})
		}
		return out
	}
	defer tx.Rollback()
	// A member alone at the start, or one running alone, runs as a
	// transaction of its own: no savepoint, nothing joins it.
	more := g.next(1, first)
	if len(more) == 0 {
		res := g.call(first, tx)
		if res.err == nil && res.panicked == nil {
			if err := tx.Commit(); err != nil {
				res.err = err
			} else {
				g.groups.Add(1)
				g.members.Add(1)
			}
		}
		return []answered{{first, res}}
	}
	took = append(took, more...)
	results := make([]groupTxResult, 0, len(took))
	ok := 0
	for i := 0; i < len(took); i++ {
		m := took[i]
		sp := "g" + strconv.Itoa(i)
		if _, err := tx.ExecContext(ctx, "SAVEPOINT "+sp); err != nil {
			return doubt(nil, groupTxResult{})
		}
		res := g.call(m, tx)
		if res.err == nil && res.panicked == nil {
			if _, err := tx.ExecContext(ctx, "RELEASE "+sp); err != nil {
				// The transaction is gone: m's work may have ended it.
				return doubt(m, groupTxResult{err: fmt.Errorf("%w: %v", errGroupInDoubt, err)})
			}
			ok++
		} else {
			_, err1 := tx.ExecContext(ctx, "ROLLBACK TO "+sp)
			var err2 error
			if err1 == nil {
				_, err2 = tx.ExecContext(ctx, "RELEASE "+sp)
			}
			if errors.Join(err1, err2) != nil {
				// The transaction is gone with m's work: m hears its
				// own outcome, the others run again.
				return doubt(m, res)
			}
		}
		results = append(results, res)
		if i == len(took)-1 {
			took = append(took, g.next(len(took), first)...)
		}
	}
	if ok > 0 {
		if err := tx.Commit(); err != nil {
			return doubt(nil, groupTxResult{})
		}
		g.groups.Add(1)
		g.members.Add(int64(ok))
	}
	for i, m := range took {
		out = append(out, answered{m, results[i]})
	}
	return out
}

// call runs m's work in tx, catching a panic, which is re-raised on m's
// goroutine.
func (g *writeGroup) call(m *groupTx, tx *sql.Tx) (res groupTxResult) {
	defer func() {
		if p := recover(); p != nil {
			res = groupTxResult{panicked: p}
		}
	}()
	return groupTxResult{err: m.f(tx)}
}
