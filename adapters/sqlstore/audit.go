package sqlstore

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dischargegateway/gateway/auth"
)

// Audit keeps audit entries in the append-only audit_log table: who, what
// (type and id) and when, never clinical content. It matches the Redis
// audit log's query semantics. Unlike the Redis stream it trims nothing:
// the gateway's role may not delete from the table (see migration 2), so
// retention is a separate job's, under a role granted DELETE.
//
// Record commits in groups: while auditWriters writes are in flight,
// further entries wait and go together in the next one, one multi-row
// INSERT that commits them all, instead of one statement and one
// synchronous commit per audited request. An entry that finds a writer
// free is written at once, so a quiet gateway adds no delay; several
// writers keep the database's own group commit at work (one write's
// INSERT runs while another's WAL flush does). Each Record still returns
// only once its own row is committed.
type Audit struct {
	s *Store

	mu      sync.Mutex
	queue   []*auditWrite // waiting for a writer
	writers int           // writer goroutines running
	groups  atomic.Int64  // group writes so far
}

// auditWrite is one Record's row and where its outcome goes.
type auditWrite struct {
	row  []any
	done chan error // buffered: the writer never waits for a caller
}

// auditInsertHead inserts audit rows (Record's row, 12 columns);
// auditInsertOne inserts one.
const (
	auditInsertHead = "INSERT INTO audit_log (entry_id, at_ms, at_ns, client, org, role, action, interaction, type, id, status, request_id) VALUES "
	auditInsertOne  = auditInsertHead + "($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
)

// auditBatch bounds the rows of one group commit (12 placeholders each,
// well under both engines' limits).
const auditBatch = rowsPerInsert

// auditWriters bounds the group writes in flight at once, each on a
// connection of its own: a few, well under the pool's size.
const auditWriters = 4

// auditWriteTimeout bounds one group's write; each caller waits no longer
// than its own context allows.
const auditWriteTimeout = 30 * time.Second

var _ auth.AuditLog = (*Audit)(nil)

// NewAudit returns the audit log kept in the store's database.
func NewAudit(s *Store) *Audit { return &Audit{s: s} }

// Record implements auth.AuditLog: it returns nil once the entry is
// committed. When ctx ends first it returns KindTimeout, and the entry may
// still be written with its group (as a COMMIT whose answer was lost may
// have committed); an entry is never written twice.
func (a *Audit) Record(ctx context.Context, e auth.AuditEntry) error {
	const op = "sqlstore.Audit"
	// The key sorts by time (fixed-width nanoseconds) within a millisecond
	// (the at_ms index orders the rest), and a random suffix keeps two
	// entries of the same nanosecond apart.
	var salt [6]byte
	_, _ = rand.Read(salt[:])
	ns := e.Time.UnixNano()
	key := fmt.Sprintf("%020d-%s", ns, hex.EncodeToString(salt[:]))
	w := &auditWrite{done: make(chan error, 1), row: []any{key, e.Time.UnixMilli(), ns, e.ClientID, e.Org, string(e.Role),
		e.Action, e.Interaction, e.ResourceType, e.ResourceID, e.Status, e.RequestID}}
	a.mu.Lock()
	a.queue = append(a.queue, w)
	if a.writers < auditWriters {
		a.writers++
		go a.writeQueued()
	}
	a.mu.Unlock()
	select {
	case err := <-w.done:
		return classify(op, err)
	case <-ctx.Done():
		return classify(op, ctx.Err())
	}
}

// writeQueued writes the queue group by group until it is empty. At most
// auditWriters run at once, so groups form while they are busy.
func (a *Audit) writeQueued() {
	for {
		a.mu.Lock()
		n := min(len(a.queue), auditBatch)
		if n == 0 {
			a.writers--
			a.mu.Unlock()
			return
		}
		group := a.queue[:n:n]
		a.queue = a.queue[n:]
		a.mu.Unlock()
		a.writeGroup(group)
	}
}

