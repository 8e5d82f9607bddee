package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/stdlib"

	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/subscription"
)

// Subscriptions is the record of FHIR Subscriptions (migration 11): the
// subscriptions themselves, their numbered events, and the fan-out of the
// transactional outbox into those events.
//
// The outbox (migration 6) gets a row in the transaction of every change
// a topic is about: a Task's (writeOffer), a case's state change
// (outboxCaseState, from appendEvents) and a capacity posting
// (outboxCapacity, from Capacity.Record). Fanout turns committed rows, in
// (at, id) order, into subscription_events, numbering each
// Subscription's events one after another from its counter
// (subscriptions.events) in the same transaction that marks the rows
// fanned out (outbox.delivered_at): a crash before its commit leaves the
// rows to the next Fanout, after it the events are there; numbers are
// gap-free. One Fanout runs at a time across replicas (an advisory lock on
// PostgreSQL, the database lock on SQLite), so two replicas never number
// the same Subscription's events at once.
//
// Deliveries are leased: Claim takes Subscriptions with something due with
// FOR UPDATE SKIP LOCKED on PostgreSQL and writes a lease (owner, until);
// Settle releases it with the outcome. A replica killed mid-delivery
// leaves a lease that lapses, and another replica delivers the same
// events again (at least once).
//
// On PostgreSQL the outbox INSERT trigger sends NOTIFY dg_outbox, and Wait
// LISTENs on a dedicated connection, so a Deliverer wakes at a commit
// instead of at its next poll.
type Subscriptions struct {
	s *Store
	// listen is Wait's LISTEN connection, when open.
	listen *sql.Conn
	// decoded serves Fanout and Claim (see decodeCache).
	decoded decodeCache
}

var _ subscription.Store = (*Subscriptions)(nil)

// NewSubscriptions returns the Subscription record kept in the store's
// database.
func NewSubscriptions(s *Store) *Subscriptions { return &Subscriptions{s: s} }

// Migration 11: the subscription tables on both engines, and on
// PostgreSQL the outbox's NOTIFY trigger and a SELECT policy on offers for
// the fan-out (app.fanout), which reads each Task row's owner whatever
// its partition (ids and organisation codes only).
var subscriptionSchema = []string{
	`CREATE TABLE subscriptions (
		id           TEXT   NOT NULL PRIMARY KEY,
		owner_org    TEXT   NOT NULL,
		owner        TEXT   NOT NULL,
		topic        TEXT   NOT NULL,
		filters      TEXT   NOT NULL,
		status       TEXT   NOT NULL,
		endpoint     TEXT   NOT NULL,
		payload      TEXT   NOT NULL,
		headers      TEXT   NOT NULL,
		heartbeat    BIGINT NOT NULL,
		timeout      BIGINT NOT NULL,
		max_count    BIGINT NOT NULL,
		reason       TEXT   NOT NULL,
		end_at       BIGINT NOT NULL,
		created_at   BIGINT NOT NULL,
		secret       TEXT   NOT NULL,
		acked        BIGINT NOT NULL,
		failures     BIGINT NOT NULL,
		last_error   TEXT   NOT NULL,
		next_attempt BIGINT NOT NULL,
		last_sent    BIGINT NOT NULL,
		lease_owner  TEXT   NOT NULL,
		lease_until  BIGINT NOT NULL)`,
	`CREATE INDEX subscriptions_owner ON subscriptions (owner_org, id)`,
	`CREATE INDEX subscriptions_due ON subscriptions (status, next_attempt)`,
	`CREATE TABLE subscription_counters (
		id     TEXT   NOT NULL PRIMARY KEY,
		events BIGINT NOT NULL)`,
	`CREATE TABLE subscription_events (
		subscription_id TEXT   NOT NULL,
		seq             BIGINT NOT NULL,
		at              BIGINT NOT NULL,
		focus           TEXT   NOT NULL,
		version         BIGINT NOT NULL,
		partition       TEXT   NOT NULL,
		PRIMARY KEY (subscription_id, seq))`,
}

