package sqlstore

import (
	"context"
	"database/sql"
	"slices"
	"strings"
	"time"

	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/referral"
)

// ProviderAnswers are the answers of each of owners (directory
// Organization ids) to the offers created since since: accepted (an offer
// that took a hold: every acceptance does, at the moment it is made) or
// declined (state rejected), with the median time from offer to answer.
// One statement per 500 owners.
//
// offers has row-level security by partition, and these figures span
// every trust's offers; on PostgreSQL the transaction sets app.answers,
// which migration 8's SELECT-only policy admits. Only owner, state and
// times are read: no patient reference leaves the statement.
func (r *Referral) ProviderAnswers(ctx context.Context, owners []string, since time.Time) (map[string]discharge.Answers, error) {
	const op = "sqlstore.Referral.ProviderAnswers"
	took := map[string][]time.Duration{}
	out := map[string]discharge.Answers{}
	for start := 0; start < len(owners); start += rowsPerInsert {
		chunk := owners[start:min(len(owners), start+rowsPerInsert)]
		q := &query{}
		ph := make([]string, len(chunk))
		for i, o := range chunk {
			ph[i] = q.arg(o)
		}
		stmt := `SELECT o.owner, o.state, o.created_at, o.updated_at, COALESCE(h.created_at, 0) FROM offers o
			LEFT JOIN holds h ON h.partition = o.partition AND h.task_id = o.task_id
			WHERE o.owner IN (` + strings.Join(ph, ", ") + `) AND o.created_at >= ` + q.arg(since.UnixNano()) + `
			AND (o.state = 'rejected' OR h.id IS NOT NULL)`
		err := r.s.inTx(ctx, op, "", true, func(tx *sql.Tx) error {
			if r.s.eng == enginePostgres {
				if _, err := tx.ExecContext(ctx, "SELECT set_config('app.answers', 'on', true)"); err != nil {
					return err
				}
			}
			rs, err := tx.QueryContext(ctx, stmt, q.args...)
			if err != nil {
				return err
			}
			defer rs.Close()
			for rs.Next() {
				var owner, state string
				var created, updated, held int64
				if err := rs.Scan(&owner, &state, &created, &updated, &held); err != nil {
					return err
				}
				a := out[owner]
				a.Answered++
				answered := updated
				if held != 0 {
					a.Accepted++
					answered = held
				}
				out[owner] = a
				took[owner] = append(took[owner], time.Duration(max(answered-created, 0)))
			}
			return rs.Err()
		})
		if err != nil {
			return nil, err
		}
	}
	for owner, ds := range took {
		slices.Sort(ds)
		a := out[owner]
		if n := len(ds); n%2 == 1 {
			a.MedianAnswer = ds[n/2]
		} else {
			a.MedianAnswer = (ds[n/2-1] + ds[n/2]) / 2
		}
		out[owner] = a
	}
	return out, nil
}

// Shortlisted appends a case's shortlisted event when the case is still
// referred: it has no event yet, or its last event left it referred. The
// check is read first without a lock (a case past referred, the usual
// answer, costs one read), then again under the case's lock (lockCases),
// which orders it with every other append, so a case gets at most one.
func (r *Referral) Shortlisted(ctx context.Context, partition, caseID, actor, actorOrg string, at time.Time) error {
	const op = "sqlstore.Referral.Shortlisted"
	const last = `SELECT state FROM case_events WHERE partition = $1 AND case_id = $2 ORDER BY seq DESC LIMIT 1`
	var state string
	referred := func(err error) (bool, error) {
		switch {
		case err == nil:
			return referral.CaseState(state) == referral.CaseReferred, nil
		case discharge.ErrorKind(err) == discharge.KindNotFound, err == sql.ErrNoRows:
			return true, nil
		}
		return false, err
	}
	ok, err := referred(r.s.readRow(ctx, op, partition, last, []any{partition, caseID},
		func(row scanner) error { return row.Scan(&state) }))
	if err != nil || !ok {
		return err
	}
	return r.s.inTx(ctx, op, partition, false, func(tx *sql.Tx) error {
		if err := lockCases(ctx, tx, partition, caseID); err != nil {
			return err
		}
		state = ""
		ok, err := referred(tx.QueryRowContext(ctx, last, partition, caseID).Scan(&state))
		if err != nil || !ok {
			return err
		}
		return appendEvents(ctx, tx, partition, []referral.Event{{Partition: partition, CaseID: caseID, At: at,
			Kind: referral.EventShortlisted, State: referral.CaseShortlisted, Actor: actor, ActorOrg: actorOrg}})
	})
}
