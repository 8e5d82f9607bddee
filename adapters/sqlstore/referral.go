package sqlstore

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/fhir"
	"github.com/dischargegateway/gateway/referral"
)

// Referral is the referral loop's record (migration 6): each Task is a
// resource of its trust's partition, written by commitTx in the same
// transaction as its offers row, its timer, its hold, the case's events
// and an outbox row.
//
// The atomic hold: an accept transaction first locks its Task's row (the
// version-checked UPDATE in commitTx), then the (location, bed type) row
// of hold_locks (an upsert, which locks the row on PostgreSQL; SQLite has
// one writer anyway), and only then reads the Location's latest capacity
// posting and counts the active holds. Two accepts for the same beds
// therefore count one after the other, at READ COMMITTED, and there are
// never more active holds than the vacancies posted when each was taken.
// Locks are always taken in that order (Tasks in key order, the hold
// lock, then the cases' locks: lockCases), so accepts do not deadlock. A
// later posting below the active holds leaves them standing. On
// PostgreSQL the same statements go as one pipelined batch
// (pipelinedApply), the hold's read and count inside its INSERT.
type Referral struct {
	s *Store
	// rechecks counts the PostgreSQL pipeline's changes decided again in
	// an ordinary transaction (a new hold's condition failed in it).
	rechecks atomic.Int64
	// group shares transactions between concurrent changes on
	// PostgreSQL (referral_group.go); nil on SQLite, which has one
	// writer and commits each change alone. groups counts the groups
	// committed, groupFailures those a statement error (not a member's
	// failed check) rolled back.
	group                 *applyGroup
	groups, groupFailures atomic.Int64
}

var _ referral.Store = (*Referral)(nil)

// NewReferral returns the referral record kept in the store's database.
func NewReferral(s *Store) *Referral {
	r := &Referral{s: s}
	if s.eng == enginePostgres {
		r.group = &applyGroup{r: r, max: defaultGroup, flights: 2}
	}
	return r
}

// Read reads a Task (fhir.Store.Read).
func (r *Referral) Read(ctx context.Context, partition, typ, id string) (fhir.Resource, error) {
	return r.s.Read(ctx, partition, typ, id)
}

// ReadVersion reads one version of a Task.
func (r *Referral) ReadVersion(ctx context.Context, partition, typ, id string, version int64) (fhir.Resource, error) {
	return r.s.ReadVersion(ctx, partition, typ, id, version)
}

// History reads a page of a Task's versions.
func (r *Referral) History(ctx context.Context, partition, typ, id string, offset, count int) ([]fhir.Resource, int, error) {
	return r.s.History(ctx, partition, typ, id, offset, count)
}

// ReadMany reads several resources of one partition.
func (r *Referral) ReadMany(ctx context.Context, partition string, refs []fhir.Ref) (map[string]fhir.Resource, error) {
	return r.s.ReadMany(ctx, partition, refs)
}

// Apply stores a change in one transaction (referral.Store.Apply).
func (r *Referral) Apply(ctx context.Context, c referral.Change) error {
	const op = "sqlstore.Referral.Apply"
	ps := make([]prepared, len(c.Offers))
	for i, w := range c.Offers {
		p, err := prepare(fhir.Write{Resource: w.Task, ExpectVersion: w.ExpectVersion})
		if err != nil {
			return err
		}
		ps[i] = p
	}
	if r.group != nil && groupable(c) {
		alone, err := r.group.apply(ctx, c, ps)
		if !alone {
			return err
		}
	}
	return r.applyAlone(ctx, c, ps)
}