var subscriptionSchemaPostgres = []string{
	`CREATE FUNCTION dg_outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
	BEGIN PERFORM pg_notify('dg_outbox', ''); RETURN NULL; END $$`,
	`CREATE TRIGGER outbox_notify AFTER INSERT ON outbox FOR EACH STATEMENT EXECUTE FUNCTION dg_outbox_notify()`,
	`CREATE POLICY subscription_fanout ON offers FOR SELECT USING (current_setting('app.fanout', true) = 'on')`,
}

// migrateSubscriptions is migration 11 for the engine.
func migrateSubscriptions(eng engine) func(context.Context, *sql.Tx) error {
	return func(ctx context.Context, tx *sql.Tx) error {
		stmts := subscriptionSchema
		if eng == enginePostgres {
			stmts = append(append([]string{}, stmts...), subscriptionSchemaPostgres...)
		}
		for _, q := range stmts {
			if _, err := tx.ExecContext(ctx, q); err != nil {
				return err
			}
		}
		return nil
	}
}

// caseStateOutbox is the statement writing the outbox row of the case
// event just appended for caseID (the case's highest seq) when it changed
// the case's state. It reads the event's number and state from the row
// itself, since eventInsert computes both in SQL. appendEvents sends it
// after each event; the PostgreSQL pipelines send the two as one
// statement (eventWithOutbox), with the same condition. `||` joins text
// in both engines.
func caseStateOutbox(partition, caseID string, at int64) stmt {
	return stmt{q: `INSERT INTO outbox (id, at, partition, topic, ref, payload, delivered_at)
SELECT $1, $2, $3, 'Case', $4, e.seq || ' ' || e.state, 0
FROM case_events e
WHERE e.partition = $3 AND e.case_id = $5
  AND e.seq = (SELECT MAX(seq) FROM case_events WHERE partition = $3 AND case_id = $5)
  AND NOT EXISTS (SELECT 1 FROM case_events p
    WHERE p.partition = e.partition AND p.case_id = e.case_id AND p.seq = e.seq - 1 AND p.state = e.state)`,
		args: []any{outboxID(at), at, partition, "Encounter/" + caseID, caseID}}
}

// outboxCapacity writes the outbox row of a capacity posting
// (Capacity.Record calls it after inserting version).
func outboxCapacity(ctx context.Context, s *Store, tx *sql.Tx, location string, version int64) error {
	at := time.Now().UnixNano()
	_, err := s.exec(ctx, tx, `INSERT INTO outbox (id, at, partition, topic, ref, payload, delivered_at)
		VALUES ($1, $2, '', 'Capacity', $3, $4, 0)`, outboxID(at), at, "Location/"+location, strconv.FormatInt(version, 10))
	return err
}

// subscriptionColumns are a subscriptions row's, then its event counter
// (a row of subscription_counters, which only the fan-out writes, so that
// numbering events locks no subscriptions row a claim or a settle wants).
const subscriptionColumns = `id, owner, topic, filters, status, endpoint, payload, headers, heartbeat, timeout,
	max_count, reason, end_at, created_at, secret, ` + counterOf + `, acked, failures, last_error`

const counterOf = `COALESCE((SELECT c.events FROM subscription_counters c WHERE c.id = subscriptions.id), 0)`

// claimedColumns are subscriptionColumns as an UPDATE's RETURNING gives
// them: the counter as 0 (the Deliverer reads the events themselves).
const claimedColumns = `id, owner, topic, filters, status, endpoint, payload, headers, heartbeat, timeout,
	max_count, reason, end_at, created_at, secret, 0, acked, failures, last_error`

func scanSubscription(row scanner) (discharge.Subscription, error) {
	return scanSubscriptionWith(row, nil)
}

// decodedJSON is a Subscription's JSON columns as stored and decoded.
type decodedJSON struct {
	owner, filters, headers string
	s                       discharge.Subscriber
	f                       map[string]string
	h                       []string
}

