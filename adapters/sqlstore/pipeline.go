package sqlstore

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/referral"
)

// allCreates reports whether every write creates its resource.
func allCreates(ps []prepared) bool {
	for _, p := range ps {
		if p.w.ExpectVersion != 0 {
			return false
		}
	}
	return true
}

// pipelinedCreates is Commit for the common case of intake on PostgreSQL:
// creates only, no guard, outside the directory (no generation to bump).
// It writes the same rows as commitTx, with the same statements, but sends
// BEGIN, the partition's setting and every INSERT as one pipelined batch,
// then COMMIT, or ROLLBACK when a create found its key taken: two round
// trips instead of one per statement. On this 2-core machine the
// round trips, not the WAL flush, bounded intake (docs/performance.md).
//
// The checks are commitTx's: a create holds when no row has its key (the
// resources INSERT's ON CONFLICT DO NOTHING inserts fewer rows otherwise,
// which is KindRetry), and the writes go in (type, id) order so that two
// commits of the same resources wait rather than deadlock.
func (s *Store) pipelinedCreates(ctx context.Context, partition string, ps []prepared) error {
	const op = "sqlstore.Commit"
	ordered, ok := inKeyOrder(ps)
	if !ok {
		return &discharge.Error{Kind: discharge.KindRetry, Op: op, Message: "version check failed"}
	}
	resourceRows := make([][]any, 0, len(ordered))
	for _, p := range ordered {
		r := p.w.Resource
		resourceRows = append(resourceRows, []any{partition, r.Type, r.ID, r.VersionID, toNanos(r.LastUpdated), string(r.JSON)})
	}
	b := &pgx.Batch{}
	b.Queue("BEGIN ISOLATION LEVEL READ COMMITTED")
	b.Queue("SELECT set_config('app.partition', $1, true)", partition)
	resourceStmts := queueInserts(b, "INSERT INTO resources (partition, type, id, version, last_updated, body) VALUES ", " ON CONFLICT DO NOTHING", resourceRows)
	for _, ins := range followingRows(partition, ordered) {
		queueInserts(b, ins.head, "", ins.rows)
	}

	conn, err := s.db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	return conn.Raw(func(dc any) error {
		pc := dc.(*stdlib.Conn).Conn()
		br := pc.SendBatch(ctx, b)
		var inserted int64
		var runErr error
		for i := 0; i < b.Len(); i++ {
			tag, err := br.Exec()
			if err != nil {
				runErr = err
				break
			}
			if i >= 2 && i < 2+resourceStmts {
				inserted += tag.RowsAffected()
			}
		}
		if err := br.Close(); runErr == nil {
			runErr = err
		}
		if runErr == nil && inserted != int64(len(resourceRows)) {
			runErr = &discharge.Error{Kind: discharge.KindRetry, Op: op, Message: "version check failed"}
		}
		return endPipelined(ctx, pc, runErr)
	})
}

// afterPostingRead, when set (by tests only), runs between the pipelined
// accept's read of the postings and its batch: where a posting landing
// meanwhile makes the hold's INSERT find another latest posting.
var afterPostingRead func()

// queueInserts queues multi-row INSERTs of rows (at most rowsPerInsert a
// statement) and returns how many statements it queued.
func queueInserts(b *pgx.Batch, head, tail string, rows [][]any) int {
	n := 0
	for start := 0; start < len(rows); start += rowsPerInsert {
		chunk := rows[start:min(len(rows), start+rowsPerInsert)]
		q := &query{}
		q.sql(head)
		valuesOf(q, chunk)
		q.sql(tail)
		b.Queue(q.b.String(), q.args...)
		n++
	}
	return n
}

// insertStmts are multi-row INSERTs of rows (at most rowsPerInsert a
// statement); with check, each must insert all its rows (KindRetry
// otherwise: with ON CONFLICT DO NOTHING, a key was taken).
func insertStmts(head, tail string, rows [][]any, check bool) []stmt {
	var out []stmt
	for start := 0; start < len(rows); start += rowsPerInsert {
		chunk := rows[start:min(len(rows), start+rowsPerInsert)]
		q := &query{}
		q.sql(head)
		valuesOf(q, chunk)
		q.sql(tail)
		st := stmt{q: q.b.String(), args: q.args}
		if check {
			st.want = int64(len(chunk))
		}
		out = append(out, st)
	}
	return out
}