// applyAlone stores one change in a transaction of its own: on
// PostgreSQL as one pipelined batch, decided again in an ordinary
// transaction when a new hold's condition failed in it.
func (r *Referral) applyAlone(ctx context.Context, c referral.Change, ps []prepared) error {
	const op = "sqlstore.Referral.Apply"
	if r.s.eng == enginePostgres {
		recheck := false
		err := r.s.attempts(ctx, op, func() (err error) {
			recheck, err = r.pipelinedApply(ctx, c, ps)
			return err
		})
		if !recheck {
			return err
		}
		r.rechecks.Add(1)
		// A new hold's condition failed in the pipeline: decide again,
		// with the reads and the refusal's numbers, below.
	}
	return r.s.inTx(ctx, op, c.Partition, false, func(tx *sql.Tx) error {
		// The Tasks first: this checks every expected version (KindRetry
		// when one moved) and locks their rows.
		if err := r.s.commitTx(ctx, tx, c.Partition, ps, nil); err != nil {
			return err
		}
		at := toNanos(c.At)
		for _, w := range c.Offers {
			if err := writeOffer(ctx, tx, c.Partition, w, at); err != nil {
				return err
			}
		}
		return appendEvents(ctx, tx, c.Partition, c.Events)
	})
}

// stmt is one statement of a change and what it means when it changes
// fewer rows than want (want 0: no check).
type stmt struct {
	q     string
	args  []any
	want  int64
	short shortfall
}

// shortfall is what a stmt that changed fewer rows than it wanted means.
type shortfall int

const (
	// shortRetry: another change to the row won (KindRetry).
	shortRetry shortfall = iota
	// shortRecheck: the pipeline's hold condition failed; the change is
	// decided again in an ordinary transaction (pipelinedApply).
	shortRecheck
)

// execAll runs stmts in tx; a version check that fails is KindRetry.
func execAll(ctx context.Context, tx *sql.Tx, stmts []stmt) error {
	for _, st := range stmts {
		res, err := tx.ExecContext(ctx, st.q, st.args...)
		if err != nil {
			return err
		}
		if st.want > 0 {
			if n, err := res.RowsAffected(); err != nil || n < st.want {
				return &discharge.Error{Kind: discharge.KindRetry, Op: "sqlstore.Referral.Apply", Message: "offer version check failed"}
			}
		}
	}
	return nil
}

// offerStatements are an offer write's statements around its hold's: head
// writes the offers row (version-checked) and the timer; tail sets an
// existing hold's state and adds the outbox row. A new hold is taken
// between them (takeHold, or the pipeline's conditional insert). A group
// commit (referral_group.go) sends the same parts, the timers and outbox
// rows of its members as one statement each.
func offerStatements(partition string, w referral.OfferWrite, at int64) (head, tail []stmt) {
	head = append(head, offerRow(partition, w))
	if row, del := timerRow(partition, w); del {
		head = append(head, timerDeletes([][]any{row})...)
	} else {
		head = append(head, insertStmts(timerUpsertHead, timerUpsertTail, [][]any{row}, false)...)
	}
	if st, ok := holdState(w, at); ok {
		tail = append(tail, st)
	}
	tail = append(tail, insertStmts(outboxHead, "", [][]any{taskOutboxRow(partition, w.Offer, at)}, false)...)
	return head, tail
}

// offerRow writes an offer's row: an INSERT for a new offer, else an
// UPDATE checked against the version the change was decided on.
func offerRow(partition string, w referral.OfferWrite) stmt {
	o := w.Offer
	if w.ExpectVersion == 0 {
		return stmt{q: `INSERT INTO offers (partition, task_id, owner_org, owner, requester,
			service_request, encounter, patient, location, healthcare_service, state, business_status, deadline,
			version, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)`,
			args: []any{partition, o.ID, o.OwnerOrg, o.Owner, o.Requester, o.ServiceRequestID, o.EncounterID, o.PatientID,
				o.LocationID, o.HealthcareServiceID, string(o.State), string(o.BusinessStatus), toNanos(o.Deadline),
				o.Version, toNanos(o.Created), toNanos(o.Updated)}}
	}
	return stmt{q: `UPDATE offers SET state = $1, business_status = $2, version = $3,
			updated_at = $4 WHERE partition = $5 AND task_id = $6 AND version = $7`,
		args: []any{string(o.State), string(o.BusinessStatus), o.Version, toNanos(o.Updated), partition, o.ID, w.ExpectVersion},
		want: 1}
}