// decodeCache keeps the Deliverer's decoded JSON columns by Subscription
// id: a fan-out reads every live Subscription and a claim up to Workers of
// them, several times a second, and decoding the same JSON again was a
// tenth of the Deliverer's CPU in the load test. An entry is used only
// while the stored text is what it was decoded from. The decoded maps and
// slices are shared, so only the Deliverer's read-only paths (Fanout,
// Claim) use it.
type decodeCache struct {
	mu sync.Mutex
	m  map[string]*decodedJSON
}

func scanSubscriptionWith(row scanner, cache *decodeCache) (discharge.Subscription, error) {
	var s discharge.Subscription
	var owner, topic, filters, status, payload, headers string
	var hb, to, end, created int64
	var mc, failures int64
	if err := row.Scan(&s.ID, &owner, &topic, &filters, &status, &s.Endpoint, &payload, &headers, &hb, &to, &mc,
		&s.Reason, &end, &created, &s.Secret, &s.Events, &s.Acked, &failures, &s.LastError); err != nil {
		return s, err
	}
	var d *decodedJSON
	if cache != nil {
		cache.mu.Lock()
		d = cache.m[s.ID]
		cache.mu.Unlock()
	}
	if d == nil || d.owner != owner || d.filters != filters || d.headers != headers {
		d = &decodedJSON{owner: owner, filters: filters, headers: headers}
		if err := json.Unmarshal([]byte(owner), &d.s); err != nil {
			return s, err
		}
		if err := json.Unmarshal([]byte(filters), &d.f); err != nil {
			return s, err
		}
		if err := json.Unmarshal([]byte(headers), &d.h); err != nil {
			return s, err
		}
		if cache != nil {
			cache.mu.Lock()
			if cache.m == nil {
				cache.m = map[string]*decodedJSON{}
			}
			cache.m[s.ID] = d
			cache.mu.Unlock()
		}
	}
	s.Owner, s.Filters, s.Headers = d.s, d.f, d.h
	s.Topic, s.Status, s.Payload = discharge.SubscriptionTopic(topic), discharge.SubscriptionStatus(status), discharge.PayloadContent(payload)
	s.Heartbeat, s.Timeout, s.MaxCount, s.Failures = time.Duration(hb), time.Duration(to), int(mc), int(failures)
	s.End, s.Created = fromNanos(end), fromNanos(created)
	return s, nil
}

// ownerJSON is the stored Subscriber (plain fields; the domain has no
// tags).
type ownerJSON struct {
	ClientID, Org, Role string
	Members             []string
}