// pipelinedApply is Referral.Apply on PostgreSQL as one pipelined batch,
// BEGIN to the last event, then COMMIT or ROLLBACK: an accept was about
// eighteen round trips through commitTx, writeOffer and appendEvents (on
// this 2-core machine the round trips, not the WAL flush, bounded it:
// docs/performance.md), and is now three on its connection (the
// Location's latest posting, the batch, its end).
//
// The statements and their order are Apply's (so its locks are taken in
// the same order: the Tasks' rows in key order, then a hold's
// (location, bed type) lock, then the cases' locks), and every check stays
// in the database:
//   - a Task's or offer's expected version: the UPDATE's WHERE, at READ
//     COMMITTED after any concurrent writer of the row (KindRetry);
//   - a new hold: its INSERT runs under the hold lock, after the lock, and
//     inserts only when the Location's latest posting is still the one
//     read before the batch and its active holds are fewer than that
//     posting's vacancies, both read by the INSERT itself. When either
//     fails (no bed bookable, or a posting landed meanwhile) the batch
//     rolls back and recheck is true: Apply then decides the change again
//     in an ordinary transaction, which refuses it with the numbers or
//     takes the hold against the new posting;
//   - the events' numbers and states: eventInsert, after caseLocks.
func (r *Referral) pipelinedApply(ctx context.Context, c referral.Change, ps []prepared) (recheck bool, err error) {
	const op = "sqlstore.Referral.Apply"
	ordered, ok := inKeyOrder(ps)
	if !ok {
		return false, &discharge.Error{Kind: discharge.KindRetry, Op: op, Message: "version check failed"}
	}
	conn, err := r.s.db.Conn(ctx)
	if err != nil {
		return false, err
	}
	defer conn.Close()
	err = conn.Raw(func(dc any) error {
		pc := dc.(*stdlib.Conn).Conn()
		// The vacancies each new hold is counted against, read before
		// the transaction; the hold's INSERT checks the posting is still
		// the latest.
		type posted struct {
			version int64
			vacant  int
		}
		postings := map[string]posted{}
		for _, w := range c.Offers {
			h := w.Offer.Hold
			if h == nil || !w.NewHold {
				continue
			}
			var p posted
			var body string
			err := pc.QueryRow(ctx, `SELECT version, posting FROM capacity_postings WHERE location = $1
				ORDER BY version DESC LIMIT 1`, h.LocationID).Scan(&p.version, &body)
			if errors.Is(err, pgx.ErrNoRows) {
				recheck = true // never posted: the transaction refuses it
				return nil
			}
			if err != nil {
				return err
			}
			cp := decodePosting(body, p.version)
			if cp.LocationID == "" {
				recheck = true // the transaction reports it
				return nil
			}
			p.vacant = cp.Vacant(h.BedType)
			if p.vacant < 1 {
				recheck = true
				return nil
			}
			postings[h.LocationID+"|"+string(h.BedType)] = p
		}
		if afterPostingRead != nil {
			afterPostingRead()
		}

		stmts := []stmt{{q: "BEGIN ISOLATION LEVEL READ COMMITTED"},
			{q: "SELECT set_config('app.partition', $1, true)", args: []any{c.Partition}}}
		var creates, updates []prepared
		for _, p := range ordered {
			if p.w.ExpectVersion == 0 {
				creates = append(creates, p)
			} else {
				updates = append(updates, p)
			}
		}
		for _, p := range updates {
			res := p.w.Resource
			stmts = append(stmts, stmt{q: `UPDATE resources SET version = $1, last_updated = $2, body = $3
			 WHERE partition = $4 AND type = $5 AND id = $6 AND version = $7`,
				args: []any{res.VersionID, toNanos(res.LastUpdated), string(res.JSON), c.Partition, res.Type, res.ID, p.w.ExpectVersion},
				want: 1})
		}
		// commitTx deletes an updated resource's index rows; an updated
		// Task has none to delete: Tasks are written only by
		// Referral.Apply, from writes without index entries, and Task is
		// not one of the FHIR record's types (records.Types), so
		// search_token and search_range never hold a Task's rows. The
		// deletes cost the server about 130 µs an accept
		// (bench/referral-accept.md); another type's rows are still
		// deleted.
		var indexed []prepared
		for _, p := range updates {
			if p.w.Resource.Type != "Task" {
				indexed = append(indexed, p)
			}
		}
		if len(indexed) > 0 {
			for _, table := range []string{"search_token", "search_range"} {
				for start := 0; start < len(indexed); start += rowsPerInsert {
					q := &query{}
					q.sql("DELETE FROM ", table, " WHERE partition = ", q.arg(c.Partition), " AND (")
					for i, p := range indexed[start:min(len(indexed), start+rowsPerInsert)] {
						if i > 0 {
							q.sql(" OR ")
						}
						q.sql("(type = ", q.arg(p.w.Resource.Type), " AND id = ", q.arg(p.w.Resource.ID), ")")
					}
					q.sql(")")
					stmts = append(stmts, stmt{q: q.b.String(), args: q.args})
				}
			}
		}
		resourceRows := make([][]any, 0, len(creates))
		for _, p := range creates {
			res := p.w.Resource
			resourceRows = append(resourceRows, []any{c.Partition, res.Type, res.ID, res.VersionID, toNanos(res.LastUpdated), string(res.JSON)})
		}
		stmts = append(stmts, insertStmts("INSERT INTO resources (partition, type, id, version, last_updated, body) VALUES ",
			" ON CONFLICT DO NOTHING", resourceRows, true)...)
		for _, ins := range followingRows(c.Partition, ordered) {
			stmts = append(stmts, insertStmts(ins.head, "", ins.rows, false)...)
		}
		at := toNanos(c.At)
		for _, w := range c.Offers {
			head, tail := offerStatements(c.Partition, w, at)
			stmts = append(stmts, head...)
			if h := w.Offer.Hold; h != nil && w.NewHold {
				p := postings[h.LocationID+"|"+string(h.BedType)]
				stmts = append(stmts, holdLock(h), holdInsert(c.Partition, w.Offer.ID, h, p.version, p.vacant))
			}
			stmts = append(stmts, tail...)
		}
		ids := make([]string, len(c.Events))
		for i, e := range c.Events {
			ids[i] = e.CaseID
		}
		stmts = append(stmts, caseLocks(c.Partition, ids)...)
		for _, e := range c.Events {
			stmts = append(stmts, eventWithOutbox(c.Partition, e))
		}

		short, runErr := sendStmts(ctx, pc, stmts)
		if runErr == nil && short != nil {
			if short.short == shortRecheck {
				recheck = true
			} else {
				runErr = &discharge.Error{Kind: discharge.KindRetry, Op: op, Message: "version check failed"}
			}
		}
		end := "COMMIT"
		if runErr != nil || recheck {
			end = "ROLLBACK"
		}
		// As in pipelinedCreates: the transaction must end whatever
		// happened, or the pooled connection would carry it on.
		if _, err := pc.Exec(context.WithoutCancel(ctx), end); err != nil {
			_ = pc.Close(context.WithoutCancel(ctx))
			if runErr == nil {
				runErr = err
			}
		}
		return runErr
	})
	return recheck, err
}