// The offer timers' upsert (rows of timerRow).
const (
	timerUpsertHead = "INSERT INTO offer_timers (partition, task_id, due) VALUES "
	timerUpsertTail = " ON CONFLICT (partition, task_id) DO UPDATE SET due = excluded.due"
)

// timerRow is the offer's timer: a (partition, task_id, due) row to
// upsert, or, with del, the (partition, task_id) key to delete (the offer
// has no next look).
func timerRow(partition string, w referral.OfferWrite) (row []any, del bool) {
	if w.Due.IsZero() {
		return []any{partition, w.Offer.ID}, true
	}
	return []any{partition, w.Offer.ID, toNanos(w.Due)}, false
}

// timerDeletes delete the timers of (partition, task_id) keys.
func timerDeletes(keys [][]any) []stmt {
	var out []stmt
	for start := 0; start < len(keys); start += rowsPerInsert {
		q := &query{}
		q.sql("DELETE FROM offer_timers WHERE (partition, task_id) IN (")
		valuesOf(q, keys[start:min(len(keys), start+rowsPerInsert)])
		q.sql(")")
		out = append(out, stmt{q: q.b.String(), args: q.args})
	}
	return out
}

// holdState sets an existing hold's state (ok false: the write takes a
// new hold, or the offer has none).
func holdState(w referral.OfferWrite, at int64) (stmt, bool) {
	h := w.Offer.Hold
	if h == nil || w.NewHold {
		return stmt{}, false
	}
	ended := int64(0)
	if h.State != discharge.HoldActive {
		ended = at
	}
	return stmt{q: `UPDATE holds SET state = $1, ended_at = $2 WHERE id = $3 AND state <> $1`,
		args: []any{string(h.State), ended, h.ID}}, true
}

// outboxHead inserts outbox rows (of taskOutboxRow).
const outboxHead = "INSERT INTO outbox (id, at, partition, topic, ref, payload, delivered_at) VALUES "

// taskOutboxRow is the outbox row announcing the Task's new version.
func taskOutboxRow(partition string, o discharge.Offer, at int64) []any {
	return []any{outboxID(at), at, partition, "Task", "Task/" + o.ID,
		"Task/" + o.ID + "/_history/" + strconv.FormatInt(o.Version, 10), int64(0)}
}

func writeOffer(ctx context.Context, tx *sql.Tx, partition string, w referral.OfferWrite, at int64) error {
	head, tail := offerStatements(partition, w, at)
	if err := execAll(ctx, tx, head); err != nil {
		return err
	}
	if h := w.Offer.Hold; h != nil && w.NewHold {
		if err := takeHold(ctx, tx, partition, w.Offer.ID, h); err != nil {
			return err
		}
	}
	return execAll(ctx, tx, tail)
}

// outboxID sorts by time, with a random tail so two rows of one instant
// differ.
func outboxID(at int64) string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return strconv.FormatInt(at, 36) + "-" + hex.EncodeToString(b[:])
}