// CreateSubscription stores a new Subscription.
func (r *Subscriptions) CreateSubscription(ctx context.Context, s discharge.Subscription) error {
	owner, _ := json.Marshal(ownerJSON(s.Owner))
	if s.Filters == nil {
		s.Filters = map[string]string{}
	}
	filters, _ := json.Marshal(s.Filters)
	if s.Headers == nil {
		s.Headers = []string{}
	}
	headers, _ := json.Marshal(s.Headers)
	return r.s.inTx(ctx, "sqlstore.Subscriptions.Create", "", false, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO subscriptions (id, owner_org, owner, topic, filters, status, endpoint,
			payload, headers, heartbeat, timeout, max_count, reason, end_at, created_at, secret, acked, failures,
			last_error, next_attempt, last_sent, lease_owner, lease_until) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9,
			$10, $11, $12, $13, $14, $15, $16, 0, 0, '', 0, $15, '', 0)`,
			s.ID, s.Owner.Org, string(owner), string(s.Topic), string(filters), string(s.Status), s.Endpoint,
			string(s.Payload), string(headers), int64(s.Heartbeat), int64(s.Timeout), int64(s.MaxCount), s.Reason,
			toNanos(s.End), toNanos(s.Created), s.Secret)
		return err
	})
}

// Subscription reads one Subscription.
func (r *Subscriptions) Subscription(ctx context.Context, id string) (discharge.Subscription, error) {
	var s discharge.Subscription
	err := r.s.inTx(ctx, "sqlstore.Subscriptions.Read", "", true, func(tx *sql.Tx) error {
		var err error
		s, err = scanSubscription(tx.QueryRowContext(ctx, "SELECT "+subscriptionColumns+" FROM subscriptions WHERE id = $1", id))
		if errors.Is(err, sql.ErrNoRows) {
			return discharge.E(discharge.KindNotFound, "Subscription.id", "No such Subscription.")
		}
		return err
	})
	return s, err
}

// SubscriptionsOf lists an organisation's Subscriptions.
func (r *Subscriptions) SubscriptionsOf(ctx context.Context, org string) ([]discharge.Subscription, error) {
	var out []discharge.Subscription
	err := r.s.inTx(ctx, "sqlstore.Subscriptions.Search", "", true, func(tx *sql.Tx) error {
		out = out[:0]
		rs, err := tx.QueryContext(ctx, "SELECT "+subscriptionColumns+" FROM subscriptions WHERE owner_org = $1 ORDER BY id", org)
		if err != nil {
			return err
		}
		defer rs.Close()
		for rs.Next() {
			s, err := scanSubscription(rs)
			if err != nil {
				return err
			}
			out = append(out, s)
		}
		return rs.Err()
	})
	return out, err
}

// DeleteSubscription removes a Subscription and its events.
func (r *Subscriptions) DeleteSubscription(ctx context.Context, id string) error {
	return r.s.inTx(ctx, "sqlstore.Subscriptions.Delete", "", false, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM subscription_events WHERE subscription_id = $1`, id); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM subscription_counters WHERE id = $1`, id); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `DELETE FROM subscriptions WHERE id = $1`, id)
		return err
	})
}

// SubscriptionEvents reads events since..until of a Subscription.
func (r *Subscriptions) SubscriptionEvents(ctx context.Context, id string, since, until int64, limit int) ([]discharge.SubscriptionEvent, error) {
	var out []discharge.SubscriptionEvent
	err := r.s.inTx(ctx, "sqlstore.Subscriptions.Events", "", true, func(tx *sql.Tx) error {
		out = out[:0]
		rs, err := tx.QueryContext(ctx, `SELECT seq, at, focus, version, partition FROM subscription_events
			WHERE subscription_id = $1 AND seq >= $2 AND seq <= $3 ORDER BY seq LIMIT $4`, id, since, until, limit)
		if err != nil {
			return err
		}
		defer rs.Close()
		for rs.Next() {
			var e discharge.SubscriptionEvent
			var at int64
			if err := rs.Scan(&e.Number, &at, &e.Focus, &e.Version, &e.Partition); err != nil {
				return err
			}
			e.At = fromNanos(at)
			out = append(out, e)
		}
		return rs.Err()
	})
	return out, err
}

// fanoutLock is the advisory lock key one Fanout holds on PostgreSQL.
const fanoutLock = 0x6467_5355_4253 // "dgSUBS"

// Fanout numbers committed outbox rows into subscription events (see
// Subscriptions).
func (r *Subscriptions) Fanout(ctx context.Context, limit int, match func(subscription.OutboxEvent, []discharge.Subscription) []string) (int, error) {
	const op = "sqlstore.Subscriptions.Fanout"
	taken := 0
	err := r.s.inTx(ctx, op, "", false, func(tx *sql.Tx) error {
		taken = 0
		if r.s.eng == enginePostgres {
			var got bool
			if err := tx.QueryRowContext(ctx, `SELECT pg_try_advisory_xact_lock($1), set_config('app.fanout', 'on', true)`,
				int64(fanoutLock)).Scan(&got, new(string)); err != nil {
				return err
			}
			if !got {
				return nil // another replica is fanning out
			}
		}
		rs, err := tx.QueryContext(ctx, `SELECT o.id, o.at, o.partition, o.topic, o.ref, o.payload, COALESCE(f.owner_org, '')
			FROM outbox o LEFT JOIN offers f ON o.topic = 'Task' AND f.partition = o.partition AND f.task_id = SUBSTR(o.ref, 6)
			WHERE o.delivered_at = 0 ORDER BY o.at, o.id LIMIT $1`, limit)
		if err != nil {
			return err
		}
		var ids []string
		var evs []subscription.OutboxEvent
		for rs.Next() {
			var id, ref, payload string
			var at int64
			var e subscription.OutboxEvent
			if err := rs.Scan(&id, &at, &e.Partition, &e.Topic, &ref, &payload, &e.OwnerOrg); err != nil {
				rs.Close()
				return err
			}
			e.At, e.Focus = fromNanos(at), ref
			switch e.Topic {
			case "Task": // payload Task/{id}/_history/{v}
				e.Version, _ = strconv.ParseInt(payload[strings.LastIndexByte(payload, '/')+1:], 10, 64)
			case "Case": // payload "{seq} {state}"
				seq, state, _ := strings.Cut(payload, " ")
				e.Version, _ = strconv.ParseInt(seq, 10, 64)
				e.State = state
			case "Capacity": // payload {version}
				e.Version, _ = strconv.ParseInt(payload, 10, 64)
			}
			ids, evs = append(ids, id), append(evs, e)
		}
		rs.Close()
		if err := rs.Err(); err != nil {
			return err
		}
		if len(ids) == 0 {
			return nil
		}
		subs, err := liveSubscriptions(ctx, tx, &r.decoded)
		if err != nil {
			return err
		}
		counter := map[string]int64{}
		for _, s := range subs {
			counter[s.ID] = s.Events
		}
		var fe fannedEvents
		for _, e := range evs {
			at := toNanos(e.At)
			for _, id := range match(e, subs) {
				counter[id]++
				fe.add(id, counter[id], at, e.Focus, e.Version, e.Partition)
			}
		}
		var moved [][]any
		for _, s := range subs {
			if n := counter[s.ID]; n != s.Events {
				moved = append(moved, []any{s.ID, n})
			}
		}
		now := time.Now().UnixNano()
		if r.s.eng == enginePostgres {
			return fanoutWritesPostgres(ctx, tx, &fe, moved, ids, now, &taken)
		}
		if err := insertValues(ctx, tx, `INSERT INTO subscription_events (subscription_id, seq, at, focus, version, partition) VALUES `, 6, fe.rows()); err != nil {
			return err
		}
		if err := setCounters(ctx, tx, moved); err != nil {
			return err
		}
		for start := 0; start < len(ids); start += rowsPerInsert {
			chunk := ids[start:min(len(ids), start+rowsPerInsert)]
			q := &query{}
			ph := make([]string, len(chunk))
			for i, id := range chunk {
				ph[i] = q.arg(id)
			}
			if _, err := tx.ExecContext(ctx, `UPDATE outbox SET delivered_at = `+q.arg(now)+` WHERE id IN (`+strings.Join(ph, ", ")+`)`, q.args...); err != nil {
				return err
			}
		}
		taken = len(ids)
		return nil
	})
	return taken, err
}

// fanoutWritesPostgres is the fan-out's writes on PostgreSQL in three
// statements whatever their size: the events, the counters and the
// outbox marks each sent as column arrays and expanded by unnest. A
// fan-out of a few referrals to 1,000 Subscriptions is thousands of
// events; as multi-row VALUES (rowsPerInsert parameters a statement) it
// was some 60 round trips, and on a loaded machine each round trip waits
// for both processes to be scheduled: the load test timed fan-outs at
// 0.5-1.2 s, most of a notification's latency (bench/subscriptions.md).
func fanoutWritesPostgres(ctx context.Context, tx *sql.Tx, fe *fannedEvents, moved [][]any, ids []string, now int64, taken *int) error {
	if len(fe.sid) > 0 {
		if _, err := tx.ExecContext(ctx, `INSERT INTO subscription_events (subscription_id, seq, at, focus, version, partition)
			SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::text[], $5::bigint[], $6::text[])`,
			fe.sid, fe.seq, fe.at, fe.focus, fe.version, fe.part); err != nil {
			return err
		}
	}
	if len(moved) > 0 {
		cid, cn := make([]string, len(moved)), make([]int64, len(moved))
		for i, m := range moved {
			cid[i], cn[i] = m[0].(string), m[1].(int64)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO subscription_counters (id, events)
			SELECT * FROM unnest($1::text[], $2::bigint[]) ON CONFLICT (id) DO UPDATE SET events = excluded.events`, cid, cn); err != nil {
			return err
		}
	}
	if _, err := tx.ExecContext(ctx, `UPDATE outbox SET delivered_at = $1 WHERE id = ANY($2::text[])`, now, ids); err != nil {
		return err
	}
	*taken = len(ids)
	return nil
}

