package sqlstore

import (
	"context"
	"database/sql"
	"math"
	"strings"
	"time"

	"github.com/dischargegateway/gateway/cases"
	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/fhir"
	"github.com/dischargegateway/gateway/referral"
)

// Cases reads the case view's data: the case_events and offers the offer
// workflow writes, and the Encounters' search index rows (pathway, the
// discharge dates, nctr-since) that the worklist filters and sorts on. It
// appends the one event the case view writes, a hub's triage decision.
type Cases struct{ s *Store }

var _ cases.Store = (*Cases)(nil)

// NewCases returns the case view's store on s.
func NewCases(s *Store) *Cases { return &Cases{s: s} }

const eventColumns = "seq, at, kind, state, actor, actor_org, task_id, provider_org, detail"

func scanEvent(rs scanner, partition, caseID string) (referral.Event, error) {
	e := referral.Event{Partition: partition, CaseID: caseID}
	var at int64
	var kind, state string
	if err := rs.Scan(&e.Seq, &at, &kind, &state, &e.Actor, &e.ActorOrg, &e.TaskID, &e.ProviderOrg, &e.Detail); err != nil {
		return e, err
	}
	e.At, e.Kind, e.State = fromNanos(at), referral.EventKind(kind), referral.CaseState(state)
	return e, nil
}

// Events returns a case's events in order.
func (c *Cases) Events(ctx context.Context, partition, caseID string) ([]referral.Event, error) {
	var out []referral.Event
	err := c.s.readRows(ctx, "sqlstore.Events", partition,
		"SELECT "+eventColumns+" FROM case_events WHERE partition = $1 AND case_id = $2 ORDER BY seq",
		[]any{partition, caseID}, func(rs rows) error {
			out = nil
			for rs.Next() {
				e, err := scanEvent(rs, partition, caseID)
				if err != nil {
					return err
				}
				out = append(out, e)
			}
			return nil
		})
	return out, err
}

// Offers returns a case's offers, oldest first, each with its latest hold.
// The offers table names the case by the Encounter's id or reference; both
// are matched.
func (c *Cases) Offers(ctx context.Context, partition, caseID string) ([]discharge.Offer, error) {
	const q = `SELECT o.task_id, o.owner_org, o.owner, o.requester, o.service_request, o.encounter, o.patient, o.location,
	o.healthcare_service, o.state, o.business_status, o.deadline, o.version, o.created_at, o.updated_at,
	h.id, h.location, h.bed_type, h.state, h.created_at, h.expires_at
FROM offers o LEFT JOIN holds h ON h.partition = o.partition AND h.task_id = o.task_id
WHERE o.partition = $1 AND o.encounter IN ($2, $3)
ORDER BY o.created_at, o.task_id, h.created_at`
	var out []discharge.Offer
	err := c.s.readRows(ctx, "sqlstore.Offers", partition, q, []any{partition, caseID, "Encounter/" + caseID}, func(rs rows) error {
		out = nil
		for rs.Next() {
			o := discharge.Offer{Partition: partition}
			var state, bs string
			var deadline, created, updated int64
			var hid, hloc, hbed, hstate sql.NullString
			var hcreated, hexp sql.NullInt64
			if err := rs.Scan(&o.ID, &o.OwnerOrg, &o.Owner, &o.Requester, &o.ServiceRequestID, &o.EncounterID, &o.PatientID,
				&o.LocationID, &o.HealthcareServiceID, &state, &bs, &deadline, &o.Version, &created, &updated,
				&hid, &hloc, &hbed, &hstate, &hcreated, &hexp); err != nil {
				return err
			}
			o.State, o.BusinessStatus = discharge.OfferState(state), discharge.BusinessStatus(bs)
			o.Deadline, o.Created, o.Updated = fromNanos(deadline), fromNanos(created), fromNanos(updated)
			if hid.Valid {
				o.Hold = &discharge.Hold{ID: hid.String, LocationID: hloc.String, BedType: discharge.BedType(hbed.String),
					State: discharge.HoldState(hstate.String), Created: fromNanos(hcreated.Int64), Expires: fromNanos(hexp.Int64)}
			}
			if n := len(out); n > 0 && out[n-1].ID == o.ID {
				out[n-1] = o // a later hold of the same offer
				continue
			}
			out = append(out, o)
		}
		return nil
	})
	return out, err
}