// takeHold places an active hold when a bed is bookable (see Referral).
func takeHold(ctx context.Context, tx *sql.Tx, partition, taskID string, h *discharge.Hold) error {
	if err := execAll(ctx, tx, []stmt{holdLock(h)}); err != nil {
		return err
	}
	// The posting and the count in one statement, read after the lock.
	var active int
	var version sql.NullInt64
	var body sql.NullString
	if err := tx.QueryRowContext(ctx, `SELECT (SELECT COUNT(*) FROM holds WHERE location = $1 AND bed_type = $2
		AND state = 'active'), p.version, p.posting FROM (SELECT 1 AS one) x LEFT JOIN (SELECT version, posting
		FROM capacity_postings WHERE location = $1 ORDER BY version DESC LIMIT 1) p ON 1 = 1`,
		h.LocationID, string(h.BedType)).Scan(&active, &version, &body); err != nil {
		return err
	}
	vacant := 0
	if version.Valid {
		c := decodePosting(body.String, version.Int64)
		if c.LocationID == "" {
			return discharge.E(discharge.KindInternal, "", "unreadable capacity posting in the record")
		}
		vacant = c.Vacant(h.BedType)
	}
	if vacant-active < 1 {
		return &discharge.Error{Kind: discharge.KindConflict, Op: "sqlstore.Referral.Apply", Issues: []discharge.Issue{{
			Kind: discharge.KindConflict, Expression: "Task.output", Detail: referral.RuleHoldBookable,
			Message: "No " + string(h.BedType) + " bed is bookable at Location/" + h.LocationID +
				": its posted vacancies are all held (" + strconv.Itoa(active) + " held of " + strconv.Itoa(max(vacant, 0)) + ").",
		}}}
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO holds (id, partition, task_id, location, bed_type, state, created_at,
		expires_at, ended_at) VALUES ($1, $2, $3, $4, $5, 'active', $6, $7, 0)`,
		h.ID, partition, taskID, h.LocationID, string(h.BedType), toNanos(h.Created), toNanos(h.Expires))
	return err
}

// holdLock locks the (location, bed type) row of hold_locks that every
// accept for those beds takes before counting their holds.
func holdLock(h *discharge.Hold) stmt {
	return insertStmts(holdLockHead, holdLockTail, [][]any{{h.LocationID, string(h.BedType), int64(1)}}, false)[0]
}

// The hold locks' upsert: rows of (location, bed type, 1).
const (
	holdLockHead = "INSERT INTO hold_locks (location, bed_type, takes) VALUES "
	holdLockTail = " ON CONFLICT (location, bed_type) DO UPDATE SET takes = hold_locks.takes + 1"
)

// holdInsert is the pipeline's new hold (pipelinedApply, a group commit):
// run under the hold's lock, it inserts only when the Location's latest
// posting is still version and its active holds of the bed type are
// fewer than vacant, both read by the statement itself.
func holdInsert(partition, taskID string, h *discharge.Hold, version int64, vacant int) stmt {
	return stmt{q: `INSERT INTO holds (id, partition, task_id, location, bed_type, state,
					created_at, expires_at, ended_at) SELECT $1, $2, $3, $4, $5, 'active', $6, $7, 0
					WHERE (SELECT MAX(version) FROM capacity_postings WHERE location = $4) = $8
					AND (SELECT COUNT(*) FROM holds WHERE location = $4 AND bed_type = $5 AND state = 'active') < $9`,
		args: []any{h.ID, partition, taskID, h.LocationID, string(h.BedType), toNanos(h.Created), toNanos(h.Expires),
			version, int64(vacant)},
		want: 1, short: shortRecheck}
}

// latestVacancy is the bed type's vacancies accepting admissions in the
// Location's latest posting: 0 when closed, not posted or never posted.
func latestVacancy(ctx context.Context, tx *sql.Tx, location string, bt discharge.BedType) (int, error) {
	var v int64
	var body string
	err := tx.QueryRowContext(ctx, `SELECT version, posting FROM capacity_postings WHERE location = $1
		ORDER BY version DESC LIMIT 1`, location).Scan(&v, &body)
	switch {
	case err == sql.ErrNoRows:
		return 0, nil
	case err != nil:
		return 0, err
	}
	c := decodePosting(body, v)
	if c.LocationID == "" {
		return 0, discharge.E(discharge.KindInternal, "", "unreadable capacity posting in the record")
	}
	return c.Vacant(bt), nil
}

// Bookable is a Location's vacancies of a bed type in its latest posting
// and the active holds on them; held above vacant means a posting lowered
// the vacancies below the holds, which stand.
func (r *Referral) Bookable(ctx context.Context, location string, bt discharge.BedType) (vacant, held int, err error) {
	const op = "sqlstore.Referral.Bookable"
	err = r.s.inTx(ctx, op, "", true, func(tx *sql.Tx) error {
		if vacant, err = latestVacancy(ctx, tx, location, bt); err != nil {
			return err
		}
		return tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM holds WHERE location = $1 AND bed_type = $2 AND state = 'active'`,
			location, string(bt)).Scan(&held)
	})
	return vacant, held, err
}

