package sqlstore

import (
	"context"
	"database/sql"
	"strings"

	"github.com/dischargegateway/gateway/discharge"
)

// Migration 16: the virtual wards' daily figures (issue 18). A posting
// with a virtual-ward bed (discharge.BedVirtualWard) writes its ward's row
// for the posting's day (England's civil day of its asOf) in the
// transaction that records it (Capacity.Record), so the occupancy report
// reads one narrow row per ward and day, never the postings:
//
//   - occupied, capacity: the day's latest posting (the highest asOf; an
//     equal asOf, a correction, replaces);
//   - peak: the highest occupancy posted that day. A correction that
//     lowers a figure does not lower the peak it already raised.
//
// A posting without a virtual-ward bed for a location whose previous
// posting had one closes the ward: its row for that day becomes 0 of 0.
// Postings older than the location's latest are not recorded (the capacity
// record ignores them), so a late figure for a past day never reaches
// these rows. Like capacity_postings, the rows are not patient data: no
// partition column and no row-level security. No backfill: the bed type is
// new with this migration, so no earlier posting has one.

var virtualWardSchema = []string{
	`CREATE TABLE virtual_ward_days (
    location TEXT    NOT NULL,
    day      BIGINT  NOT NULL,
    as_of    BIGINT  NOT NULL,
    occupied INTEGER NOT NULL,
    capacity INTEGER NOT NULL,
    peak     INTEGER NOT NULL,
    PRIMARY KEY (location, day))`,
	`CREATE INDEX virtual_ward_days_by_day ON virtual_ward_days (day)`,
}

// migrateVirtualWards is migration 16: the same statements on both engines.
func migrateVirtualWards(ctx context.Context, tx *sql.Tx) error {
	return execDDL(ctx, tx, virtualWardSchema)
}

// wardDayUpsert writes a ward's figures for a day; CASE rather than
// GREATEST/MAX keeps one statement for both engines.
const wardDayUpsert = `INSERT INTO virtual_ward_days (location, day, as_of, occupied, capacity, peak)
VALUES ($1, $2, $3, $4, $5, $4)
ON CONFLICT (location, day) DO UPDATE SET
  occupied = CASE WHEN excluded.as_of >= virtual_ward_days.as_of THEN excluded.occupied ELSE virtual_ward_days.occupied END,
  capacity = CASE WHEN excluded.as_of >= virtual_ward_days.as_of THEN excluded.capacity ELSE virtual_ward_days.capacity END,
  as_of = CASE WHEN excluded.as_of >= virtual_ward_days.as_of THEN excluded.as_of ELSE virtual_ward_days.as_of END,
  peak = CASE WHEN excluded.peak > virtual_ward_days.peak THEN excluded.peak ELSE virtual_ward_days.peak END`

// recordWardDay writes the day's row of a posting being recorded in tx, if
// it has a virtual-ward bed or prev (the location's previous posting, as
// stored; "" for none) had one. Ordinary care-home postings cost a
// substring test, no statement.
func recordWardDay(ctx context.Context, tx *sql.Tx, p discharge.Capacity, prev string) error {
	b, ok := p.VirtualWardBeds()
	if !ok {
		if !strings.Contains(prev, string(discharge.BedVirtualWard)) {
			return nil
		}
		if _, had := decodePosting(prev, 1).VirtualWardBeds(); !had {
			return nil
		}
		b = discharge.BedCapacity{Type: discharge.BedVirtualWard}
	}
	_, err := tx.ExecContext(ctx, wardDayUpsert, p.LocationID, discharge.DayNumber(discharge.WardDayOf(p.AsOf)),
		p.AsOf.UnixMilli(), b.Occupied, b.MaxCapacity)
	return err
}

// VirtualWards reads the virtual wards' daily figures
// (sitrep.WardDays).
type VirtualWards struct{ s *Store }

// NewVirtualWards returns the virtual wards' figures kept in s.
func NewVirtualWards(s *Store) *VirtualWards { return &VirtualWards{s: s} }

// WardDays returns every ward's rows for the days [fromDay, toDay]
// (discharge.DayNumber), by location and day.
func (v *VirtualWards) WardDays(ctx context.Context, fromDay, toDay int64) ([]discharge.WardDay, error) {
	const op = "sqlstore.VirtualWards.WardDays"
	var out []discharge.WardDay
	err := v.s.readRows(ctx, op, "",
		`SELECT location, day, occupied, capacity, peak FROM virtual_ward_days WHERE day >= $1 AND day <= $2 ORDER BY location, day`,
		[]any{fromDay, toDay}, func(rs rows) error {
			out = out[:0]
			for rs.Next() {
				var w discharge.WardDay
				var day int64
				if err := rs.Scan(&w.Location, &day, &w.Occupied, &w.Capacity, &w.PeakOccupied); err != nil {
					return err
				}
				w.Day = discharge.DateOfDay(day)
				out = append(out, w)
			}
			return nil
		})
	return out, err
}