// AppendEvent stores e after the case's latest event, numbered by the one
// rule every writer of case_events follows (lockCases): the case's
// case_worklist row is locked first, and the INSERT then takes the highest
// seq plus one, so a concurrent offer change to the same case numbers its
// events after this one, or this one after them.
func (c *Cases) AppendEvent(ctx context.Context, e referral.Event) (referral.Event, error) {
	err := c.s.inTx(ctx, "sqlstore.AppendEvent", e.Partition, false, func(tx *sql.Tx) (err error) {
		e.Seq, err = appendCaseEvent(ctx, tx, e)
		return err
	})
	if err != nil {
		return referral.Event{}, err
	}
	return e, nil
}

// appendCaseEvent is AppendEvent's statements in tx.
func appendCaseEvent(ctx context.Context, tx *sql.Tx, e referral.Event) (seq int64, err error) {
	const q = `INSERT INTO case_events (partition, case_id, seq, at, kind, state, actor, actor_org, task_id, provider_org, detail)
SELECT $1, $2, COALESCE(MAX(seq), 0) + 1, $3, $4, $5, $6, $7, $8, $9, $10 FROM case_events WHERE partition = $1 AND case_id = $2
RETURNING seq`
	if err := lockCases(ctx, tx, e.Partition, e.CaseID); err != nil {
		return 0, err
	}
	err = tx.QueryRowContext(ctx, q, e.Partition, e.CaseID, toNanos(e.At), string(e.Kind), string(e.State),
		e.Actor, e.ActorOrg, e.TaskID, e.ProviderOrg, e.Detail).Scan(&seq)
	return seq, err
}

// The Encounter search parameters the worklist reads (fhir/search.go's
// table indexes them).
const (
	paramDRD     = "discharge-ready-date"
	paramEDD     = "expected-discharge-date"
	paramNCTR    = "nctr-since"
	paramPathway = "pathway"
)

// pathwayTokens are the index tokens of pathway codes (system|code).
func pathwayTokens(codes []string) []string {
	sys := fhir.IndexedExtensions()["pathway-system"]
	out := make([]string, len(codes))
	for i, c := range codes {
		out[i] = sys + "|" + c
	}
	return out
}

// Worklist runs one partition's worklist query: one statement, the page,
// the count of every match and of the escalated ones among them, in one
// snapshot, over the partition's case_worklist rows (the projection
// migration 8's triggers keep; see cases_projection.go).
func (c *Cases) Worklist(ctx context.Context, partition string, wq cases.WorklistQuery) (cases.WorklistResult, error) {
	const op = "sqlstore.Worklist"
	return c.worklistRun(ctx, op, partition, c.worklistSQL(partition, wq))
}