// fannedEvents are a fan-out's new subscription_events rows, by column
// (PostgreSQL sends each column as one array; no boxing per value).
type fannedEvents struct {
	sid, focus, part []string
	seq, at, version []int64
}

func (f *fannedEvents) add(sid string, seq, at int64, focus string, version int64, part string) {
	f.sid, f.seq, f.at = append(f.sid, sid), append(f.seq, seq), append(f.at, at)
	f.focus, f.version, f.part = append(f.focus, focus), append(f.version, version), append(f.part, part)
}

// rows are the events as rows of values, for multi-row VALUES (SQLite).
func (f *fannedEvents) rows() [][]any {
	out := make([][]any, len(f.sid))
	for i := range f.sid {
		out[i] = []any{f.sid[i], f.seq[i], f.at[i], f.focus[i], f.version[i], f.part[i]}
	}
	return out
}

// setCounters sets the event counter of each (id, n), a statement per
// rowsPerInsert/2 of them.
func setCounters(ctx context.Context, tx *sql.Tx, rows [][]any) error {
	return insertValues(ctx, tx, `INSERT INTO subscription_counters (id, events) VALUES `, 2, rows,
		` ON CONFLICT (id) DO UPDATE SET events = excluded.events`)
}

func liveSubscriptions(ctx context.Context, tx *sql.Tx, cache *decodeCache) ([]discharge.Subscription, error) {
	rs, err := tx.QueryContext(ctx, "SELECT "+subscriptionColumns+" FROM subscriptions WHERE status <> 'off'")
	if err != nil {
		return nil, err
	}
	defer rs.Close()
	var out []discharge.Subscription
	for rs.Next() {
		s, err := scanSubscriptionWith(rs, cache)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	if err := rs.Err(); err != nil {
		return nil, err
	}
	// Forget the Subscriptions no longer live (deleted, off), so the cache
	// holds no more than the live ones.
	live := make(map[string]bool, len(out))
	for _, s := range out {
		live[s.ID] = true
	}
	cache.mu.Lock()
	for id := range cache.m {
		if !live[id] {
			delete(cache.m, id)
		}
	}
	cache.mu.Unlock()
	return out, nil
}

// insertValues inserts rows of width columns, rowsPerInsert to a statement.
func insertValues(ctx context.Context, tx *sql.Tx, head string, width int, rows [][]any, tail ...string) error {
	per := max(1, rowsPerInsert/width)
	for start := 0; start < len(rows); start += per {
		chunk := rows[start:min(len(rows), start+per)]
		q := (&query{}).sql(head)
		valuesOf(q, chunk)
		q.sql(tail...)
		if _, err := tx.ExecContext(ctx, q.b.String(), q.args...); err != nil {
			return err
		}
	}
	return nil
}

// Claim leases Subscriptions with a delivery due and reads each one's
// next events, at most batch of them (the Subscription's max count, if
// lower, wins), in the same transaction (see Subscriptions). Numbers are
// gap-free, so a Subscription's next events are exactly acked+1 ..
// acked+n: one primary-key range per Subscription, all in one statement.
func (r *Subscriptions) Claim(ctx context.Context, owner string, now time.Time, lease time.Duration, heartbeatDue bool, limit, batch int) ([]subscription.Claimed, error) {
	const op = "sqlstore.Subscriptions.Claim"
	var out []subscription.Claimed
	n := now.UnixNano()
	hb := "0 = 1"
	if heartbeatDue {
		hb = "(heartbeat > 0 AND last_sent + heartbeat <= $1)"
	}
	lock := ""
	if r.s.eng == enginePostgres {
		lock = " FOR UPDATE SKIP LOCKED"
	}
	err := r.s.inTx(ctx, op, "", false, func(tx *sql.Tx) error {
		out = out[:0]
		if err := r.lazyCommit(ctx, tx); err != nil {
			return err
		}
		// One statement: the due rows, skipping those another replica is
		// claiming this instant (SKIP LOCKED), leased and returned. The
		// longest since its last delivery first (last_sent), so none
		// starves when more are due than there are workers: ordering by
		// next_attempt put one given back (endpoint busy) or retried
		// behind all those at 0 (the test's p99 was 16 s while its p50 was
		// 0.5 s).
		rs, err := tx.QueryContext(ctx, `UPDATE subscriptions SET lease_owner = $3, lease_until = $4
			WHERE id IN (SELECT id FROM subscriptions WHERE status IN ('requested', 'active')
			AND next_attempt <= $1 AND lease_until <= $1 AND (status = 'requested' OR `+counterOf+` > acked OR `+hb+`)
			ORDER BY last_sent LIMIT $2`+lock+`) RETURNING `+claimedColumns, n, limit, owner, n+int64(lease))
		if err != nil {
			return err
		}
		index := map[string]int{}
		var rows [][]any
		for rs.Next() {
			s, err := scanSubscriptionWith(rs, &r.decoded)
			if err != nil {
				rs.Close()
				return err
			}
			if s.Status != discharge.SubscriptionRequested {
				lim := int64(batch)
				if s.MaxCount > 0 && int64(s.MaxCount) < lim {
					lim = int64(s.MaxCount)
				}
				index[s.ID] = len(out)
				rows = append(rows, []any{s.ID, s.Acked + 1, s.Acked + lim})
			}
			out = append(out, subscription.Claimed{Sub: s})
		}
		rs.Close()
		if err := rs.Err(); err != nil {
			return err
		}
		return eachValues(rows, 3, func(values string, args []any) error {
			ev, err := tx.QueryContext(ctx, `WITH want (sid, lo, hi) AS (VALUES `+values+`)
				SELECT e.subscription_id, e.seq, e.at, e.focus, e.version, e.partition
				FROM subscription_events e JOIN want ON e.subscription_id = want.sid AND e.seq >= want.lo AND e.seq <= want.hi
				ORDER BY e.subscription_id, e.seq`, args...)
			if err != nil {
				return err
			}
			defer ev.Close()
			for ev.Next() {
				var id string
				var e discharge.SubscriptionEvent
				var at int64
				if err := ev.Scan(&id, &e.Number, &at, &e.Focus, &e.Version, &e.Partition); err != nil {
					return err
				}
				e.At = fromNanos(at)
				c := &out[index[id]]
				c.Events = append(c.Events, e)
			}
			return ev.Err()
		})
	})
	return out, err
}

// Settle records deliveries' outcomes under owner's leases and releases
// them, all in one statement per rowsPerInsert/7 outcomes and one
// transaction (so one commit, one WAL flush, for many deliveries); a
// lease another replica took over meanwhile is left alone (that replica
// delivers again: at least once).
func (r *Subscriptions) Settle(ctx context.Context, owner string, os []subscription.Outcome) error {
	if len(os) == 0 {
		return nil
	}
	greatest := "MAX"
	if r.s.eng == enginePostgres {
		greatest = "GREATEST"
	}
	rows := make([][]any, len(os))
	for i, o := range os {
		rows[i] = []any{o.ID, string(o.Status), o.Acked, int64(o.Failures), toNanos(o.NextAttempt), toNanos(o.LastSent), o.LastError}
	}
	return r.s.inTx(ctx, "sqlstore.Subscriptions.Settle", "", false, func(tx *sql.Tx) error {
		if err := r.lazyCommit(ctx, tx); err != nil {
			return err
		}
		return eachValues(rows, 7, func(values string, args []any) error {
			o := "$" + strconv.Itoa(len(args)+1)
			// The outcome's columns are named apart from the table's, so
			// that unqualified names in SET are the row's on both engines.
			_, err := tx.ExecContext(ctx, `WITH v (vid, vstatus, vacked, vfailures, vnext, vsent, verror) AS (VALUES `+values+`)
				UPDATE subscriptions SET status = v.vstatus, acked = `+greatest+`(acked, v.vacked), failures = v.vfailures,
				next_attempt = v.vnext, last_sent = CASE WHEN v.vsent > 0 THEN v.vsent ELSE last_sent END, last_error = v.verror,
				lease_owner = '', lease_until = 0
				FROM v WHERE subscriptions.id = v.vid AND subscriptions.lease_owner = `+o, append(args, owner)...)
			return err
		})
	})
}

// lazyCommit lets a claim's or a settle's transaction commit without
// waiting for its WAL flush (synchronous_commit off, this transaction
// only, PostgreSQL): that wait was most of a settle's time in the load
// test (a 40-row settle took 52 ms on the loaded machine). Losing such a
// commit in a crash or a failover only loses a lease or an acknowledged
// number, so the same events are delivered again: at least once still
// holds. A fan-out, which numbers events, and the changes that write the
// outbox keep their synchronous commits, so no number is ever given to
// two events and no acknowledged change loses its event.
func (r *Subscriptions) lazyCommit(ctx context.Context, tx *sql.Tx) error {
	if r.s.eng != enginePostgres {
		return nil
	}
	_, err := tx.ExecContext(ctx, "SELECT set_config('synchronous_commit', 'off', true)")
	return err
}

// eachValues calls f with a VALUES list of rows of width columns (each
// cast, text or BIGINT: a VALUES list in a CTE has no column types on
// PostgreSQL otherwise) and its arguments, rowsPerInsert/width rows at a
// time.
func eachValues(rows [][]any, width int, f func(values string, args []any) error) error {
	per := max(1, rowsPerInsert/width)
	for start := 0; start < len(rows); start += per {
		q := &query{}
		var b strings.Builder
		for i, row := range rows[start:min(len(rows), start+per)] {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteByte('(')
			for j, v := range row {
				if j > 0 {
					b.WriteString(", ")
				}
				switch v.(type) {
				case int64:
					b.WriteString("CAST(" + q.arg(v) + " AS BIGINT)")
				default:
					b.WriteString("CAST(" + q.arg(v) + " AS TEXT)")
				}
			}
			b.WriteByte(')')
		}
		if err := f(b.String(), q.args); err != nil {
			return err
		}
	}
	return nil
}

// Wait blocks until a NOTIFY dg_outbox (PostgreSQL) or d passes.
func (r *Subscriptions) Wait(ctx context.Context, d time.Duration) {
	if r.s.eng != enginePostgres {
		sleep(ctx, d)
		return
	}
	if r.listen == nil {
		c, err := r.s.db.Conn(ctx)
		if err != nil {
			sleep(ctx, d)
			return
		}
		if _, err := c.ExecContext(ctx, "LISTEN dg_outbox"); err != nil {
			c.Close()
			sleep(ctx, d)
			return
		}
		r.listen = c
	}
	wctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	err := r.listen.Raw(func(dc any) error {
		_, err := dc.(*stdlib.Conn).Conn().WaitForNotification(wctx)
		return err
	})
	if err != nil && wctx.Err() == nil {
		// The connection failed (a failover, say): open another next time.
		r.listen.Close()
		r.listen = nil
		sleep(ctx, d)
	}
}

// Close releases Wait's connection.
func (r *Subscriptions) Close() {
	if r.listen != nil {
		r.listen.Close()
		r.listen = nil
	}
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
