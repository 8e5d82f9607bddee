package sqlstore

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/referral"
)

// Group commit of the referral loop's changes on PostgreSQL.
//
// Concurrent changes that update existing Tasks (an accept, a rejection,
// a receipt, a withdrawal, an expiry) share one transaction: one pipelined
// batch and one durable COMMIT for up to defaultGroup of them, where each alone
// costs three round trips and a WAL flush of its own. On this 2-core
// machine the flush and the round trips were about half of an accept's
// CPU (docs/performance.md, "Referral").
//
// What a member of a group is promised is what Apply promises alone:
//   - it is acknowledged only after the transaction holding it committed;
//   - its checks are the same statements' (the Task's and offer's expected
//     versions in the UPDATEs' WHERE, the hold's INSERT under its hold lock
//     counting the active holds against the posting read before the
//     batch, the events numbered after the cases' locks);
//   - when any check of any member fails, or any statement fails, the
//     whole group rolls back and every member is applied again alone, by
//     its own caller, through the ordinary path (pipelinedApply, then the
//     ordinary transaction when a hold's condition failed). So one member's
//     refusal never refuses another, and a member is never partly written.
//
// Members are chosen so that none shares a Task or a case with another of
// its group: a case's state after an event is computed from its offers, so
// two changes of one case go in separate transactions, in arrival order.
//
// Locks are taken in one order across the whole group, the order every
// single change also takes them in (Referral's comment): the Tasks' rows,
// partition by partition in key order (each offer's row, timer and hold
// rows are only ever written under their Task's row lock); then the hold
// locks in (location, bed type) order; then the cases' locks, partition
// by partition in case order. So a group and a single change, or two
// groups of two gateway processes, wait for each other rather than
// deadlock.
//
// At most flights groups are in flight at once per Referral (two, one per
// core of this machine: a group's statements run one after another in
// its backend): a caller that finds fewer in flight leads one, taking the
// changes that queued meanwhile, and on finishing hands the lead to the
// oldest change still queued. There is no background goroutine, so
// nothing outlives the store. Two groups in flight take their locks in
// the same order, so they wait for each other rather than deadlock.
type applyGroup struct {
	r   *Referral
	max int

	// flights is how many groups may be in flight at once: a group's
	// statements run one after another in one backend, so with one in
	// flight the server uses one core while the changes queue.
	flights int

	mu       sync.Mutex
	inflight int
	pending  []*groupMember
}

// groupMember is one change waiting for, or in, a group.
type groupMember struct {
	c   referral.Change
	ps  []prepared
	res chan groupResult // buffered: one message, a result or the lead
}

// groupResult is what a member is told: to lead, to apply its change
// alone, or its group's outcome.
type groupResult struct {
	lead, alone bool
	err         error
}

// defaultGroup bounds a group: a batch of 64 accepts is about 650
// statements. maxGroup bounds what SetGroupCommit may set.
const (
	defaultGroup = 64
	maxGroup     = 256
)

// groupTimeout bounds one group's transaction: the group runs on behalf of
// several callers, so it does not end with its leader's context.
const groupTimeout = 30 * time.Second

// SetGroupCommit sets how many changes may share one transaction on
// PostgreSQL (at most 1: each change commits alone, as before group
// commit) and how many such transactions may be in flight at once (at
// least 1). For benchmarks that compare settings in one run.
func (r *Referral) SetGroupCommit(n, flights int) {
	if r.group == nil {
		return
	}
	r.group.mu.Lock()
	defer r.group.mu.Unlock()
	r.group.max = min(max(n, 1), maxGroup)
	r.group.flights = max(flights, 1)
}

// GroupCommits is how many groups of changes committed together, and how
// many a statement error (not a member's failed check) rolled back, since
// the Referral was made.
func (r *Referral) GroupCommits() (committed, failed int64) {
	return r.groups.Load(), r.groupFailures.Load()
}

// groupable reports whether c may share a transaction: it updates
// existing Tasks only (creates go through the pipeline alone).
func groupable(c referral.Change) bool {
	if len(c.Offers) == 0 {
		return false
	}
	for _, w := range c.Offers {
		if w.ExpectVersion == 0 || w.Task.Type != "Task" {
			return false
		}
	}
	return true
}

