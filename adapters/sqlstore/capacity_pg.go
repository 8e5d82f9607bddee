package sqlstore

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/dischargegateway/gateway/capacity"
	"github.com/dischargegateway/gateway/discharge"
)

// recordPostingPG is recordPosting with its outbox row in the same
// statement (a data-modifying CTE, PostgreSQL only): one statement per
// posting, whose row is the version applied, none when it was not.
const recordPostingPG = `WITH ins AS (` + recordPosting + `),
ob AS (INSERT INTO outbox (id, at, partition, topic, ref, payload, delivered_at)
  SELECT CAST($5 AS TEXT), CAST($6 AS BIGINT), '', 'Capacity', CAST($7 AS TEXT), CAST(ins.version AS TEXT), 0 FROM ins)
SELECT version FROM ins`

// postingLocks locks the batch's locations ($1, a text array) for the
// transaction, before any posting is inserted, so that two writers
// recording one location wait for each other instead of both reading the
// same latest version and one failing on the primary key. That failure
// was retried, but 16 concurrent postings for one location could outlast
// the store's attempts and answer 503 (TestCapacityRecord, "concurrent
// postings", failed so once in a full run). The locks are advisory ones,
// keyed (postingLockClass, hash of the location id), taken in key order,
// so two batches of several locations cannot deadlock; two locations whose
// ids share a hash only wait for each other.
const postingLocks = `SELECT pg_advisory_xact_lock(` + postingLockClass + `, k)
FROM (SELECT DISTINCT hashtext(l) AS k FROM unnest(CAST($1 AS TEXT[])) AS l ORDER BY k) AS keys`

// postingLockClass is the first key of postingLocks' advisory locks: the
// two-key form, a key space apart from fanoutLock's one key.
const postingLockClass = "20261130"

// latestPosting reads a location's latest posting.
const latestPosting = `SELECT version, posting FROM capacity_postings WHERE location = $1 ORDER BY version DESC LIMIT 1`

// pipelinedRecord is RecordBatch's transaction on PostgreSQL, sent as one
// pgx batch: BEGIN, the partition setting, then per posting its insert
// (with its outbox row) and a read of the location's latest posting (the
// answer when it was not applied), then COMMIT, or ROLLBACK after a
// failure. One round trip for the batch, where statement by statement it
// was two per posting and four more; the statements and their order are
// those of the SQLite path. outs gets each live posting's outcome.
func (c *Capacity) pipelinedRecord(ctx context.Context, ps []discharge.Capacity, bodies []string, outs []capacity.Outcome) error {
	b := &pgx.Batch{}
	b.Queue("BEGIN ISOLATION LEVEL READ COMMITTED")
	b.Queue("SELECT set_config('app.partition', '', true)")
	var locations []string
	for i, p := range ps {
		if bodies[i] != "" {
			locations = append(locations, p.LocationID)
		}
	}
	b.Queue(postingLocks, locations)
	for i, p := range ps {
		if bodies[i] == "" {
			continue
		}
		at := time.Now().UnixNano()
		b.Queue(recordPostingPG, p.LocationID, p.AsOf.UnixMilli(), bodies[i], at, outboxID(at), at, "Location/"+p.LocationID)
		b.Queue(latestPosting, p.LocationID)
		// A virtual ward's daily figures (virtualward.go): written only
		// when the posting was applied, so it can go in the same batch.
		q, args := wardDay(p)
		b.Queue(q, args...)
	}
	conn, err := c.s.db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	return conn.Raw(func(dc any) error {
		pc := dc.(*stdlib.Conn).Conn()
		br := pc.SendBatch(ctx, b)
		runErr := c.readRecorded(br, ps, bodies, outs)
		if err := br.Close(); runErr == nil {
			runErr = err
		}
		return endPipelined(ctx, pc, runErr)
	})
}

// readRecorded reads pipelinedRecord's results in the order queued.
func (c *Capacity) readRecorded(br pgx.BatchResults, ps []discharge.Capacity, bodies []string, outs []capacity.Outcome) error {
	for range 3 {
		if _, err := br.Exec(); err != nil {
			return err
		}
	}
	for i, p := range ps {
		if bodies[i] == "" {
			continue
		}
		var v int64
		applied := true
		switch err := br.QueryRow().Scan(&v); {
		case err == pgx.ErrNoRows:
			applied = false
		case err != nil:
			return err
		}
		var latest int64
		var stored string
		if err := br.QueryRow().Scan(&latest, &stored); err != nil {
			return err
		}
		if _, err := br.Exec(); err != nil { // wardDay
			return err
		}
		if applied {
			outs[i].Current, outs[i].Applied = p, true
			outs[i].Current.Version = v
			continue
		}
		cur := decodePosting(stored, latest)
		if cur.LocationID == "" {
			return discharge.E(discharge.KindInternal, "", "unreadable capacity posting in the record")
		}
		outs[i].Current, outs[i].Applied = cur, false
	}
	return nil
}