// sendStmts sends stmts as one pipelined batch on pc and reads their
// results in order, up to the first that fails (its error) or that changes
// fewer rows than it wants (short: that statement). The transaction the
// statements began is left for the caller to end.
func sendStmts(ctx context.Context, pc *pgx.Conn, stmts []stmt) (short *stmt, err error) {
	b := &pgx.Batch{}
	for _, st := range stmts {
		b.Queue(st.q, st.args...)
	}
	br := pc.SendBatch(ctx, b)
	for i, st := range stmts {
		tag, execErr := br.Exec()
		if execErr != nil {
			err = execErr
			break
		}
		if st.want > 0 && tag.RowsAffected() < st.want {
			short = &stmts[i]
			break
		}
	}
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	return short, err
}

// endPipelined ends a pipelined transaction: COMMIT when runErr is nil,
// else ROLLBACK. It must end whatever happened, or the pooled connection
// would carry the transaction into its next use: a connection that cannot
// end it is closed, and the pool drops it. It returns runErr, else the
// error of ending.
func endPipelined(ctx context.Context, pc *pgx.Conn, runErr error) error {
	end := "COMMIT"
	if runErr != nil {
		end = "ROLLBACK"
	}
	if _, err := pc.Exec(context.WithoutCancel(ctx), end); err != nil {
		_ = pc.Close(context.WithoutCancel(ctx))
		if runErr == nil {
			runErr = err
		}
	}
	return runErr
}