// lockCases is the one rule for numbering a case's events, which every
// writer of case_events follows (appendEvents here, the hub's triage in
// Cases.AppendEvent): first lock the cases' case_worklist rows (an upsert
// that changes nothing, and holds the row lock on PostgreSQL until the
// transaction ends; SQLite has one writer anyway), and only then read a
// case's highest seq. Two writers of one case therefore number one after
// the other: the second's read runs after the first committed (READ
// COMMITTED takes a fresh snapshot per statement). Before this rule the
// offer workflow read MAX(seq) without a lock, and a triage decision
// committing between its read and its INSERT made the primary key refuse
// the accept, which the caller saw as a 412. Rows are locked in case
// order, so writers of several cases wait rather than deadlock.
func lockCases(ctx context.Context, tx *sql.Tx, partition string, caseIDs ...string) error {
	return execAll(ctx, tx, caseLocks(partition, caseIDs))
}

// caseLocks are lockCases' statements.
func caseLocks(partition string, caseIDs []string) []stmt {
	ids := slices.Clone(caseIDs)
	slices.Sort(ids)
	ids = slices.Compact(ids)
	rows := make([][]any, len(ids))
	for i, id := range ids {
		rows[i] = []any{partition, id}
	}
	return insertStmts("INSERT INTO case_worklist (partition, case_id) VALUES ",
		" ON CONFLICT (partition, case_id) DO UPDATE SET last_seq = case_worklist.last_seq", rows, false)
}

// appendEvents appends a partition's events, numbering each case's after
// its last under the case's lock (lockCases). The PostgreSQL pipeline
// (pipelinedApply) sends the same statements: one added here goes there
// too.
func appendEvents(ctx context.Context, tx *sql.Tx, partition string, events []referral.Event) error {
	ids := make([]string, len(events))
	for i, e := range events {
		ids[i] = e.CaseID
	}
	if err := lockCases(ctx, tx, partition, ids...); err != nil {
		return err
	}
	for _, e := range events {
		q, args := eventInsert(partition, e)
		if _, err := tx.ExecContext(ctx, q, args...); err != nil {
			return err
		}
		o := caseStateOutbox(partition, e.CaseID, toNanos(e.At))
		if _, err := tx.ExecContext(ctx, o.q, o.args...); err != nil {
			return err
		}
	}
	return nil
}

// eventInsert is the statement appending e: its seq is the case's highest
// plus one (read after the case's lock), and an event without a State
// gets the case's state computed from its offers, after this
// transaction's writes to them, by referral.CaseStateRules.
func eventInsert(partition string, e referral.Event) (string, []any) {
	return `INSERT INTO case_events (partition, case_id, seq, at, kind, state, actor, actor_org, task_id, provider_org, detail)
SELECT $1, $2, COALESCE(MAX(seq), 0) + 1, $3, $4, COALESCE(NULLIF($5, ''), ` + caseStateSQL + `), $6, $7, $8, $9, $10
FROM case_events WHERE partition = $1 AND case_id = $2`,
		[]any{partition, e.CaseID, toNanos(e.At), string(e.Kind), string(e.State), e.Actor, e.ActorOrg, e.TaskID, e.ProviderOrg, e.Detail}
}

