package sqlstore

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/fhir"
)

// Store keeps versioned FHIR resources in PostgreSQL or SQLite.
type Store struct {
	db          *sql.DB
	eng         engine
	maxAttempts int
	retries     atomic.Int64
	stmts       stmtCache // SQLite's prepared statements (stmtcache.go)

	// writes shares SQLite's read-write transactions of this process
	// among the writers that queue for them (writegroup.go; nil on
	// PostgreSQL). SQLite has one writer anyway. Before it, a write gate
	// admitted one transaction at a time, holding no connection while
	// waiting: without that, concurrent writers each held a pooled
	// connection in BEGIN IMMEDIATE and waited in SQLite's busy handler,
	// which sleeps 1, 2, 5, 10, 15, 20, 25 … ms between tries, so a writer
	// that lost twice slept past the lock's release, and readers found the
	// pool's connections taken by sleeping writers. The group keeps that
	// (members queue in arrival order, holding no connection; the busy
	// timeout is left for other processes sharing the file, such as
	// gateway import beside serve) and commits the queued writers'
	// transactions as one, with one flush.
	writes *writeGroup
}

var _ fhir.Store = (*Store)(nil)

// defaultAttempts bounds how often one transaction is run when the
// database rolls it back for a serialization failure, deadlock or busy
// lock: after that the caller hears KindUnavailable.
const defaultAttempts = 5

// Retries is how many transactions were run again after a serialization
// failure, a deadlock or a busy lock since the Store was opened.
func (s *Store) Retries() int64 { return s.retries.Load() }

// rowsPerInsert bounds a multi-row INSERT so its placeholders stay well
// under both engines' limits (PostgreSQL 65535, SQLite 32766).
const rowsPerInsert = 500

// maxParams bounds the placeholders of one query built from a caller's
// lists (ReadMany is chunked; a search's filters are not).
const maxParams = 30000

// query builds SQL with numbered placeholders, valid on both engines.
type query struct {
	b    strings.Builder
	args []any
}

// arg adds a value and returns its placeholder.
func (q *query) arg(v any) string {
	q.args = append(q.args, v)
	return "$" + strconv.Itoa(len(q.args))
}

func (q *query) sql(parts ...string) *query {
	for _, p := range parts {
		q.b.WriteString(p)
	}
	return q
}

// inTx runs f in one transaction scoped to partition and commits it,
// running it again (up to maxAttempts in all) when the database rolled it
// back for a serialization failure, a deadlock or a busy lock. Writes run
// at READ COMMITTED on PostgreSQL (see the package comment for how Commit
// stays race-safe there); the reads here (the audit log's, and every read
// on SQLite) run read-only, at REPEATABLE READ on PostgreSQL so that their
// statements share one snapshot.
func (s *Store) inTx(ctx context.Context, op, partition string, readOnly bool, f func(*sql.Tx) error) error {
	return s.attempts(ctx, op, func() error { return s.tryTx(ctx, partition, readOnly, f) })
}

// attempts runs try, and runs it again (up to maxAttempts in all) while it
// fails for a serialization failure, a deadlock or a busy lock.
//
// A failure that classify would call internal, met once ctx has ended, is
// the deadline's doing and is KindTimeout: database/sql rolls a
// transaction back when its context ends, and the statement after that
// fails with sql.ErrTxDone, which once reached a caller as a 500 while
// Redis slept (TestSlowRedisUnderLoad).
func (s *Store) attempts(ctx context.Context, op string, try func() error) error {
	for attempt := 1; ; attempt++ {
		err := try()
		if err == nil || !retryable(err) {
			c := classify(op, err)
			if c != nil && ctx.Err() != nil && discharge.ErrorKind(c) == discharge.KindInternal {
				return discharge.Wrap(discharge.KindTimeout, op, err)
			}
			return c
		}
		if attempt >= s.maxAttempts {
			return discharge.Wrap(discharge.KindUnavailable, op, err)
		}
		s.retries.Add(1)
		// Jittered backoff, so transactions that collided do not collide again.
		d := time.Duration(1<<attempt)*time.Millisecond + rand.N(5*time.Millisecond)
		select {
		case <-ctx.Done():
			return classify(op, ctx.Err())
		case <-time.After(d):
		}
	}
}

