package sqlstore

import (
	"context"
	"database/sql"

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

// wardDayApplied is the condition under which a posting's ward-day row is
// written: the posting was applied (its asOf is now the location's
// latest; an older posting is ignored by the record, RecordBatch).
const wardDayApplied = `(SELECT as_of FROM capacity_postings WHERE location = $1 ORDER BY version DESC LIMIT 1) = $3`

// wardDayOpen writes the day's row of an applied posting with a
// virtual-ward bed.
const wardDayOpen = `INSERT INTO virtual_ward_days (location, day, as_of, occupied, capacity, peak)
SELECT CAST($1 AS TEXT), CAST($2 AS BIGINT), CAST($3 AS BIGINT), CAST($4 AS INTEGER), CAST($5 AS INTEGER), CAST($4 AS INTEGER) WHERE ` + wardDayApplied + `
ON CONFLICT (location, day) DO UPDATE SET` + wardDayUpdate

// wardDayClose writes 0 of 0 for the day of an applied posting without a
// virtual-ward bed at a location whose latest day row has places: a ward
// that closed. A care home (no day rows) writes nothing.
const wardDayClose = `INSERT INTO virtual_ward_days (location, day, as_of, occupied, capacity, peak)
SELECT CAST($1 AS TEXT), CAST($2 AS BIGINT), CAST($3 AS BIGINT), 0, 0, 0 WHERE ` + wardDayApplied + `
  AND (SELECT capacity FROM virtual_ward_days WHERE location = $1 ORDER BY day DESC LIMIT 1) > 0
ON CONFLICT (location, day) DO UPDATE SET` + wardDayUpdate

// wardDayUpdate keeps a day's latest figures (an equal asOf, a
// correction, replaces) and its peak.
const wardDayUpdate = `
  occupied = CASE WHEN excluded.as_of >= virtual_ward_days.as_of THEN excluded.occupied ELSE virtual_ward_days.occupied END,
  capacity = CASE WHEN excluded.as_of >= virtual_ward_days.as_of THEN excluded.capacity ELSE virtual_ward_days.capacity END,
  as_of = CASE WHEN excluded.as_of >= virtual_ward_days.as_of THEN excluded.as_of ELSE virtual_ward_days.as_of END,
  peak = CASE WHEN excluded.peak > virtual_ward_days.peak THEN excluded.peak ELSE virtual_ward_days.peak END`

// wardDay is the statement, run in the posting's transaction after its
// insert (RecordBatch, both engines), that keeps the location's day row of
// the virtual-ward report: wardDayOpen for a posting with a virtual-ward
// bed, else wardDayClose. Each writes only when the posting was applied.
func wardDay(p discharge.Capacity) (string, []any) {
	day, at := discharge.DayNumber(discharge.WardDayOf(p.AsOf)), p.AsOf.UnixMilli()
	if b, ok := p.VirtualWardBeds(); ok {
		return wardDayOpen, []any{p.LocationID, day, at, b.Occupied, b.MaxCapacity}
	}
	return wardDayClose, []any{p.LocationID, day, at}
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