// eventWithOutbox is, on PostgreSQL, eventInsert and caseStateOutbox as
// one statement: the event's INSERT returns its number and state, and the
// outbox row is written from them when the state differs from the event
// before (which the statement's snapshot holds: the new event is not
// visible to it, and need not be). The pipelines send it (pipelinedApply,
// a group commit); the ordinary transaction and SQLite send the two.
func eventWithOutbox(partition string, e referral.Event) stmt {
	q, args := eventInsert(partition, e)
	at := toNanos(e.At)
	return stmt{q: `WITH ev AS (` + q + ` RETURNING partition, case_id, seq, state)
INSERT INTO outbox (id, at, partition, topic, ref, payload, delivered_at)
SELECT $11, $12, ev.partition, 'Case', 'Encounter/' || ev.case_id, ev.seq || ' ' || ev.state, 0 FROM ev
WHERE NOT EXISTS (SELECT 1 FROM case_events p
  WHERE p.partition = ev.partition AND p.case_id = ev.case_id AND p.seq = ev.seq - 1 AND p.state = ev.state)`,
		args: append(args, outboxID(at), at)}
}

// caseStateSQL is referral.CaseStateOf over the offers of case $2 in
// partition $1, as a SQL expression built from the same table. It reads
// the case's offers once (one index range), each rule a MAX over them,
// where one EXISTS per rule read them up to three times: the event's
// INSERT was the accept's most expensive statement (pg_stat_statements,
// docs/performance.md). No offers: every MAX is NULL, and the CASE gives
// CaseStateNone, as CaseStateOf does.
var caseStateSQL = func() string {
	var b strings.Builder
	b.WriteString("(SELECT CASE")
	for _, r := range referral.CaseStateRules {
		in := make([]string, len(r.Offers))
		for i, st := range r.Offers {
			in[i] = "'" + string(st) + "'"
		}
		b.WriteString(" WHEN MAX(CASE WHEN o.state IN (" + strings.Join(in, ", ") + ") THEN 1 ELSE 0 END) = 1 THEN '" +
			string(r.State) + "'")
	}
	b.WriteString(" ELSE '" + string(referral.CaseStateNone) + "' END FROM offers o WHERE o.partition = $1 AND o.encounter = $2)")
	return b.String()
}()

// AppendEvent appends one event not tied to a Task change (a shortlist, a
// referral), numbered under the case's lock (lockCases).
func (r *Referral) AppendEvent(ctx context.Context, e referral.Event) error {
	return r.s.inTx(ctx, "sqlstore.Referral.AppendEvent", e.Partition, false, func(tx *sql.Tx) error {
		return appendEvents(ctx, tx, e.Partition, []referral.Event{e})
	})
}

// Events reads a case's timeline in order.
func (r *Referral) Events(ctx context.Context, partition, caseID string) ([]referral.Event, error) {
	var out []referral.Event
	err := r.s.readRows(ctx, "sqlstore.Referral.Events", partition, `SELECT seq, at, kind, state, actor, actor_org,
		task_id, provider_org, detail FROM case_events WHERE partition = $1 AND case_id = $2 ORDER BY seq`,
		[]any{partition, caseID}, func(rs rows) error {
			out = out[:0]
			for rs.Next() {
				e := referral.Event{Partition: partition, CaseID: caseID}
				var at int64
				var kind, state string
				if err := rs.Scan(&e.Seq, &at, &kind, &state, &e.Actor, &e.ActorOrg, &e.TaskID, &e.ProviderOrg, &e.Detail); err != nil {
					return err
				}
				e.At, e.Kind, e.State = fromNanos(at), referral.EventKind(kind), referral.CaseState(state)
				out = append(out, e)
			}
			return nil
		})
	return out, err
}

const offerColumns = `o.partition, o.task_id, o.owner_org, o.owner, o.requester, o.service_request, o.encounter,
	o.patient, o.location, o.healthcare_service, o.state, o.business_status, o.deadline, o.version, o.created_at,
	o.updated_at, COALESCE(h.id, ''), COALESCE(h.location, ''), COALESCE(h.bed_type, ''), COALESCE(h.state, ''),
	COALESCE(h.created_at, 0), COALESCE(h.expires_at, 0)`

const offerFrom = ` FROM offers o LEFT JOIN holds h ON h.partition = o.partition AND h.task_id = o.task_id`