func (s *Store) tryTx(ctx context.Context, partition string, readOnly bool, f func(*sql.Tx) error) error {
	if s.writes != nil && !readOnly {
		return s.writes.run(ctx, f)
	}
	opts := &sql.TxOptions{ReadOnly: readOnly}
	if s.eng == enginePostgres {
		opts.Isolation = sql.LevelReadCommitted
		if readOnly {
			opts.Isolation = sql.LevelRepeatableRead
		}
	}
	tx, err := s.db.BeginTx(ctx, opts)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if s.eng == enginePostgres {
		// The row-level security policies read this; true makes it local
		// to the transaction, so a pooled connection carries no partition
		// into its next use.
		if _, err := tx.ExecContext(ctx, "SELECT set_config('app.partition', $1, true)", partition); err != nil {
			return err
		}
	}
	if err := f(tx); err != nil {
		return err
	}
	return tx.Commit()
}

// Read returns the current version of a resource.
func (s *Store) Read(ctx context.Context, partition, typ, id string) (fhir.Resource, error) {
	r := fhir.Resource{Type: typ, ID: id}
	err := s.readRow(ctx, "sqlstore.Read", partition,
		"SELECT version, last_updated, body FROM resources WHERE partition = $1 AND type = $2 AND id = $3",
		[]any{partition, typ, id}, func(row scanner) error { return scanResource(row, &r) })
	return r, err
}

// ReadVersion returns one version from the history.
func (s *Store) ReadVersion(ctx context.Context, partition, typ, id string, version int64) (fhir.Resource, error) {
	r := fhir.Resource{Type: typ, ID: id}
	err := s.readRow(ctx, "sqlstore.ReadVersion", partition,
		"SELECT version, last_updated, body FROM resource_history WHERE partition = $1 AND type = $2 AND id = $3 AND version = $4",
		[]any{partition, typ, id, version}, func(row scanner) error { return scanResource(row, &r) })
	return r, err
}

// readRow runs a query of one row in a transaction scoped to partition
// (on SQLite, where no setting scopes it, the statement alone).
// On PostgreSQL the partition setting and the query go as one pipelined
// batch, which pgx runs as one implicit transaction: one round trip
// instead of four (BEGIN, set_config, SELECT, COMMIT), with the same SQL.
func (s *Store) readRow(ctx context.Context, op, partition, q string, args []any, scan func(scanner) error) error {
	if s.eng != enginePostgres {
		// One statement reads one snapshot on its own, in autocommit mode
		// (SQLite begins and ends a read transaction around it): without
		// BEGIN and COMMIT, two more calls through the driver per read,
		// which were half of a read's cost.
		return s.attempts(ctx, op, func() error { return scan(s.queryRowAlone(ctx, q, args...)) })
	}
	err := s.partitionBatch(ctx, partition, q, args, func(br pgx.BatchResults) error {
		return scan(br.QueryRow())
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return discharge.Wrap(discharge.KindNotFound, op, err)
	}
	return classify(op, err)
}

// rows is what both database/sql and pgx give for a multi-row result.
type rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
}

// readRows runs one query in a transaction scoped to partition and hands
// its rows to scan; on PostgreSQL in one round trip, as readRow does. One
// statement reads one snapshot, so a count and a page computed in the same
// statement agree.
func (s *Store) readRows(ctx context.Context, op, partition, q string, args []any, scan func(rows) error) error {
	if s.eng != enginePostgres {
		// The statement alone, as readRow runs one.
		return s.attempts(ctx, op, func() error {
			rs, err := s.queryAlone(ctx, q, args...)
			if err != nil {
				return err
			}
			defer rs.Close()
			if err := scan(rs); err != nil {
				return err
			}
			return rs.Err()
		})
	}
	err := s.partitionBatch(ctx, partition, q, args, func(br pgx.BatchResults) error {
		rs, err := br.Query()
		if err != nil {
			return err
		}
		defer rs.Close()
		if err := scan(rs); err != nil {
			return err
		}
		return rs.Err()
	})
	return classify(op, err)
}

