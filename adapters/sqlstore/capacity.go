package sqlstore

import (
	"context"
	"database/sql"
	"time"

	"github.com/dischargegateway/gateway/adapters/postingjson"
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
// was applied. Two postings for one location at once both try the next
// version; the primary key lets one win and the other runs again, so it
// sees the winner.
func (c *Capacity) Record(ctx context.Context, p discharge.Capacity) (discharge.Capacity, bool, error) {
	const op = "sqlstore.Capacity.Record"
	p.Version = 0
	body, err := postingjson.Encode(discharge.Capacity{LocationID: p.LocationID, AsOf: p.AsOf, Beds: p.Beds, HomeCare: p.HomeCare})
	if err != nil {
		return p, false, discharge.Wrap(discharge.KindInternal, op, err)
	}
	var cur discharge.Capacity
	var applied bool
	for attempt := 1; ; attempt++ {
		err = c.s.inTx(ctx, op, "", false, func(tx *sql.Tx) error {
			var v, asOf int64
			var stored string
			err := tx.QueryRowContext(ctx,
				`SELECT version, as_of, posting FROM capacity_postings WHERE location = $1 ORDER BY version DESC LIMIT 1`,
				p.LocationID).Scan(&v, &asOf, &stored)
			switch {
			case err == sql.ErrNoRows:
			case err != nil:
				return err
			case asOf > p.AsOf.UnixMilli():
				cur, applied, err = decodePosting(stored, v), false, nil
				if cur.LocationID == "" {
					return discharge.E(discharge.KindInternal, "", "unreadable capacity posting in the record")
				}
				return nil
			}
			if _, err := tx.ExecContext(ctx,
				`INSERT INTO capacity_postings (location, version, as_of, posting, recorded_at) VALUES ($1, $2, $3, $4, $5)`,
				p.LocationID, v+1, p.AsOf.UnixMilli(), string(body), time.Now().UnixNano()); err != nil {
				return err
			}
			if err := outboxCapacity(ctx, tx, p.LocationID, v+1); err != nil {
				return err
			}
			// A virtual ward's daily figures (virtualward.go).
			if err := recordWardDay(ctx, tx, p, stored); err != nil {
				return err
			}
			cur, applied = p, true
			cur.Version = v + 1
			return nil
		})
		if discharge.ErrorKind(err) != discharge.KindRetry {
			break
		}
		if attempt >= c.s.maxAttempts {
			return p, false, discharge.Wrap(discharge.KindUnavailable, op, err)
		}
		c.s.retries.Add(1)
	}
	if err != nil {
		return p, false, err
	}
	return cur, applied, nil
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

// decodePosting reads a stored posting; a body that does not decode gives
// a zero Capacity (no LocationID).
func decodePosting(body string, version int64) discharge.Capacity {
	c, err := postingjson.Decode([]byte(body), version)
	if err != nil {
		return discharge.Capacity{}
	}
	return c
}