// apply applies c in a group. alone: the caller must apply c itself,
// through the ordinary path (the group could not hold it).
func (g *applyGroup) apply(ctx context.Context, c referral.Change, ps []prepared) (alone bool, err error) {
	m := &groupMember{c: c, ps: ps, res: make(chan groupResult, 1)}
	g.mu.Lock()
	if g.max <= 1 {
		g.mu.Unlock()
		return true, nil
	}
	g.pending = append(g.pending, m)
	if g.inflight < g.flights {
		g.inflight++
		g.mu.Unlock()
		res := g.lead(ctx, m)
		return res.alone, res.err
	}
	g.mu.Unlock()
	select {
	case res := <-m.res:
		if res.lead {
			res = g.lead(ctx, m)
		}
		return res.alone, res.err
	case <-ctx.Done():
	}
	g.mu.Lock()
	if i := slices.Index(g.pending, m); i >= 0 {
		// Still queued: leave. If the lead was just handed to this
		// member, pass it on.
		g.pending = slices.Delete(g.pending, i, i+1)
		select {
		case <-m.res:
			g.handOn()
		default:
		}
		g.mu.Unlock()
		return false, classify("sqlstore.Referral.Apply", ctx.Err())
	}
	g.mu.Unlock()
	// Taken into a group already: its outcome is this change's.
	res := <-m.res
	return res.alone, res.err
}

// handOn gives the lead to the oldest queued member, or ends its flight.
// g.mu is held.
func (g *applyGroup) handOn() {
	if len(g.pending) == 0 {
		g.inflight--
		return
	}
	g.pending[0].res <- groupResult{lead: true}
}

// lead runs one group with self in it, answers its other members, hands
// on the lead and returns self's result. A group of one is applied alone
// while the lead is held, so that the changes arriving meanwhile queue and
// form the next group (the lead is in flight for a commit, as a group's).
func (g *applyGroup) lead(ctx context.Context, self *groupMember) (out groupResult) {
	g.mu.Lock()
	members := g.take(self)
	g.mu.Unlock()
	if beforeGroup != nil {
		beforeGroup(len(members))
	}
	results := make([]groupResult, len(members))
	func() {
		defer func() {
			if p := recover(); p != nil {
				for i := range results {
					results[i] = groupResult{err: discharge.E(discharge.KindInternal, "", "the group commit of referral changes failed")}
				}
			}
		}()
		if len(members) == 1 {
			results[0] = groupResult{err: g.r.applyAlone(ctx, self.c, self.ps)}
			return
		}
		g.r.runGroup(members, results)
	}()
	g.mu.Lock()
	for i, m := range members[1:] {
		m.res <- results[i+1]
	}
	g.handOn()
	g.mu.Unlock()
	return results[0]
}

// take removes from the queue self and, in arrival order, the queued
// members that share no Task and no case with those taken. g.mu is held.
func (g *applyGroup) take(self *groupMember) []*groupMember {
	members := []*groupMember{self}
	seen := map[string]bool{}
	keys := func(m *groupMember) []string {
		var ks []string
		for _, w := range m.c.Offers {
			ks = append(ks, "T|"+m.c.Partition+"|"+w.Task.ID)
		}
		for _, e := range m.c.Events {
			ks = append(ks, "C|"+m.c.Partition+"|"+e.CaseID)
		}
		return ks
	}
	for _, k := range keys(self) {
		seen[k] = true
	}
	rest := g.pending[:0]
	for _, m := range g.pending {
		if m == self {
			continue
		}
		if len(members) >= g.max {
			rest = append(rest, m)
			continue
		}
		ks := keys(m)
		if slices.ContainsFunc(ks, func(k string) bool { return seen[k] }) {
			rest = append(rest, m)
			continue
		}
		for _, k := range ks {
			seen[k] = true
		}
		members = append(members, m)
	}
	clear(g.pending[len(rest):])
	g.pending = rest
	return members
}