func scanOffer(row scanner, extra ...any) (discharge.Offer, error) {
	var o discharge.Offer
	var state, bs, hid, hloc, hbt, hstate string
	var deadline, created, updated, hcreated, hexpires int64
	dest := append([]any{&o.Partition, &o.ID, &o.OwnerOrg, &o.Owner, &o.Requester, &o.ServiceRequestID, &o.EncounterID,
		&o.PatientID, &o.LocationID, &o.HealthcareServiceID, &state, &bs, &deadline, &o.Version, &created, &updated,
		&hid, &hloc, &hbt, &hstate, &hcreated, &hexpires}, extra...)
	if err := row.Scan(dest...); err != nil {
		return o, err
	}
	o.State, o.BusinessStatus = discharge.OfferState(state), discharge.BusinessStatus(bs)
	o.Deadline, o.Created, o.Updated = fromNanos(deadline), fromNanos(created), fromNanos(updated)
	if hid != "" {
		o.Hold = &discharge.Hold{ID: hid, LocationID: hloc, BedType: discharge.BedType(hbt), State: discharge.HoldState(hstate),
			Created: fromNanos(hcreated), Expires: fromNanos(hexpires)}
	}
	return o, nil
}

// FindOffer reads one offer visible to org (referral.Store.FindOffer). On
// PostgreSQL app.partition is org, so row-level security admits the same
// rows the WHERE clause names.
func (r *Referral) FindOffer(ctx context.Context, org, taskID string, asOwner bool) (discharge.Offer, error) {
	col := "o.partition"
	if asOwner {
		col = "o.owner_org"
	}
	var o discharge.Offer
	err := r.s.readRow(ctx, "sqlstore.Referral.FindOffer", org, "SELECT "+offerColumns+offerFrom+" WHERE o.task_id = $1 AND "+col+" = $2",
		[]any{taskID, org}, func(row scanner) error {
			var err error
			o, err = scanOffer(row)
			return err
		})
	return o, err
}

// CaseOffers lists a partition's offers of a ServiceRequest or Encounter.
func (r *Referral) CaseOffers(ctx context.Context, partition, serviceRequest, encounter string) ([]discharge.Offer, error) {
	col, val := "o.service_request", serviceRequest
	if serviceRequest == "" {
		col, val = "o.encounter", encounter
	}
	var out []discharge.Offer
	err := r.s.readRows(ctx, "sqlstore.Referral.CaseOffers", partition,
		"SELECT "+offerColumns+offerFrom+" WHERE o.partition = $1 AND "+col+" = $2 ORDER BY o.task_id", []any{partition, val},
		func(rs rows) error {
			out = out[:0]
			for rs.Next() {
				o, err := scanOffer(rs)
				if err != nil {
					return err
				}
				out = append(out, o)
			}
			return nil
		})
	return out, err
}

