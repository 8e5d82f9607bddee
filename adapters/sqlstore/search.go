package sqlstore

import (
	"context"
	"database/sql"

	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/fhir"
)

// Search returns one page of matching resources, ordered by id (byte
// order, as the Redis store sorts), and the total number of matches. The
// count and the page are read in one snapshot. An offset past the end gives
// an empty page and the true total.
func (s *Store) Search(ctx context.Context, partition string, q fhir.Query) ([]fhir.Resource, int, error) {
	const op = "sqlstore.Search"
	where := &query{}
	if err := s.searchWhere(where, partition, q); err != nil {
		return nil, 0, err
	}
	offset, count := max(q.Offset, 0), max(q.Count, 0)
	var out []fhir.Resource
	var total int
	err := s.inTx(ctx, op, partition, true, func(tx *sql.Tx) error {
		out = nil
		if err := tx.QueryRowContext(ctx, "SELECT COUNT(*) FROM resources r WHERE "+where.b.String(), where.args...).Scan(&total); err != nil {
			return err
		}
		if count == 0 || offset >= total {
			return nil
		}
		// Both bounds are now at most total, so neither engine sees a
		// LIMIT or OFFSET it might overflow on.
		page := &query{args: append([]any(nil), where.args...)}
		page.sql("SELECT r.id, r.version, r.last_updated, r.body FROM resources r WHERE ", where.b.String(),
			" ORDER BY ", s.byteOrder("r.id"), " LIMIT ", page.arg(min(count, total-offset)), " OFFSET ", page.arg(offset))
		rows, err := tx.QueryContext(ctx, page.b.String(), page.args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			r := fhir.Resource{Type: q.Type}
			var lu int64
			var body string
			if err := rows.Scan(&r.ID, &r.VersionID, &lu, &body); err != nil {
				return err
			}
			r.LastUpdated, r.JSON = fromNanos(lu), []byte(body)
			out = append(out, r)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, 0, err
	}
	return out, total, nil
}

// byteOrder is an ORDER BY term comparing text byte by byte: PostgreSQL
// otherwise sorts by the database's collation; SQLite's default (BINARY)
// already is.
func (s *Store) byteOrder(col string) string {
	if s.eng == enginePostgres {
		return col + ` COLLATE "C"`
	}
	return col
}

// searchWhere writes the conditions of a query on resources r: each filter
// is one conjunct. A token filter matches a resource with any of AnyOf
// among its entries for Param (none, with AnyOf empty); a range filter
// compares the parameter's hull with each bound given (a filter with no
// bound matches everything); _id matches ids in AnyOf.
func (s *Store) searchWhere(q *query, partition string, fq fhir.Query) error {
	q.sql("r.partition = ", q.arg(partition), " AND r.type = ", q.arg(fq.Type))
	for _, f := range fq.Filters {
		switch {
		case f.Param == "_id":
			q.sql(" AND ")
			in(q, "r.id", f.AnyOf)
		case f.Range != nil:
			if f.Range.LowAtMost == nil && f.Range.HighAtLeast == nil {
				continue
			}
			q.sql(" AND EXISTS (SELECT 1 FROM search_range g WHERE g.partition = r.partition AND g.type = r.type AND g.id = r.id AND g.param = ", q.arg(f.Param))
			if f.Range.LowAtMost != nil {
				q.sql(" AND g.low <= ", q.arg(clampScore(*f.Range.LowAtMost)))
			}
			if f.Range.HighAtLeast != nil {
				q.sql(" AND g.high >= ", q.arg(clampScore(*f.Range.HighAtLeast)))
			}
			q.sql(")")
		default:
			q.sql(" AND EXISTS (SELECT 1 FROM search_token t WHERE t.partition = r.partition AND t.type = r.type AND t.id = r.id AND t.param = ", q.arg(f.Param), " AND ")
			in(q, "t.token", f.AnyOf)
			q.sql(")")
		}
	}
	if len(q.args) > maxParams {
		return discharge.E(discharge.KindTooLarge, "", "The search has too many values.")
	}
	return nil
}

// in writes "col IN (...)", or a condition nothing meets for no values.
func in(q *query, col string, vals []string) {
	if len(vals) == 0 {
		q.sql("1 = 0")
		return
	}
	q.sql(col, " IN (")
	for i, v := range vals {
		if i > 0 {
			q.sql(", ")
		}
		q.sql(q.arg(v))
	}
	q.sql(")")
}