// worklistSQL builds the worklist statement: the count (and the escalated
// count) of the matching rows, and one sorted page of them, as one
// statement whose rows are (total, escalated, the page's columns…); an
// empty page is one row of the counts and NULLs. Counting apart from the
// page lets the page be a top-N sort: a window count over the page's own
// query made both engines sort every match (three times the time over
// 10,000 cases).
func (c *Cases) worklistSQL(partition string, wq cases.WorklistQuery) *query {
	q := &query{}
	where := &strings.Builder{}
	where.WriteString("w.partition = " + q.arg(partition) + " AND w.enc = 1")
	closed := "w.state IN (" + q.arg(string(referral.CaseDischarged)) + ", " + q.arg(string(referral.CaseCancelled)) + ")"
	if len(wq.States) == 0 {
		where.WriteString(" AND w.enc_closed = 0 AND NOT " + closed)
	} else {
		states := make([]string, len(wq.States))
		for i, s := range wq.States {
			states[i] = q.arg(string(s))
		}
		where.WriteString(" AND w.state IN (" + strings.Join(states, ", ") + ")")
	}
	if len(wq.Pathways) > 0 {
		ps := make([]string, len(wq.Pathways))
		for i, p := range wq.Pathways {
			ps[i] = q.arg(p)
		}
		where.WriteString(" AND w.pathway IN (" + strings.Join(ps, ", ") + ")")
	}
	if wq.NCTRSinceAtMost != nil {
		where.WriteString(" AND w.nctr <= " + q.arg(unixSeconds(*wq.NCTRSinceAtMost)))
	}
	// flag is 1 for an escalated case: its first offer unanswered by an
	// acceptance since OfferCutoff, or not meeting the criteria to reside
	// since NCTRCutoff. A closed case is never escalated
	// (cases.Service.item agrees).
	var conds []string
	if !wq.OfferRuleOff {
		conds = append(conds, "(w.first_offer IS NOT NULL AND w.first_accept IS NULL AND w.first_offer <= "+q.arg(toNanos(wq.OfferCutoff))+")")
	}
	if !wq.NCTRRuleOff {
		conds = append(conds, "(w.nctr IS NOT NULL AND w.nctr <= "+q.arg(unixSeconds(wq.NCTRCutoff))+")")
	}
	if len(conds) == 0 {
		conds = []string{"1 = 0"}
	}
	flag := "(CASE WHEN NOT " + closed + " AND (" + strings.Join(conds, " OR ") + ") THEN 1 ELSE 0 END)"
	if wq.Escalated != nil {
		want := "0"
		if *wq.Escalated {
			want = "1"
		}
		where.WriteString(" AND " + flag + " = " + want)
	}
	// order sorts missing dates last: PostgreSQL's ascending order does,
	// and its indexes (partition, nctr|drd, id) then give the page;
	// SQLite's puts NULL first, so it sorts on an expression.
	order := func(a string) string {
		key := a + ".nctr"
		switch wq.Sort {
		case cases.SortUpdated:
			return "CASE WHEN " + a + ".ev_at > " + a + ".lu THEN " + a + ".ev_at ELSE " + a + ".lu END DESC, " + c.s.byteOrder(a+".id")
		case cases.SortDRD:
			key = a + ".drd"
		}
		if c.s.eng == enginePostgres {
			return key + ", " + c.s.byteOrder(a+".id")
		}
		return "CASE WHEN " + key + " IS NULL THEN 1 ELSE 0 END, " + key + ", " + a + ".id"
	}
	w := where.String()
	page := "SELECT w.case_id AS id, w.lu, w.state, w.ev_at, w.first_offer, w.first_accept, w.drd, w.edd, w.nctr, w.pathway FROM case_worklist w WHERE " + w
	q.sql("SELECT c.total, c.escalated, p.id, p.lu, p.state, p.ev_at, p.first_offer, p.first_accept, p.drd, p.edd, p.nctr, p.pathway FROM (",
		"SELECT COUNT(*) AS total, COALESCE(SUM(", flag, "), 0) AS escalated FROM case_worklist w WHERE ", w,
		") AS c LEFT JOIN (", page, " ORDER BY ", strings.ReplaceAll(order("w"), "w.id", "w.case_id"),
		" LIMIT ", q.arg(max(wq.Limit, 0)), " OFFSET ", q.arg(max(wq.Offset, 0)), ") AS p ON 1 = 1 ORDER BY ", order("p"))
	return q
}

// worklistRun reads the rows of the worklist statement q.
func (c *Cases) worklistRun(ctx context.Context, op, partition string, q *query) (cases.WorklistResult, error) {
	var out []cases.WorklistRow
	var total, escalated int
	err := c.s.readRows(ctx, op, partition, q.b.String(), q.args, func(rs rows) error {
		out, total, escalated = nil, 0, 0
		for rs.Next() {
			r := cases.WorklistRow{Partition: partition}
			var id, state, pathway sql.NullString
			var lu, evAt, firstOffer, firstAccept sql.NullInt64
			var drd, edd, nctr sql.NullFloat64
			if err := rs.Scan(&total, &escalated, &id, &lu, &state, &evAt, &firstOffer, &firstAccept, &drd, &edd, &nctr, &pathway); err != nil {
				return err
			}
			if !id.Valid {
				continue // the empty page's row of counts
			}
			r.CaseID, r.State = id.String, referral.CaseState(state.String)
			r.Updated = fromNanos(max(lu.Int64, evAt.Int64))
			r.FirstOfferSent, r.FirstAcceptance = fromNanos(firstOffer.Int64), fromNanos(firstAccept.Int64)
			r.DRD, r.EDD, r.NCTRSince = dayOf(drd), dayOf(edd), dayOf(nctr)
			r.Pathway = pathway.String
			out = append(out, r)
		}
		return nil
	})
	if err != nil {
		return cases.WorklistResult{}, err
	}
	return cases.WorklistResult{Rows: out, Total: total, Escalated: escalated}, nil
}

// dayOf is the civil date (UTC) of an indexed date's low bound, in Unix
// seconds.
func dayOf(v sql.NullFloat64) *discharge.Date {
	if !v.Valid || math.IsInf(v.Float64, 0) || math.Abs(v.Float64) > 1e11 {
		return nil
	}
	sec, frac := math.Modf(v.Float64)
	d := discharge.DateOf(time.Unix(int64(sec), int64(frac*1e9)).UTC())
	return &d
}

