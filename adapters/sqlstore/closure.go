package sqlstore

import (
	"context"

	"github.com/dischargegateway/gateway/referral"
)

var _ referral.EndedCases = (*Referral)(nil)

// EndedCases finds cases whose Encounter is stored ended (its status search
// token finished, cancelled or entered-in-error) with offers still open, or
// finished with a confirmed offer not yet completed: the closures the
// write path lost. The partitions come from offer_timers (every open offer
// has a timer; no row-level security), then one statement per partition
// under its own app.partition, at most limit cases in all.
func (r *Referral) EndedCases(ctx context.Context, limit int) ([]referral.CaseEnd, error) {
	const op = "sqlstore.Referral.EndedCases"
	var parts []string
	err := r.s.readRows(ctx, op, "", `SELECT DISTINCT partition FROM offer_timers ORDER BY partition`, nil, func(rs rows) error {
		parts = parts[:0]
		for rs.Next() {
			var p string
			if err := rs.Scan(&p); err != nil {
				return err
			}
			parts = append(parts, p)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	var out []referral.CaseEnd
	for _, p := range parts {
		if len(out) >= limit {
			break
		}
		var got []referral.CaseEnd
		err := r.s.readRows(ctx, op, p, `SELECT DISTINCT o.encounter, t.token FROM offers o JOIN search_token t
			ON t.partition = o.partition AND t.type = 'Encounter' AND t.param = 'status' AND t.id = o.encounter
			WHERE o.partition = $1 AND (t.token IN ('cancelled', 'entered-in-error') AND o.state IN ('requested', 'received', 'accepted')
				OR t.token = 'finished' AND o.state IN ('requested', 'received', 'accepted', 'in-progress'))
			ORDER BY o.encounter LIMIT $2`, []any{p, limit - len(out)}, func(rs rows) error {
			got = got[:0]
			for rs.Next() {
				var enc, token string
				if err := rs.Scan(&enc, &token); err != nil {
					return err
				}
				got = append(got, referral.CaseEnd{Partition: p, EncounterID: enc, Finished: token == "finished"})
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		out = append(out, got...)
	}
	return out, nil
}
