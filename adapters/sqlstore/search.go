package sqlstore

import (
	"context"
	"database/sql"

	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/fhir"
)

// Search returns one page of matching resources, ordered by id (byte
// order, as the Redis store sorts), and the total number of matches, both
// from one statement (one snapshot). An offset past the end gives an empty
// page and the true total.
func (s *Store) Search(ctx context.Context, partition string, q fhir.Query) ([]fhir.Resource, int, error) {
	const op = "sqlstore.Search"
	w := &query{}
	if err := s.searchWhere(w, partition, q); err != nil {
		return nil, 0, err
	}
	where := w.b.String()
	var page string
	noTotal := q.NoTotal && q.Count > 0
	if noTotal {
		// The page alone: its conditions are evaluated once, not once
		// more for a COUNT(*) of every match.
		page = "SELECT 0 AS total, r.id, r.version, r.last_updated, r.body FROM resources r WHERE " + where +
			" ORDER BY " + s.byteOrder("r.id") + " LIMIT " + w.arg(q.Count) + " OFFSET " + w.arg(max(q.Offset, 0))
	} else {
		page = pageOf(w, "SELECT r.id, r.version, r.last_updated, r.body FROM resources r WHERE "+where,
			"SELECT COUNT(*) AS total FROM resources r WHERE "+where, s.byteOrder("r.id"), s.byteOrder("p.id"), q.Offset, q.Count)
	}
	var out []fhir.Resource
	var total int
	err := s.readRows(ctx, op, partition, page, w.args, func(rs rows) error {
		out, total = nil, 0
		for rs.Next() {
			var id, body sql.NullString
			var v, lu sql.NullInt64
			if err := rs.Scan(&total, &id, &v, &lu, &body); err != nil {
				return err
			}
			if id.Valid {
				out = append(out, fhir.Resource{Type: q.Type, ID: id.String, VersionID: v.Int64, LastUpdated: fromNanos(lu.Int64), JSON: []byte(body.String)})
			}
		}
		return nil
	})
	if err != nil {
		return nil, 0, err
	}
	if noTotal {
		total = -1 // after the rows: an empty page has none to say so
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
// is one conjunct, an uncorrelated "r.id IN (SELECT id FROM the index table
// WHERE …)". That shape is planned well however stale the statistics are:
// the subquery is a range of the index table's primary key (partition,
// type, param, token), and each id found is one probe of resources' key. A
// correlated EXISTS was planned, before autovacuum's first ANALYZE of a
// freshly loaded table, as a scan of the partition's whole token index per
// resource: 450 ms for one identifier among 1,000 Patients. A token filter matches a resource with any of AnyOf
// among its entries for Param (none, with AnyOf empty); a range filter
// compares the parameter's hull with each bound given (a filter with no
// bound matches everything); _id matches ids in AnyOf.
func (s *Store) searchWhere(q *query, partition string, fq fhir.Query) error {
	q.sql("r.partition = ", q.arg(partition), " AND r.type = ", q.arg(fq.Type))
	for _, f := range fq.Filters {
		switch {
		case f.Param == "_id":
			q.sql(" AND ")
			s.inValues(q, "r.id", f.AnyOf)
		case f.Range != nil:
			if f.Range.LowAtMost == nil && f.Range.HighAtLeast == nil {
				continue
			}
			q.sql(" AND r.id IN (SELECT g.id FROM search_range g WHERE g.partition = ", q.arg(partition), " AND g.type = ", q.arg(fq.Type), " AND g.param = ", q.arg(f.Param))
			if f.Range.LowAtMost != nil {
				q.sql(" AND g.low <= ", q.arg(clampScore(*f.Range.LowAtMost)))
			}
			if f.Range.HighAtLeast != nil {
				q.sql(" AND g.high >= ", q.arg(clampScore(*f.Range.HighAtLeast)))
			}
			q.sql(")")
		default:
			q.sql(" AND r.id IN (SELECT t.id FROM search_token t WHERE t.partition = ", q.arg(partition), " AND t.type = ", q.arg(fq.Type), " AND t.param = ", q.arg(f.Param), " AND ")
			s.inValues(q, "t.token", f.AnyOf)
			q.sql(")")
		}
	}
	// Bounded by values as well as placeholders, so both engines refuse
	// the same searches (PostgreSQL sends a filter's values as one array).
	values := 0
	for _, f := range fq.Filters {
		values += len(f.AnyOf)
	}
	if values > maxParams || len(q.args) > maxParams {
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

// inValues is in for values compared on this store's engine. On
// PostgreSQL several values go as one text array, "col = ANY($n)": its
// statements run with the generic plan (partitionBatch), and in that
// plan a list of parameters, "IN ($6, …, $505)", is tested value by value
// against every row the rest of the condition leaves. For placement's
// HealthcareServices at 500 Locations among 25,000 that was 12.5 million
// comparisons, 280 ms a search, where the array took 7 ms (measured
// beside another partition's 1,000 Patients, whose statistics made the
// planner expect few rows for the partition's tokens; see
// docs/performance.md). SQLite keeps the list, which it probes through
// the index value by value.
func (s *Store) inValues(q *query, col string, vals []string) {
	if s.eng != enginePostgres || len(vals) < 2 {
		in(q, col, vals)
		return
	}
	q.sql(col, " = ANY(CAST(", q.arg(vals), " AS TEXT[]))")
}
