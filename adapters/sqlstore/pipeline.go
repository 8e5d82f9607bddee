package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
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
		end := "COMMIT"
		if runErr != nil {
			end = "ROLLBACK"
		}
		// The transaction must end whatever happened, or the pooled
		// connection would carry it into its next use: a connection that
		// cannot end it is closed, and the pool drops it.
		if _, err := pc.Exec(context.WithoutCancel(ctx), end); err != nil {
			_ = pc.Close(context.WithoutCancel(ctx))
			if runErr == nil {
				runErr = err
			}
		}
		return runErr
	})
}

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

// pipelinedApply is Referral.Apply on PostgreSQL as one round trip: the
// whole transaction, BEGIN to COMMIT, goes as one pipelined batch (pgx
// sends it with a single Sync). An accept was about eighteen round trips
// through commitTx, writeOffer and appendEvents, then four with the first
// pipeline (the Location's latest posting read before the batch, the
// batch, its COMMIT); now it is the batch alone, and the service's read of
// the offer before it decides (docs/performance.md, "One round trip").
//
// The statements and their order are Apply's (so its locks are taken in
// the same order: the Tasks' rows in key order, then a hold's
// (location, bed type) lock, then the cases' locks), and every check stays
// in the database. A COMMIT queued behind the statements may only run if
// every check held, so a statement with a check is sent as checked(st):
// it raises an error when it changed fewer rows than it wanted, the
// server skips the rest of the batch (COMMIT included), and a ROLLBACK
// ends the transaction:
//   - a Task's or offer's expected version: the UPDATE's WHERE, at READ
//     COMMITTED after any concurrent writer of the row (SQLSTATE DGRTY,
//     KindRetry);
//   - a new hold: its INSERT runs after the hold lock and inserts only when
//     the active holds are fewer than the vacancies of the Location's
//     latest posting, both read by the INSERT itself (dg_vacant decodes the
//     posting as discharge.Capacity.Vacant does). When it inserts nothing
//     (SQLSTATE DGCHK: no bed bookable, never posted) or the posting cannot
//     be read, recheck is true: Apply decides the change again in an
//     ordinary transaction, which refuses it with the numbers (or takes the
//     hold, if one was released meanwhile);
//   - the events' numbers and states: eventInsert, after caseLocks.
func (r *Referral) pipelinedApply(ctx context.Context, c referral.Change, ps []prepared) (recheck bool, err error) {
	const op = "sqlstore.Referral.Apply"
	ordered, ok := inKeyOrder(ps)
	if !ok {
		return false, &discharge.Error{Kind: discharge.KindRetry, Op: op, Message: "version check failed"}
	}
	stmts := applyStatements(c, ordered)
	conn, err := r.s.db.Conn(ctx)
	if err != nil {
		return false, err
	}
	defer conn.Close()
	err = conn.Raw(func(dc any) error {
		pc := dc.(*stdlib.Conn).Conn()
		b := &pgx.Batch{}
		for _, st := range stmts {
			b.Queue(st.q, st.args...)
		}
		br := pc.SendBatch(ctx, b)
		var runErr error
		for _, st := range stmts {
			if _, err := br.Exec(); err != nil {
				runErr = err
				var pe *pgconn.PgError
				if errors.As(err, &pe) {
					switch {
					case pe.Code == sqlstateRetry:
						runErr = &discharge.Error{Kind: discharge.KindRetry, Op: op, Message: "version check failed"}
					case pe.Code == sqlstateRecheck,
						st.short == shortRecheck && strings.HasPrefix(pe.Code, "22"): // an unreadable posting
						runErr, recheck = nil, true
					}
				}
				break
			}
		}
		if err := br.Close(); runErr == nil && !recheck {
			runErr = err
		}
		if runErr == nil && !recheck {
			return nil // the batch's own COMMIT ran
		}
		// The transaction must end whatever happened, or the pooled
		// connection would carry it into its next use: a connection that
		// cannot end it is closed, and the pool drops it.
		if _, err := pc.Exec(context.WithoutCancel(ctx), "ROLLBACK"); err != nil {
			_ = pc.Close(context.WithoutCancel(ctx))
			if runErr == nil && !recheck {
				runErr = err
			}
		}
		return runErr
	})
	return recheck, err
}