// partitionBatch runs q on PostgreSQL in one round trip with the
// partition's row-level security setting: set_config and q go as one
// pipelined batch, which pgx runs as one implicit transaction. read gets
// the batch's results after the setting and reads q's.
//
// The same statement makes the transaction plan q generically (the plan
// cached with the prepared statement) instead of planning it afresh per
// call. Every read here is driven by a key or an index range whatever the
// values, and PostgreSQL kept custom plans for a token search once two
// partitions of unequal size shared the tables, and planning took most
// of the search's time (in a probe beside 10,000 rows of another
// partition, about 0.5 ms a search among 1,000 with custom plans and
// 0.17 ms with the generic one; see docs/performance.md).
func (s *Store) partitionBatch(ctx context.Context, partition, q string, args []any, read func(pgx.BatchResults) error) error {
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	return conn.Raw(func(dc any) error {
		pc := dc.(*stdlib.Conn).Conn()
		b := &pgx.Batch{}
		b.Queue("SELECT set_config('app.partition', $1, true), set_config('plan_cache_mode', 'force_generic_plan', true)", partition)
		b.Queue(q, args...)
		br := pc.SendBatch(ctx, b)
		if _, err := br.Exec(); err != nil {
			br.Close()
			return err
		}
		err := read(br)
		if cerr := br.Close(); err == nil {
			err = cerr
		}
		return err
	})
}

type scanner interface{ Scan(dest ...any) error }

func scanResource(row scanner, r *fhir.Resource) error {
	var lu int64
	var body string
	if err := row.Scan(&r.VersionID, &lu, &body); err != nil {
		return err
	}
	r.LastUpdated = fromNanos(lu)
	r.JSON = []byte(body)
	return nil
}