// runGroup applies members in one transaction and sets each one's result:
// nil when it committed, alone when the group could not hold it (or rolled
// back), so that its caller applies it by itself.
func (r *Referral) runGroup(members []*groupMember, results []groupResult) {
	ctx, cancel := context.WithTimeout(context.Background(), groupTimeout)
	defer cancel()
	allAlone := func() {
		for i := range results {
			results[i] = groupResult{alone: true}
		}
	}
	conn, err := r.s.db.Conn(ctx)
	if err != nil {
		allAlone()
		return
	}
	defer conn.Close()
	err = conn.Raw(func(dc any) error {
		pc := dc.(*stdlib.Conn).Conn()
		vacant, err := groupVacancies(ctx, pc, members)
		if err != nil {
			return err
		}
		// A member whose hold has no bookable bed in the posting read
		// now goes alone: the ordinary path refuses it with the numbers.
		in := make([]int, 0, len(members))
		for i, m := range members {
			ok := true
			for _, w := range m.c.Offers {
				if h := w.Offer.Hold; h != nil && w.NewHold {
					if p, found := vacant[h.LocationID]; !found || p.vacant(h.BedType) < 1 {
						ok = false
					}
				}
			}
			if ok {
				in = append(in, i)
			} else {
				results[i] = groupResult{alone: true}
			}
		}
		if len(in) < 2 {
			for _, i := range in {
				results[i] = groupResult{alone: true}
			}
			return nil
		}
		short, runErr := sendStmts(ctx, pc, groupStatements(members, in, vacant))
		if runErr == nil && short != nil {
			runErr = errGroupCheck
		}
		if runErr = endPipelined(ctx, pc, runErr); runErr != nil {
			return runErr
		}
		for _, i := range in {
			results[i] = groupResult{}
		}
		return nil
	})
	if err != nil {
		// Rolled back (or the COMMIT's outcome is unknown): each member
		// is applied again alone, where a change that did commit finds
		// its Task's version moved, as a retried single change would.
		allAlone()
		if !errors.Is(err, errGroupCheck) {
			r.groupFailures.Add(1)
		}
		return
	}
	r.groups.Add(1)
}

// beforeGroup, when set (by tests only), runs as a lead has taken its
// group's n members and before it applies them: where a test holds a
// group in flight while others queue.
var beforeGroup func(n int)

// errGroupCheck: a member's check failed in the group's transaction.
var errGroupCheck = errors.New("a check of a grouped change failed")

// groupPosting is a Location's latest posting as a group reads it.
type groupPosting struct {
	version int64
	posting discharge.Capacity
}

func (p groupPosting) vacant(bt discharge.BedType) int { return p.posting.Vacant(bt) }

// groupVacancies reads, in one round trip, the latest posting of every
// Location a member takes a hold at.
func groupVacancies(ctx context.Context, pc *pgx.Conn, members []*groupMember) (map[string]groupPosting, error) {
	var locs []string
	for _, m := range members {
		for _, w := range m.c.Offers {
			if h := w.Offer.Hold; h != nil && w.NewHold {
				locs = append(locs, h.LocationID)
			}
		}
	}
	out := map[string]groupPosting{}
	if len(locs) == 0 {
		return out, nil
	}
	slices.Sort(locs)
	locs = slices.Compact(locs)
	rows, err := pc.Query(ctx, `SELECT DISTINCT ON (location) location, version, posting FROM capacity_postings
		WHERE location = ANY($1) ORDER BY location, version DESC`, locs)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var loc, body string
		var v int64
		if err := rows.Scan(&loc, &v, &body); err != nil {
			return nil, err
		}
		if cp := decodePosting(body, v); cp.LocationID != "" {
			out[loc] = groupPosting{version: v, posting: cp}
		}
	}
	return out, rows.Err()
}