// writeGroup commits a group's rows in one INSERT. When the database
// refuses that statement (an answer from the server, such as a row it
// will not take, not a lost connection: nothing was written), each row is
// tried alone, so one bad entry fails only its own Record.
func (a *Audit) writeGroup(group []*auditWrite) {
	a.groups.Add(1)
	ctx, cancel := context.WithTimeout(context.Background(), auditWriteTimeout)
	defer cancel()
	insert := func(ws []*auditWrite) error {
		if a.s.eng == engineSQLite {
			// SQLite: one transaction stepping the one-row INSERT,
			// prepared once per connection (stmtcache.go). A statement
			// there is a call into the library, not a round trip, and a
			// multi-row INSERT's text changes with the group's size, so
			// it was parsed on every group: the audit writer was about 9 %
			// of a placement request's CPU in the load generator's
			// profile, most of it the parse.
			return a.s.tryTx(ctx, "", false, func(tx *sql.Tx) error {
				for _, w := range ws {
					if _, err := a.s.exec(ctx, tx, auditInsertOne, w.row...); err != nil {
						return err
					}
				}
				return nil
			})
		}
		rows := make([][]any, len(ws))
		for i, w := range ws {
			rows[i] = w.row
		}
		q := &query{}
		q.sql(auditInsertHead)
		valuesOf(q, rows)
		_, err := a.s.db.ExecContext(ctx, q.b.String(), q.args...)
		return err
	}
	err := insert(group)
	if len(group) > 1 && refused(err) {
		for _, w := range group {
			w.done <- insert([]*auditWrite{w})
		}
		return
	}
	for _, w := range group {
		w.done <- err
	}
}

// Search implements auth.AuditLog: the page of matching entries that
// starts at q.Offset, newest first, with at most q.Count entries (none when
// Count is 0), and how many entries match in all, counted in the same
// snapshot. Agent matches the client id or the organisation; Entity matches
// "Type/id", a URL ending in "/Type/id", or a bare type; From and To bound
// the time, both inclusive, to the millisecond. The total is always exact:
// the table is indexed by time, so nothing is bounded as in the Redis
// stream's scan.
func (a *Audit) Search(ctx context.Context, q auth.AuditQuery) (auth.AuditPage, error) {
	const op = "sqlstore.Audit"
	limit, offset := max(q.Count, 0), max(q.Offset, 0)
	w := &query{}
	w.sql("1 = 1")
	if q.Agent != "" {
		p := w.arg(q.Agent)
		w.sql(" AND (client = ", p, " OR org = ", p, ")")
	}
	if q.Entity != "" {
		if i := strings.LastIndexByte(q.Entity, '/'); i >= 0 {
			// "Type/id" is the entity's last two segments; a longer
			// reference is a URL ending in them.
			head, id := q.Entity[:i], q.Entity[i+1:]
			typ := head[strings.LastIndexByte(head, '/')+1:]
			w.sql(" AND type = ", w.arg(typ), " AND id = ", w.arg(id))
		} else {
			w.sql(" AND type = ", w.arg(q.Entity))
		}
	}
	if !q.From.IsZero() {
		w.sql(" AND at_ms >= ", w.arg(q.From.UnixMilli()))
	}
	if !q.To.IsZero() {
		w.sql(" AND at_ms <= ", w.arg(q.To.UnixMilli()))
	}
	var out []auth.AuditEntry
	var total int
	err := a.s.inTx(ctx, op, "", true, func(tx *sql.Tx) error {
		out = nil
		if err := tx.QueryRowContext(ctx, "SELECT COUNT(*) FROM audit_log WHERE "+w.b.String(), w.args...).Scan(&total); err != nil {
			return err
		}
		if limit == 0 || offset >= total {
			return nil
		}
		page := &query{args: append([]any(nil), w.args...)}
		page.sql(`SELECT entry_id, at_ns, client, org, role, action, interaction, type, id, status, request_id FROM audit_log WHERE `,
			w.b.String(), " ORDER BY at_ms DESC, ", a.s.byteOrder("entry_id"), " DESC LIMIT ", page.arg(min(limit, total-offset)),
			" OFFSET ", page.arg(offset))
		rows, err := tx.QueryContext(ctx, page.b.String(), page.args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var e auth.AuditEntry
			var ns int64
			var role string
			if err := rows.Scan(&e.ID, &ns, &e.ClientID, &e.Org, &role, &e.Action, &e.Interaction, &e.ResourceType,
				&e.ResourceID, &e.Status, &e.RequestID); err != nil {
				return err
			}
			e.Time, e.Role = fromNanos(ns), auth.Role(role)
			out = append(out, e)
		}
		return rows.Err()
	})
	if err != nil {
		return auth.AuditPage{}, err
	}
	return auth.AuditPage{Entries: out, Total: total}, nil
}
