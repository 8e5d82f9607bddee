package sqlstore

import (
	"context"
	"database/sql"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/dischargegateway/gateway/adapters/postingjson"
	"github.com/dischargegateway/gateway/capacity"
	"github.com/dischargegateway/gateway/discharge"
)

// Capacity is the record of capacity postings (table capacity_postings):
// every posting that was applied, as its provider asserted it, each with
// the location's version. The Redis capacity cache is rebuilt from each
// location's latest posting (capacity.Rebuild).
type Capacity struct{ s *Store }

// NewCapacity returns the capacity record kept in the store's database.
func NewCapacity(s *Store) *Capacity { return &Capacity{s: s} }

// latestPageSize is how many locations one read of EachLatest takes.
var latestPageSize = 500

// Record stores a posting unless the location's latest recorded one is
// newer (a later asOf, to the millisecond, as the cache compares them): an
// older posting is ignored, an equal one replaces (a correction). It
// returns the posting now latest, with its version, and whether this one
// was applied. It is RecordBatch of one posting.
func (c *Capacity) Record(ctx context.Context, p discharge.Capacity) (discharge.Capacity, bool, error) {
	outs, err := c.RecordBatch(ctx, []discharge.Capacity{p})
	if err == nil {
		err = outs[0].Err
	}
	if err != nil {
		return p, false, err
	}
	return outs[0].Current, outs[0].Applied, nil
}

// recordPosting inserts a posting as its location's next version unless
// the latest recorded is newer, in one statement; no row back: not applied.
// Both subqueries are a descending range of the primary key.
const recordPosting = `INSERT INTO capacity_postings (location, version, as_of, posting, recorded_at)
SELECT CAST($1 AS TEXT),
  COALESCE((SELECT MAX(version) FROM capacity_postings WHERE location = $1), 0) + 1,
  CAST($2 AS BIGINT), CAST($3 AS TEXT), CAST($4 AS BIGINT)
WHERE COALESCE((SELECT as_of FROM capacity_postings WHERE location = $1 ORDER BY version DESC LIMIT 1), 0) <= CAST($2 AS BIGINT)
RETURNING version`

// RecordBatch records postings in one transaction, in order, each as
// Record would (a later one for the same location sees the earlier one):
// a group commit, one durable flush for all of them. It returns, per
// posting, the posting now latest and whether it was applied. A posting
// the record cannot hold (a location id that is empty, not UTF-8 or holds
// a NUL, which PostgreSQL refuses) is refused on its own, with
// KindValue at locationId, and the others are recorded. An error means
// none was recorded (the transaction rolled back); the caller may record
// them one by one to find the posting at fault (capacity.Recorded does).
// Two writers recording one location at once both try the next version;
// the primary key lets one win and the other's transaction runs again, so
// it sees the winner.
func (c *Capacity) RecordBatch(ctx context.Context, ps []discharge.Capacity) ([]capacity.Outcome, error) {
	const op = "sqlstore.Capacity.Record"
	outs := make([]capacity.Outcome, len(ps))
	bodies := make([]string, len(ps))
	live := 0
	for i, p := range ps {
		p.Version = 0
		outs[i].Current = p
		if !recordable(p.LocationID) {
			outs[i].Err = discharge.E(discharge.KindValue, "locationId", "A location id must be non-empty UTF-8 text.")
			continue
		}
		body, err := postingjson.Encode(discharge.Capacity{LocationID: p.LocationID, AsOf: p.AsOf, Beds: p.Beds, HomeCare: p.HomeCare})
		if err != nil {
			outs[i].Err = discharge.Wrap(discharge.KindInternal, op, err)
			continue
		}
		bodies[i] = string(body)
		live++
	}
	if live == 0 {
		return outs, nil
	}
	var err error
	for attempt := 1; ; attempt++ {
		if c.s.eng == enginePostgres {
			err = c.s.attempts(ctx, op, func() error { return c.pipelinedRecord(ctx, ps, bodies, outs) })
		} else {
			err = c.recordTx(ctx, op, ps, bodies, outs)
		}
		if discharge.ErrorKind(err) != discharge.KindRetry {
			break
		}
		if attempt >= c.s.maxAttempts {
			return nil, discharge.Wrap(discharge.KindUnavailable, op, err)
		}
		c.s.retries.Add(1)
	}
	if err != nil {
		return nil, err
	}
	return outs, nil
}