func unixSeconds(t time.Time) float64 { return float64(t.Unix()) + float64(t.Nanosecond())/1e9 }

// Facts returns the measure inputs of the partition's cases whose
// Discharge Ready Date is on or after since.
func (c *Cases) Facts(ctx context.Context, partition string, since time.Time) ([]cases.CaseFacts, error) {
	q := &query{}
	p, enc := q.arg(partition), q.arg("Encounter")
	q.sql(`SELECT d.id, d.low, n.low, e.kind, e.at, e.provider_org FROM search_range d
LEFT JOIN search_range n ON n.partition = `, p, ` AND n.type = `, enc, ` AND n.id = d.id AND n.param = `, q.arg(paramNCTR), `
LEFT JOIN case_events e ON e.partition = `, p, ` AND e.case_id = d.id AND `)
	in(q, "e.kind", []string{string(referral.EventShortlisted), string(referral.EventOfferSent), string(referral.EventOfferAccepted),
		string(referral.EventConfirmed), string(referral.EventDischarged)})
	q.sql(` WHERE d.partition = `, p, ` AND d.type = `, enc, ` AND d.param = `, q.arg(paramDRD), ` AND d.low >= `, q.arg(unixSeconds(since)),
		` ORDER BY d.id, e.seq`)
	var out []cases.CaseFacts
	var events []referral.Event
	flush := func() {
		if n := len(out); n > 0 {
			f := &out[n-1]
			f.Milestones = cases.MilestonesOf(events, time.Time{})
			for _, e := range events {
				if e.Kind == referral.EventConfirmed && f.Provider == "" {
					f.Provider = e.ProviderOrg
				}
			}
		}
		events = events[:0]
	}
	err := c.s.readRows(ctx, "sqlstore.Facts", partition, q.b.String(), q.args, func(rs rows) error {
		out, events = nil, nil
		for rs.Next() {
			var id string
			var drd float64
			var nctr sql.NullFloat64
			var kind, prov sql.NullString
			var at sql.NullInt64
			if err := rs.Scan(&id, &drd, &nctr, &kind, &at, &prov); err != nil {
				return err
			}
			if n := len(out); n == 0 || out[n-1].CaseID != id {
				flush()
				out = append(out, cases.CaseFacts{Partition: partition, CaseID: id,
					DRD: dayOf(sql.NullFloat64{Float64: drd, Valid: true}), NCTRSince: dayOf(nctr)})
			}
			if kind.Valid {
				events = append(events, referral.Event{Kind: referral.EventKind(kind.String), At: fromNanos(at.Int64), ProviderOrg: prov.String})
			}
		}
		flush()
		return nil
	})
	return out, err
}

// Answers returns the partition's offers sent since since, each with the
// time of its first answer (accepted, rejected or expired) and whether
// that answer was an acceptance.
func (c *Cases) Answers(ctx context.Context, partition string, since time.Time) ([]cases.Answer, error) {
	q := &query{}
	p := q.arg(partition)
	q.sql(`SELECT s.provider_org, s.at,
	(SELECT MIN(a.at) FROM case_events a WHERE a.partition = `, p, ` AND a.case_id = s.case_id AND a.task_id = s.task_id AND `)
	in(q, "a.kind", []string{string(referral.EventOfferAccepted), string(referral.EventOfferRejected), string(referral.EventOfferExpired)})
	q.sql(`),
	(SELECT MIN(a.at) FROM case_events a WHERE a.partition = `, p, ` AND a.case_id = s.case_id AND a.task_id = s.task_id AND a.kind = `,
		q.arg(string(referral.EventOfferAccepted)), `)
FROM case_events s WHERE s.partition = `, p, ` AND s.kind = `, q.arg(string(referral.EventOfferSent)), ` AND s.at >= `, q.arg(toNanos(since)))
	var out []cases.Answer
	err := c.s.readRows(ctx, "sqlstore.Answers", partition, q.b.String(), q.args, func(rs rows) error {
		out = nil
		for rs.Next() {
			var a cases.Answer
			var sent int64
			var answered, accepted sql.NullInt64
			if err := rs.Scan(&a.Provider, &sent, &answered, &accepted); err != nil {
				return err
			}
			a.Sent, a.Answered = fromNanos(sent), fromNanos(answered.Int64)
			a.Accepted = accepted.Valid && answered.Valid && accepted.Int64 == answered.Int64
			out = append(out, a)
		}
		return nil
	})
	return out, err
}