// groupStatements are the statements of members[in...] as one
// transaction, in the lock order applyGroup describes. The statements
// are a single change's (offerStatements, the hold's conditional INSERT,
// caseLocks, eventInsert), but the rows of tables without a partition
// policy go as one statement for the whole group: the timers, the hold
// locks, the Tasks' outbox rows. The hold locks' upsert takes its rows'
// locks in the order of its VALUES, (location, bed type) order.
func groupStatements(members []*groupMember, in []int, vacant map[string]groupPosting) []stmt {
	byPartition := map[string][]*groupMember{}
	var partitions []string
	for _, i := range in {
		m := members[i]
		if _, ok := byPartition[m.c.Partition]; !ok {
			partitions = append(partitions, m.c.Partition)
		}
		byPartition[m.c.Partition] = append(byPartition[m.c.Partition], m)
	}
	slices.Sort(partitions)
	setPartition := func(p string) stmt {
		return stmt{q: "SELECT set_config('app.partition', $1, true)", args: []any{p}}
	}
	stmts := []stmt{{q: "BEGIN ISOLATION LEVEL READ COMMITTED"}}

	// The Tasks, partition by partition in key order, with their history
	// and their offers' rows.
	type heldBy struct {
		m *groupMember
		w referral.OfferWrite
	}
	var holds []heldBy
	var timers, untimed, outbox [][]any
	var holdStates []stmt
	for _, part := range partitions {
		ms := byPartition[part]
		var ps []prepared
		for _, m := range ms {
			ps = append(ps, m.ps...)
		}
		ordered, _ := inKeyOrder(ps) // members share no Task (take)
		stmts = append(stmts, setPartition(part))
		for _, p := range ordered {
			res := p.w.Resource
			stmts = append(stmts, stmt{q: `UPDATE resources SET version = $1, last_updated = $2, body = $3
			 WHERE partition = $4 AND type = $5 AND id = $6 AND version = $7`,
				args: []any{res.VersionID, toNanos(res.LastUpdated), string(res.JSON), part, res.Type, res.ID, p.w.ExpectVersion},
				want: 1})
		}
		for _, ins := range followingRows(part, ordered) {
			stmts = append(stmts, insertStmts(ins.head, "", ins.rows, false)...)
		}
		for _, m := range ms {
			at := toNanos(m.c.At)
			for _, w := range m.c.Offers {
				stmts = append(stmts, offerRow(part, w))
				if row, del := timerRow(part, w); del {
					untimed = append(untimed, row)
				} else {
					timers = append(timers, row)
				}
				if h := w.Offer.Hold; h != nil && w.NewHold {
					holds = append(holds, heldBy{m, w})
				}
				if st, ok := holdState(w, at); ok {
					holdStates = append(holdStates, st)
				}
				outbox = append(outbox, taskOutboxRow(part, w.Offer, at))
			}
		}
	}
	// Timers, holds and hold locks and the outbox carry no partition
	// policy. A timer and an existing hold are their Task's, whose row
	// this transaction holds.
	stmts = append(stmts, insertStmts(timerUpsertHead, timerUpsertTail, timers, false)...)
	stmts = append(stmts, timerDeletes(untimed)...)

	// The new holds, under their locks taken in (location, bed type)
	// order, each counted against its Location's posting by its INSERT.
	slices.SortStableFunc(holds, func(a, b heldBy) int {
		ha, hb := a.w.Offer.Hold, b.w.Offer.Hold
		return cmp.Or(cmp.Compare(ha.LocationID, hb.LocationID), cmp.Compare(ha.BedType, hb.BedType))
	})
	var locks [][]any
	for i, hb := range holds {
		h := hb.w.Offer.Hold
		if i > 0 {
			if p := holds[i-1].w.Offer.Hold; p.LocationID == h.LocationID && p.BedType == h.BedType {
				continue
			}
		}
		locks = append(locks, []any{h.LocationID, string(h.BedType), int64(1)})
	}
	stmts = append(stmts, insertStmts(holdLockHead, holdLockTail, locks, false)...)
	for _, hb := range holds {
		h := hb.w.Offer.Hold
		p := vacant[h.LocationID]
		stmts = append(stmts, holdInsert(hb.m.c.Partition, hb.w.Offer.ID, h, p.version, p.vacant(h.BedType)))
	}
	stmts = append(stmts, holdStates...)
	stmts = append(stmts, insertStmts(outboxHead, "", outbox, false)...)

	// Then, partition by partition: the cases' locks in case order, and
	// the events.
	for _, part := range partitions {
		ms := byPartition[part]
		stmts = append(stmts, setPartition(part))
		var ids []string
		for _, m := range ms {
			for _, e := range m.c.Events {
				ids = append(ids, e.CaseID)
			}
		}
		stmts = append(stmts, caseLocks(part, ids)...)
		for _, m := range ms {
			for _, e := range m.c.Events {
				stmts = append(stmts, eventWithOutbox(part, e))
			}
		}
	}
	return stmts
}
