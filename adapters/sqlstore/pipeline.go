package sqlstore

import (
	"context"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/dischargegateway/gateway/discharge"
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