func fromNanos(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

func toNanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// History returns one page of a resource's versions, newest first, and how
// many versions it has; KindNotFound when it has none (never existed here).
func (s *Store) History(ctx context.Context, partition, typ, id string, offset, count int) ([]fhir.Resource, int, error) {
	const op = "sqlstore.History"
	q := &query{}
	where := "partition = " + q.arg(partition) + " AND type = " + q.arg(typ) + " AND id = " + q.arg(id)
	page := pageOf(q, "SELECT version, last_updated, body FROM resource_history WHERE "+where,
		"SELECT COUNT(*) AS total FROM resource_history WHERE "+where, "version DESC", "p.version DESC", offset, count)
	var out []fhir.Resource
	var total int
	err := s.readRows(ctx, op, partition, page, q.args, func(rs rows) error {
		out, total = nil, 0
		for rs.Next() {
			var v, lu sql.NullInt64
			var body sql.NullString
			if err := rs.Scan(&total, &v, &lu, &body); err != nil {
				return err
			}
			if v.Valid {
				out = append(out, fhir.Resource{Type: typ, ID: id, VersionID: v.Int64, LastUpdated: fromNanos(lu.Int64), JSON: []byte(body.String)})
			}
		}
		return nil
	})
	if err == nil && total == 0 {
		err = discharge.Wrap(discharge.KindNotFound, op, sql.ErrNoRows)
	}
	if err != nil {
		return nil, 0, err
	}
	return out, total, nil
}

// pageOf is one statement giving the total of count's query and one page
// of sel's rows in order: every row is (total, the page's columns…), and
// when the page is empty a single row carries the total and NULLs. Offset
// and count below zero are zero; count zero gives no page.
// order sorts sel, outer sorts its rows again (the same key, written for
// the page's alias p), since a join promises no order of its own. count's
// one column must be named total.
func pageOf(q *query, sel, count, order, outer string, offset, n int) string {
	offset, n = max(offset, 0), max(n, 0)
	return "SELECT c.total, p.* FROM (" + count + ") AS c LEFT JOIN (" + sel + " ORDER BY " + order +
		" LIMIT " + q.arg(n) + " OFFSET " + q.arg(offset) + ") AS p ON 1 = 1 ORDER BY " + outer
}

// Generation is the directory partition's change counter: every Commit
// to it adds one, so a cache of anything derived from the directory is
// current while the generation it was built at is. No other partition
// keeps one (counting a partition's commits would serialise them):
// asking for another is KindInternal, a programming error.
func (s *Store) Generation(ctx context.Context, partition string) (int64, error) {
	if !tracksGeneration(partition) {
		return 0, &discharge.Error{Kind: discharge.KindInternal, Op: "sqlstore.Generation",
			Message: "the store keeps a generation for the directory partition only"}
	}
	var n int64
	err := s.readRow(ctx, "sqlstore.Generation", partition,
		"SELECT generation FROM partition_generation WHERE partition = $1", []any{partition},
		func(row scanner) error { return row.Scan(&n) })
	if discharge.ErrorKind(err) == discharge.KindNotFound {
		return 0, nil // never committed to
	}
	return n, err
}

// ReadMany returns the current versions of several resources, keyed
// "Type/id"; absent ones are left out. Up to rowsPerInsert refs are read in
// one statement (one snapshot); more in several.
func (s *Store) ReadMany(ctx context.Context, partition string, refs []fhir.Ref) (map[string]fhir.Resource, error) {
	const op = "sqlstore.ReadMany"
	out := make(map[string]fhir.Resource, len(refs))
	for start := 0; start < len(refs); start += rowsPerInsert {
		q := s.readManyQuery(partition, refs[start:min(len(refs), start+rowsPerInsert)])
		err := s.readRows(ctx, op, partition, q.b.String(), q.args, func(rs rows) error {
			for rs.Next() {
				var r fhir.Resource
				var lu int64
				var body string
				if err := rs.Scan(&r.Type, &r.ID, &r.VersionID, &lu, &body); err != nil {
					return err
				}
				r.LastUpdated, r.JSON = fromNanos(lu), []byte(body)
				out[r.Type+"/"+r.ID] = r
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// readManyQuery selects refs (at least one) in partition: the refs grouped
// by type, one "SELECT … WHERE partition = $1 AND type = $t AND id IN (…)"
// a type, joined by UNION ALL into one statement (one snapshot). Each
// branch is planned on its own as probes of the primary key (partition,
// type, id), on both engines and whatever the statistics. The shape
// before, "partition = $1 AND ((type = $t AND id = $i) OR …)", SQLite
// planned as a search of the whole partition, testing every pair on each
// row: 1.25 s for 500 Locations among 75,000 directory resources, which is
// what a placement's first request near a patient reads (the load
// generator's warm-up took 32-40 s for 200 such requests). An OR of
// per-type groups was still planned that way for small groups. The ids
// go as inValues writes them (an array on PostgreSQL).
func (s *Store) readManyQuery(partition string, refs []fhir.Ref) *query {
	q := &query{}
	p := q.arg(partition)
	byType := map[string][]string{}
	var types []string
	for _, r := range refs {
		if _, ok := byType[r.Type]; !ok {
			types = append(types, r.Type)
		}
		byType[r.Type] = append(byType[r.Type], r.ID)
	}
	for i, t := range types {
		if i > 0 {
			q.sql(" UNION ALL ")
		}
		q.sql("SELECT type, id, version, last_updated, body FROM resources WHERE partition = ", p, " AND type = ", q.arg(t), " AND ")
		s.inValues(q, "id", byType[t])
	}
	return q
}

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	return classify("sqlstore.Ping", s.db.PingContext(ctx))
}

// prepared is one write's rows, computed before the transaction.
type prepared struct {
	w      fhir.Write
	tokens []fhir.IndexEntry      // distinct (param, token)
	ranges map[string][2]float64  // param → hull [low, high]
	params []string               // ranges' keys, sorted
	has    map[[2]string]struct{} // (param, token) present
}

// prepare dedups a write's tokens and folds its ranges into one hull per
// parameter, as the Redis store indexes them.
func prepare(w fhir.Write) (prepared, error) {
	p := prepared{w: w, ranges: map[string][2]float64{}, has: map[[2]string]struct{}{}}
	for _, e := range w.Index {
		if e.IsRange {
			if math.IsNaN(e.Low) || math.IsNaN(e.High) {
				return p, discharge.E(discharge.KindInternal, "", "NaN in a range index entry")
			}
			lo, hi := clampScore(e.Low), clampScore(e.High)
			hull, ok := p.ranges[e.Param]
			if !ok {
				hull = [2]float64{lo, hi}
			}
			p.ranges[e.Param] = [2]float64{math.Min(hull[0], lo), math.Max(hull[1], hi)}
			continue
		}
		k := [2]string{e.Param, e.Token}
		if _, dup := p.has[k]; dup {
			continue
		}
		p.has[k] = struct{}{}
		p.tokens = append(p.tokens, e)
	}
	for param := range p.ranges {
		p.params = append(p.params, param)
	}
	sort.Strings(p.params)
	return p, nil
}

// clampScore maps infinities to the largest finite values, which stand for
// open ends (as "+inf"/"-inf" scores do in the Redis store): both SQL
// engines store and compare them exactly.
func clampScore(f float64) float64 {
	switch {
	case f >= math.MaxFloat64:
		return math.MaxFloat64
	case f <= -math.MaxFloat64:
		return -math.MaxFloat64
	}
	return f
}

// Commit stores all writes, their history rows and their index rows in one
// transaction, or nothing (see the package comment for how guards and
// expected versions are checked).
func (s *Store) Commit(ctx context.Context, partition string, writes []fhir.Write, guards []fhir.Guard) error {
	const op = "sqlstore.Commit"
	if len(writes) == 0 {
		// Nothing to store (an empty transaction): no SQL transaction, and
		// the generation does not move, since nothing derived from the
		// partition changed; guards only matter for the writes they
		// protect. The Redis store does the same.
		return nil
	}
	ps, distinct, err := prepareCommit(op, writes, guards)
	if err != nil {
		return err
	}
	if s.eng == enginePostgres && len(distinct) == 0 && !tracksGeneration(partition) && allCreates(ps) {
		return s.attempts(ctx, op, func() error { return s.pipelinedCreates(ctx, partition, ps) })
	}
	return s.inTx(ctx, op, partition, false, func(tx *sql.Tx) error {
		return s.commitTx(ctx, tx, partition, ps, distinct)
	})
}

// commitTx writes ps and checks guards in tx, which inTx began for
// partition (see the package comment for how guards and expected versions
// are checked without a partition-wide lock). A failed check is KindRetry;
// any other error is the database's, for inTx to classify.
func (s *Store) commitTx(ctx context.Context, tx *sql.Tx, partition string, ps []prepared, guards []fhir.Guard) error {
	const op = "sqlstore.Commit"
	retry := func(what string) error {
		return &discharge.Error{Kind: discharge.KindRetry, Op: op, Message: what + " check failed"}
	}
	if tracksGeneration(partition) {
		// The generation's row lock serialises the directory's commits;
		// they are rare, and a placement cache reads the counter per
		// request. No other partition keeps one, so their commits share
		// no row and the server can flush them together.
		if _, err := s.exec(ctx, tx,
			`INSERT INTO partition_generation (partition, generation) VALUES ($1, 1)
			 ON CONFLICT (partition) DO UPDATE SET generation = partition_generation.generation + 1`, partition); err != nil {
			return err
		}
	}
	if len(guards) > 0 {
		held, err := s.claimGuards(ctx, tx, partition, guards)
		if err != nil {
			return err
		}
		if held {
			return retry("guard")
		}
	}
	if len(ps) == 0 {
		return nil
	}
	ordered, ok := inKeyOrder(ps)
	if !ok {
		return retry("version")
	}
	var creates, updates []prepared
	for _, p := range ordered {
		if p.w.ExpectVersion == 0 {
			creates = append(creates, p)
		} else {
			updates = append(updates, p)
		}
	}
	// An update holds when the row is still at the expected version: at
	// READ COMMITTED the UPDATE waits for a concurrent writer of the row,
	// then checks its WHERE against the version that writer left.
	for _, p := range updates {
		r := p.w.Resource
		res, err := s.exec(ctx, tx,
			`UPDATE resources SET version = $1, last_updated = $2, body = $3
			 WHERE partition = $4 AND type = $5 AND id = $6 AND version = $7`,
			r.VersionID, toNanos(r.LastUpdated), string(r.JSON), partition, r.Type, r.ID, p.w.ExpectVersion)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n != 1 {
			return retry("version")
		}
	}
	if len(updates) > 0 {
		for _, table := range []string{"search_token", "search_range"} {
			if err := s.deleteIndex(ctx, tx, table, partition, updates); err != nil {
				return err
			}
		}
	}
	// A create holds when no row has its key: the primary key decides, and
	// the INSERT waits for a concurrent create of the same key to end.
	resourceRows := make([][]any, 0, len(creates))
	for _, p := range creates {
		r := p.w.Resource
		resourceRows = append(resourceRows, []any{partition, r.Type, r.ID, r.VersionID, toNanos(r.LastUpdated), string(r.JSON)})
	}
	n, err := s.insertRows(ctx, tx, "INSERT INTO resources (partition, type, id, version, last_updated, body) VALUES ",
		" ON CONFLICT DO NOTHING", resourceRows)
	if err != nil {
		return err
	}
	if n != int64(len(resourceRows)) {
		return retry("version")
	}
	for _, ins := range followingRows(partition, ordered) {
		if _, err := s.insertRows(ctx, tx, ins.head, "", ins.rows); err != nil {
			return err
		}
	}
	return nil
}

// inKeyOrder returns the writes in (type, id) order: every commit writes
// its resources in one order, so two commits of the same resources wait
// for each other rather than deadlock. ok is false when two writes are of
// one resource: at most one can match its current version (they would
// otherwise chain in whichever order).
func inKeyOrder(ps []prepared) (ordered []prepared, ok bool) {
	ordered = slices.Clone(ps)
	byKey := func(a, b prepared) int {
		return cmp.Or(cmp.Compare(a.w.Resource.Type, b.w.Resource.Type), cmp.Compare(a.w.Resource.ID, b.w.Resource.ID))
	}
	slices.SortFunc(ordered, byKey)
	for i := 1; i < len(ordered); i++ {
		if byKey(ordered[i-1], ordered[i]) == 0 {
			return nil, false
		}
	}
	return ordered, true
}

// rowInsert is one table's rows of a commit.
type rowInsert struct {
	head string
	rows [][]any
}

// followingRows are the rows every written version adds after its
// resources row: its history row and its index rows.
func followingRows(partition string, ordered []prepared) []rowInsert {
	historyRows := make([][]any, 0, len(ordered))
	var tokenRows, rangeRows [][]any
	for _, p := range ordered {
		r := p.w.Resource
		historyRows = append(historyRows, []any{partition, r.Type, r.ID, r.VersionID, toNanos(r.LastUpdated), string(r.JSON)})
		for _, e := range p.tokens {
			tokenRows = append(tokenRows, []any{partition, r.Type, e.Param, e.Token, r.ID})
		}
		for _, param := range p.params {
			h := p.ranges[param]
			rangeRows = append(rangeRows, []any{partition, r.Type, r.ID, param, h[0], h[1]})
		}
	}
	return []rowInsert{
		{"INSERT INTO resource_history (partition, type, id, version, last_updated, body) VALUES ", historyRows},
		{"INSERT INTO search_token (partition, type, param, token, id) VALUES ", tokenRows},
		{"INSERT INTO search_range (partition, type, id, param, low, high) VALUES ", rangeRows},
	}
}

// tracksGeneration reports whether the store keeps partition's Generation:
// the directory's only (see fhir.Store.Generation).
func tracksGeneration(partition string) bool { return partition == fhir.DirectoryPartition }

// claimGuards claims each guard's value in guard_claims, reports whether
// a resource already holds one of them, and gives the claims back (see
// migration 5). The claim is what makes the check race-safe without a
// partition lock: a concurrent commit claiming an equal value waits on the
// key until this transaction ends, deleted row or not, and so checks
// after it. Claims are taken in one order, so two commits with several
// guards cannot deadlock on them.
func (s *Store) claimGuards(ctx context.Context, tx *sql.Tx, partition string, guards []fhir.Guard) (held bool, err error) {
	ordered := slices.Clone(guards)
	slices.SortFunc(ordered, func(a, b fhir.Guard) int {
		return cmp.Or(cmp.Compare(a.Type, b.Type), cmp.Compare(a.Param, b.Param), cmp.Compare(a.Token, b.Token))
	})
	ordered = slices.Compact(ordered)
	claims := make([][]any, 0, len(ordered))
	for _, g := range ordered {
		claims = append(claims, []any{partition, g.Type, g.Param, g.Token})
	}
	if _, err := s.insertRows(ctx, tx, "INSERT INTO guard_claims (partition, type, param, token) VALUES ", "", claims); err != nil {
		return false, err
	}
	for start := 0; start < len(ordered) && !held; start += rowsPerInsert {
		q := &query{}
		q.sql("SELECT 1 FROM search_token WHERE partition = ", q.arg(partition), " AND (")
		guardKeys(q, ordered[start:min(len(ordered), start+rowsPerInsert)])
		q.sql(") LIMIT 1")
		var one int
		switch err := tx.QueryRowContext(ctx, q.b.String(), q.args...).Scan(&one); {
		case err == nil:
			held = true
		case !errors.Is(err, sql.ErrNoRows):
			return false, err
		}
	}
	for start := 0; start < len(ordered); start += rowsPerInsert {
		q := &query{}
		q.sql("DELETE FROM guard_claims WHERE partition = ", q.arg(partition), " AND (")
		guardKeys(q, ordered[start:min(len(ordered), start+rowsPerInsert)])
		q.sql(")")
		if _, err := tx.ExecContext(ctx, q.b.String(), q.args...); err != nil {
			return false, err
		}
	}
	return held, nil
}

// guardKeys writes "(type = … AND param = … AND token = …) OR …" for gs.
func guardKeys(q *query, gs []fhir.Guard) {
	for i, g := range gs {
		if i > 0 {
			q.sql(" OR ")
		}
		q.sql("(type = ", q.arg(g.Type), " AND param = ", q.arg(g.Param), " AND token = ", q.arg(g.Token), ")")
	}
}

// deleteIndex removes the index rows of updated resources, to be written
// afresh from their new versions.
func (s *Store) deleteIndex(ctx context.Context, tx *sql.Tx, table, partition string, ps []prepared) error {
	if s.eng == engineSQLite {
		// One constant statement per resource, prepared once per
		// connection (stmtcache.go): see insertRows.
		for _, p := range ps {
			if _, err := s.exec(ctx, tx, "DELETE FROM "+table+" WHERE partition = $1 AND type = $2 AND id = $3",
				partition, p.w.Resource.Type, p.w.Resource.ID); err != nil {
				return err
			}
		}
		return nil
	}
	for start := 0; start < len(ps); start += rowsPerInsert {
		chunk := ps[start:min(len(ps), start+rowsPerInsert)]
		q := &query{}
		q.sql("DELETE FROM ", table, " WHERE partition = ", q.arg(partition), " AND (")
		for i, p := range chunk {
			if i > 0 {
				q.sql(" OR ")
			}
			q.sql("(type = ", q.arg(p.w.Resource.Type), " AND id = ", q.arg(p.w.Resource.ID), ")")
		}
		q.sql(")")
		if _, err := tx.ExecContext(ctx, q.b.String(), q.args...); err != nil {
			return err
		}
	}
	return nil
}

// insertRows inserts rows with multi-row INSERTs of at most rowsPerInsert,
// each head, the rows' VALUES and tail, and returns how many rows were
// inserted (fewer than given when tail is ON CONFLICT DO NOTHING).
//
// On SQLite each row is one execution of a single-row INSERT prepared once
// per connection (stmtcache.go) instead: a statement there is a call into
// the library, not a round trip, while preparing one compiles every
// trigger on its table into it (the sitrep's, the forecast's), which made
// the multi-row text, different for every row count, cost about two
// fifths of a create's CPU in preparation alone.
func (s *Store) insertRows(ctx context.Context, tx *sql.Tx, head, tail string, rows [][]any) (int64, error) {
	if s.eng == engineSQLite {
		return s.insertInChunks(ctx, tx, head, tail, rows)
	}
	var inserted int64
	for start := 0; start < len(rows); start += rowsPerInsert {
		chunk := rows[start:min(len(rows), start+rowsPerInsert)]
		q := &query{}
		q.sql(head)
		valuesOf(q, chunk)
		q.sql(tail)
		res, err := tx.ExecContext(ctx, q.b.String(), q.args...)
		if err != nil {
			return inserted, err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return inserted, err
		}
		inserted += n
	}
	return inserted, nil
}

// insertInChunks is insertRows on SQLite: cached INSERTs of 16, 8, 4, 2
// or 1 rows (rows of one call have one arity), the largest that fit first,
// so a statement's text is one of five per table and is prepared once per
// connection, and a dozen index rows take three statements, not twelve.
// Each statement was a call through database/sql and the driver, and in a
// write group (writegroup.go) the calls of every member run one after
// another: they were most of a create's time there.
func (s *Store) insertInChunks(ctx context.Context, tx *sql.Tx, head, tail string, rows [][]any) (int64, error) {
	var inserted int64
	var texts [5]string // for rows of rows[0]'s arity, by chunk size 16, 8, 4, 2, 1
	textOf := func(chunk [][]any) string {
		q := &query{}
		q.sql(head)
		valuesOf(q, chunk)
		q.sql(tail)
		return q.b.String()
	}
	for start := 0; start < len(rows); {
		k, n := 0, 16
		for n > len(rows)-start {
			k, n = k+1, n/2
		}
		chunk := rows[start : start+n]
		uniform := true
		for _, r := range chunk {
			uniform = uniform && len(r) == len(rows[0])
		}
		var text string
		switch {
		case !uniform:
			// Rows of another arity: one at a time, each its own text.
			chunk = chunk[:1]
			text = textOf(chunk)
		case texts[k] == "":
			texts[k] = textOf(chunk)
			fallthrough
		default:
			text = texts[k]
		}
		args := chunk[0]
		if len(chunk) > 1 {
			args = make([]any, 0, len(chunk)*len(chunk[0]))
			for _, r := range chunk {
				args = append(args, r...)
			}
		}
		res, err := s.exec(ctx, tx, text, args...)
		if err != nil {
			return inserted, err
		}
		got, err := res.RowsAffected()
		if err != nil {
			return inserted, err
		}
		inserted += got
		start += len(chunk)
	}
	return inserted, nil
}

// valuesOf writes rows as the VALUES list of a multi-row INSERT.
func valuesOf(q *query, rows [][]any) {
	for i, row := range rows {
		if i > 0 {
			q.sql(", ")
		}
		q.sql("(")
		for j, v := range row {
			if j > 0 {
				q.sql(", ")
			}
			q.sql(q.arg(v))
		}
		q.sql(")")
	}
}

// prepareCommit prepares writes and de-duplicates guards for a commit
// (Commit, CommitMessage): each guard is checked once, and a guarded value
// given to two resources by this very commit breaks the guard as surely
// as one that exists already (KindRetry, as a failed guard check).
func prepareCommit(op string, writes []fhir.Write, guards []fhir.Guard) ([]prepared, []fhir.Guard, error) {
	ps := make([]prepared, len(writes))
	for i, w := range writes {
		p, err := prepare(w)
		if err != nil {
			return nil, nil, err
		}
		ps[i] = p
	}
	distinct := make([]fhir.Guard, 0, len(guards))
	seen := map[fhir.Guard]bool{}
	for _, g := range guards {
		if seen[g] {
			continue
		}
		seen[g] = true
		distinct = append(distinct, g)
		n := 0
		for _, p := range ps {
			if _, ok := p.has[[2]string{g.Param, g.Token}]; ok && p.w.Resource.Type == g.Type {
				n++
			}
		}
		if n > 1 {
			return nil, nil, &discharge.Error{Kind: discharge.KindRetry, Op: op, Message: "guard check failed"}
		}
	}
	return ps, distinct, nil
}