// SearchOffers is one page of offers, newest change first, and the total
// (one statement: one snapshot).
func (r *Referral) SearchOffers(ctx context.Context, q referral.OfferQuery) ([]discharge.Offer, int, error) {
	sq := &query{}
	var where []string
	if q.AsOwner {
		where = append(where, "o.owner_org = "+sq.arg(q.Org))
	} else {
		where = append(where, "o.partition = "+sq.arg(q.Org))
	}
	if len(q.States) > 0 {
		ph := make([]string, len(q.States))
		for i, s := range q.States {
			ph[i] = sq.arg(string(s))
		}
		where = append(where, "o.state IN ("+strings.Join(ph, ", ")+")")
	}
	for _, f := range []struct{ col, val string }{{"o.owner", q.Owner}, {"o.service_request", q.ServiceRequest}, {"o.patient", q.Patient}} {
		if f.val != "" {
			where = append(where, f.col+" = "+sq.arg(f.val))
		}
	}
	if !q.UpdatedFrom.IsZero() {
		where = append(where, "o.updated_at >= "+sq.arg(q.UpdatedFrom.UnixNano()))
	}
	if !q.UpdatedTo.IsZero() {
		where = append(where, "o.updated_at < "+sq.arg(q.UpdatedTo.UnixNano()))
	}
	cond := strings.Join(where, " AND ")
	stmt := "SELECT " + offerColumns + ", (SELECT COUNT(*) FROM offers o WHERE " + cond + ") AS total" + offerFrom + " WHERE " + cond +
		" ORDER BY o.updated_at DESC, o.task_id LIMIT " + sq.arg(max(q.Count, 0)) + " OFFSET " + sq.arg(max(q.Offset, 0))
	var out []discharge.Offer
	total := -1
	err := r.s.readRows(ctx, "sqlstore.Referral.SearchOffers", q.Org, stmt, sq.args, func(rs rows) error {
		out = out[:0]
		for rs.Next() {
			o, err := scanOffer(rs, &total)
			if err != nil {
				return err
			}
			out = append(out, o)
		}
		return nil
	})
	if err != nil {
		return nil, 0, err
	}
	if total < 0 { // an empty page: count alone
		err = r.s.readRow(ctx, "sqlstore.Referral.SearchOffers", q.Org, "SELECT COUNT(*) FROM offers o WHERE "+cond,
			sq.args[:len(sq.args)-2], func(row scanner) error { return row.Scan(&total) })
	}
	return out, total, err
}

// Due lists offers whose timer is at or before now, soonest first, in
// every partition (offer_timers has no row-level security: ids and times).
func (r *Referral) Due(ctx context.Context, now time.Time, limit int) ([]referral.Due, error) {
	var out []referral.Due
	err := r.s.readRows(ctx, "sqlstore.Referral.Due", "", `SELECT partition, task_id FROM offer_timers WHERE due <= $1
		ORDER BY due LIMIT $2`, []any{now.UnixNano(), limit}, func(rs rows) error {
		out = out[:0]
		for rs.Next() {
			var d referral.Due
			if err := rs.Scan(&d.Partition, &d.TaskID); err != nil {
				return err
			}
			out = append(out, d)
		}
		return nil
	})
	return out, err
}

// ActiveHolds counts the active holds at each of locations by bed type,
// for capacity reads and placement to subtract from the posted vacancies
// (and to warn where a later posting fell below them). Locations without
// holds are absent.
func (r *Referral) ActiveHolds(ctx context.Context, locations []string) (map[string]map[discharge.BedType]int, error) {
	out := map[string]map[discharge.BedType]int{}
	if len(locations) == 0 {
		return out, nil
	}
	// The locations go as one JSON array parameter, so the statement's
	// text is the same for every request: PostgreSQL (pgx) reuses its
	// prepared plan, and SQLite parses a short statement instead of one
	// with up to 500 placeholders (a profile of placement put that parse
	// at 15 % of its CPU).
	list, err := json.Marshal(locations)
	if err != nil {
		return nil, err
	}
	err = r.s.readRows(ctx, "sqlstore.Referral.ActiveHolds", "", r.activeHoldsSQL(), []any{string(list)},
		func(rs rows) error {
			for rs.Next() {
				var loc, bt string
				var n int
				if err := rs.Scan(&loc, &bt, &n); err != nil {
					return err
				}
				if out[loc] == nil {
					out[loc] = map[discharge.BedType]int{}
				}
				out[loc][discharge.BedType(bt)] = n
			}
			return nil
		})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// activeHoldsSQL counts active holds by location and bed type for the
// locations in the JSON array $1, in the engine's own JSON function.
func (r *Referral) activeHoldsSQL() string {
	list := `SELECT value FROM json_each($1)`
	if r.s.eng == enginePostgres {
		list = `SELECT jsonb_array_elements_text($1::jsonb)`
	}
	return `SELECT location, bed_type, COUNT(*) FROM holds
		WHERE state = 'active' AND location IN (` + list + `) GROUP BY location, bed_type`
}
