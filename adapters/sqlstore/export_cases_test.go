package sqlstore

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/dischargegateway/gateway/cases"
	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/referral"
)

// InsertOffer writes an offers row as the offer workflow would (its writer
// lives on another branch of the work): the case view only reads them.
func InsertOffer(ctx context.Context, s *Store, o discharge.Offer) error {
	return s.inTx(ctx, "test.InsertOffer", o.Partition, false, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO offers (partition, task_id, owner_org, owner, requester, service_request,
			encounter, patient, location, healthcare_service, state, business_status, deadline, version, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)`,
			o.Partition, o.ID, o.OwnerOrg, o.Owner, o.Requester, o.ServiceRequestID, o.EncounterID, o.PatientID, o.LocationID,
			o.HealthcareServiceID, string(o.State), string(o.BusinessStatus), toNanos(o.Deadline), o.Version, toNanos(o.Created), toNanos(o.Updated))
		return err
	})
}

// InsertEvents writes case events in one transaction, seq as given: a
// benchmark's bulk load.
func InsertEvents(ctx context.Context, s *Store, partition string, evs []referral.Event) error {
	return s.inTx(ctx, "test.InsertEvents", partition, false, func(tx *sql.Tx) error {
		var rows [][]any
		for _, e := range evs {
			rows = append(rows, []any{partition, e.CaseID, e.Seq, toNanos(e.At), string(e.Kind), string(e.State), e.Actor, e.ActorOrg, e.TaskID, e.ProviderOrg, e.Detail})
		}
		_, err := s.insertRows(ctx, tx, "INSERT INTO case_events (partition, case_id, seq, at, kind, state, actor, actor_org, task_id, provider_org, detail) VALUES ", "", rows)
		return err
	})
}

// RawRows runs q in partition as the store runs its reads (one round trip
// with the partition's setting on PostgreSQL) and counts its rows: the
// baseline a benchmark compares the store's own queries with.
func RawRows(ctx context.Context, s *Store, partition, q string, args ...any) (int, error) {
	n := 0
	err := s.readRows(ctx, "test.RawRows", partition, q, args, func(rs rows) error {
		for rs.Next() {
			n++
		}
		return nil
	})
	return n, err
}

// Analyze refreshes the planner's statistics, as autovacuum (PostgreSQL)
// or the gateway's periodic optimize would.
func Analyze(ctx context.Context, s *Store) error {
	_, err := s.db.ExecContext(ctx, "ANALYZE")
	return err
}

// WorklistSQL is the worklist statement and its arguments (for EXPLAIN).
func WorklistSQL(c *Cases, partition string, wq cases.WorklistQuery) (string, []any) {
	q := c.worklistSQL(partition, wq)
	return q.b.String(), q.args
}

// Explain prints the plan of q as the store would run it in partition.
func Explain(ctx context.Context, s *Store, partition, q string, args ...any) (string, error) {
	prefix := "EXPLAIN QUERY PLAN "
	if s.eng == enginePostgres {
		prefix = "EXPLAIN (ANALYZE, BUFFERS) "
	}
	var out string
	err := s.readRows(ctx, "test.Explain", partition, prefix+q, args, func(rs rows) error {
		for rs.Next() {
			if s.eng == enginePostgres {
				var line string
				if err := rs.Scan(&line); err != nil {
					return err
				}
				out += line + "\n"
				continue
			}
			var id, parent, notused int
			var detail string
			if err := rs.Scan(&id, &parent, &notused, &detail); err != nil {
				return err
			}
			out += fmt.Sprintf("%d %d %s\n", id, parent, detail)
		}
		return nil
	})
	return out, err
}

// RebuildWorklist empties case_worklist and fills it again with migration
// 8's backfill: every partition's rows on SQLite, partition's alone on
// PostgreSQL (its row-level security scopes both statements).
func RebuildWorklist(ctx context.Context, s *Store, partition string) error {
	return s.inTx(ctx, "test.RebuildWorklist", partition, false, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, "DELETE FROM case_worklist"); err != nil {
			return err
		}
		for _, q := range worklistBackfill() {
			if _, err := tx.ExecContext(ctx, q); err != nil {
				return err
			}
		}
		return nil
	})
}

// AppendEventOpen appends e as the hub's triage does (Cases.AppendEvent)
// in a transaction it leaves open, holding its locks, until the returned
// end is called: commit or roll back. A test of what a concurrent writer
// of the same case does meanwhile.
func AppendEventOpen(ctx context.Context, s *Store, e referral.Event) (end func(commit bool) error, err error) {
	tx, err := s.db.BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelReadCommitted})
	if err != nil {
		return nil, err
	}
	if s.eng == enginePostgres {
		if _, err := tx.ExecContext(ctx, "SELECT set_config('app.partition', $1, true)", e.Partition); err != nil {
			tx.Rollback()
			return nil, err
		}
	}
	if _, err := appendCaseEvent(ctx, tx, e); err != nil {
		tx.Rollback()
		return nil, err
	}
	return func(commit bool) error {
		if commit {
			return tx.Commit()
		}
		return tx.Rollback()
	}, nil
}