// applyStatements are the batch of pipelinedApply: BEGIN, the partition's
// setting, Apply's statements in its order (each with a check sent as
// checked), COMMIT.
func applyStatements(c referral.Change, ordered []prepared) []stmt {
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
	if len(updates) > 0 {
		// commitTx deletes an updated resource's index rows; Tasks
		// have none, but the statement costs nothing in a pipeline,
		// and the record stays right if they ever do.
		for _, table := range []string{"search_token", "search_range"} {
			for start := 0; start < len(updates); start += rowsPerInsert {
				q := &query{}
				q.sql("DELETE FROM ", table, " WHERE partition = ", q.arg(c.Partition), " AND (")
				for i, p := range updates[start:min(len(updates), start+rowsPerInsert)] {
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
			stmts = append(stmts, holdLock(h), stmt{q: `INSERT INTO holds (id, partition, task_id, location, bed_type, state,
					created_at, expires_at, ended_at) SELECT $1, $2, $3, $4, $5, 'active', $6, $7, 0
					WHERE (SELECT COUNT(*) FROM holds WHERE location = $4 AND bed_type = $5 AND state = 'active') <
					COALESCE((SELECT dg_vacant(posting, $5) FROM capacity_postings WHERE location = $4
						ORDER BY version DESC LIMIT 1), 0)`,
				args: []any{h.ID, c.Partition, w.Offer.ID, h.LocationID, string(h.BedType), toNanos(h.Created), toNanos(h.Expires)},
				want: 1, short: shortRecheck})
		}
		stmts = append(stmts, tail...)
	}
	ids := make([]string, len(c.Events))
	for i, e := range c.Events {
		ids[i] = e.CaseID
	}
	stmts = append(stmts, caseLocks(c.Partition, ids)...)
	for _, e := range c.Events {
		q, args := eventInsert(c.Partition, e)
		stmts = append(stmts, stmt{q: q, args: args}, caseStateOutbox(c.Partition, e.CaseID, toNanos(e.At)))
	}
	for i, st := range stmts {
		stmts[i] = checked(st)
	}
	return append(stmts, stmt{q: "COMMIT"})
}

// The SQLSTATEs dg_want raises (migration 19): a version check failed
// (KindRetry), or a hold's condition did not hold (decide again).
const (
	sqlstateRetry   = "DGRTY"
	sqlstateRecheck = "DGCHK"
)

// checked is st, when it has a check (want > 0), as a statement that
// raises an error instead of changing fewer rows than it wants: st (an
// INSERT, UPDATE or DELETE) becomes a data-modifying WITH whose rows
// dg_want counts. The statement's text stays constant, so pgx reuses its
// prepared plan.
func checked(st stmt) stmt {
	if st.want == 0 {
		return st
	}
	code := sqlstateRetry
	if st.short == shortRecheck {
		code = sqlstateRecheck
	}
	return stmt{q: "WITH s AS (" + st.q + " RETURNING 1) SELECT dg_want(COUNT(*), " + strconv.FormatInt(st.want, 10) +
		", '" + code + "') FROM s", args: st.args, want: st.want, short: st.short}
}

// acceptFunctions are migration 19's on PostgreSQL (SQLite runs Apply as
// an ordinary transaction): the two functions the one-round-trip accept
// needs.
//
// dg_want(got, want, code) raises SQLSTATE code when got < want, and
// returns got otherwise: checked statements call it.
//
// Both are PL/pgSQL, whose statements' plans each session caches: a
// LANGUAGE sql function that is not inlined plans its body again at
// every call (PostgreSQL 15), which a profile of the accept showed as the
// hold INSERT's planning time (TestAcceptStatementProfile).
//
// dg_vacant(posting, bed_type) is discharge.Capacity.Vacant of a posting in
// its storage format (adapters/postingjson): the acceptingAdmissions of
// the first bed of that type, 0 when closed to admissions, NULL when the
// type is not posted (the caller's COALESCE makes it 0).
// TestDgVacantIsVacant holds it to the Go function.
var acceptFunctions = []string{
	`CREATE OR REPLACE FUNCTION dg_want(got bigint, want bigint, code text) RETURNS bigint
	LANGUAGE plpgsql AS $$
	BEGIN
		IF got < want THEN
			RAISE EXCEPTION 'checked statement changed % rows of %', got, want USING ERRCODE = code;
		END IF;
		RETURN got;
	END $$`,
	`CREATE OR REPLACE FUNCTION dg_vacant(posting text, bed_type text) RETURNS bigint
	LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
	BEGIN
		RETURN (SELECT CASE WHEN COALESCE((b->>'closedToAdmissions')::boolean, false) THEN 0
				ELSE COALESCE((b->>'acceptingAdmissions')::bigint, 0) END
			FROM jsonb_array_elements(CASE WHEN jsonb_typeof(posting::jsonb->'beds') = 'array'
				THEN posting::jsonb->'beds' ELSE '[]'::jsonb END) WITH ORDINALITY AS e(b, i)
			WHERE b->>'type' = bed_type
			ORDER BY i LIMIT 1);
	END $$`,
}

// migrate19 is migration 19: on PostgreSQL acceptFunctions, and on both
// engines the worklist's sort indexes (worklistSortIndexes).
func migrate19(eng engine) func(ctx context.Context, tx *sql.Tx) error {
	return func(ctx context.Context, tx *sql.Tx) error {
		stmts := worklistSortIndexes(eng)
		if eng == enginePostgres {
			stmts = append(acceptFunctions, stmts...)
		}
		for _, q := range stmts {
			if _, err := tx.ExecContext(ctx, q); err != nil {
				return err
			}
		}
		return nil
	}
}