// recordTx is RecordBatch's transaction statement by statement (SQLite,
// where a statement is a call into the library, not a round trip).
func (c *Capacity) recordTx(ctx context.Context, op string, ps []discharge.Capacity, bodies []string, outs []capacity.Outcome) error {
	return c.s.inTx(ctx, op, "", false, func(tx *sql.Tx) error {
		for i, p := range ps {
			if bodies[i] == "" {
				continue
			}
			var v int64
			err := c.s.queryRow(ctx, tx, recordPosting, p.LocationID, p.AsOf.UnixMilli(), bodies[i], time.Now().UnixNano()).Scan(&v)
			switch {
			case err == sql.ErrNoRows:
				var stored string
				if err := c.s.queryRow(ctx, tx, latestPosting, p.LocationID).Scan(&v, &stored); err != nil {
					return err
				}
				cur := decodePosting(stored, v)
				if cur.LocationID == "" {
					return discharge.E(discharge.KindInternal, "", "unreadable capacity posting in the record")
				}
				outs[i].Current, outs[i].Applied = cur, false
				continue
			case err != nil:
				return err
			}
			if err := outboxCapacity(ctx, c.s, tx, p.LocationID, v); err != nil {
				return err
			}
			// A virtual ward's daily figures (virtualward.go). Both
			// statements are of constant text, prepared once per
			// connection (stmtcache.go): parsed on every posting, the
			// ward's statement was 14 % of a posting's CPU on SQLite.
			q, args := wardDay(p)
			if _, err := c.s.exec(ctx, tx, q, args...); err != nil {
				return err
			}
			outs[i].Current, outs[i].Applied = p, true
			outs[i].Current.Version = v
		}
		return nil
	})
}

// EachLatest calls f with every location's latest posting, in order of
// location id, reading a page of locations at a time (each page is its own
// snapshot, so a long rebuild holds no transaction open). An error from f
// stops the walk and is returned.
func (c *Capacity) EachLatest(ctx context.Context, f func(discharge.Capacity) error) error {
	const op = "sqlstore.Capacity.EachLatest"
	after := ""
	for {
		var page []discharge.Capacity
		err := c.s.readRows(ctx, op, "",
			`SELECT p.location, p.version, p.posting FROM capacity_postings p JOIN (
			   SELECT location, MAX(version) AS version FROM capacity_postings WHERE location > $1
			   GROUP BY location ORDER BY location LIMIT $2) m
			 ON p.location = m.location AND p.version = m.version ORDER BY p.location`,
			[]any{after, latestPageSize}, func(rs rows) error {
				page = page[:0]
				for rs.Next() {
					var loc, body string
					var v int64
					if err := rs.Scan(&loc, &v, &body); err != nil {
						return err
					}
					cp := decodePosting(body, v)
					if cp.LocationID == "" {
						return discharge.E(discharge.KindInternal, "", "unreadable capacity posting in the record for "+loc)
					}
					page = append(page, cp)
				}
				return nil
			})
		if err != nil {
			return err
		}
		for _, cp := range page {
			if err := f(cp); err != nil {
				return err
			}
		}
		if len(page) < latestPageSize {
			return nil
		}
		after = page[len(page)-1].LocationID
	}
}

// HistoryPage returns a page of a location's postings, newest first (by
// version): at most count after skipping the offset newest, and how many
// the record holds for the location, every posting ever applied, read in
// one statement (one snapshot). Count zero gives the total alone.
func (c *Capacity) HistoryPage(ctx context.Context, loc string, offset, count int) ([]discharge.Capacity, int, error) {
	const op = "sqlstore.Capacity.HistoryPage"
	if !recordable(loc) {
		return []discharge.Capacity{}, 0, nil // never recorded (RecordBatch refuses such ids)
	}
	q := &query{}
	at := q.arg(loc)
	page := pageOf(q, "SELECT version, posting FROM capacity_postings WHERE location = "+at,
		"SELECT COUNT(*) AS total FROM capacity_postings WHERE location = "+at,
		"version DESC", "p.version DESC", offset, count)
	out := []discharge.Capacity{}
	total := 0
	err := c.s.readRows(ctx, op, "", page, q.args, func(rs rows) error {
		out, total = out[:0], 0
		for rs.Next() {
			var v sql.NullInt64
			var body sql.NullString
			if err := rs.Scan(&total, &v, &body); err != nil {
				return err
			}
			if !v.Valid {
				continue // an empty page: the total alone
			}
			cp := decodePosting(body.String, v.Int64)
			if cp.LocationID == "" {
				return discharge.E(discharge.KindInternal, "", "unreadable capacity posting in the record")
			}
			out = append(out, cp)
		}
		return nil
	})
	if err != nil {
		return nil, 0, err
	}
	return out, total, nil
}

// recordable says whether the record can hold a location id: non-empty
// UTF-8 text without a NUL, which PostgreSQL refuses.
func recordable(loc string) bool {
	return loc != "" && utf8.ValidString(loc) && strings.IndexByte(loc, 0) < 0
}

// decodePosting reads a stored posting; a body that does not decode gives
// a zero Capacity (no LocationID).
func decodePosting(body string, version int64) discharge.Capacity {
	c, err := postingjson.Decode([]byte(body), version)
	if err != nil {
		return discharge.Capacity{}
	}
	return c
}
