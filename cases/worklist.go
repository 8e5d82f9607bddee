package cases

import (
	"cmp"
	"context"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/dischargegateway/gateway/auth"
	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/fhir"
	"github.com/dischargegateway/gateway/referral"
)

// Worklist sort orders (the sort parameter).
const (
	SortNCTRDays = "-nctrDays" // most days not meeting the criteria to reside first (default)
	SortDRD      = "drd"       // earliest Discharge Ready Date first
	SortUpdated  = "-updated"  // most recently changed first
)

// maxMergedOffset bounds _offset when the worklist merges several trusts'
// cases (a hub without trust=): each trust's first offset + count rows
// are read and merged.
const maxMergedOffset = 10000

// WorklistQuery is one partition's worklist query, as the store runs it:
// every filter and cutoff is computed by the service, so the store
// compares columns with values and computes nothing of its own.
type WorklistQuery struct {
	// States are the states wanted; empty means every open state (and an
	// Encounter that is not finished, cancelled or entered in error).
	States []referral.CaseState
	// Pathways are pathway codes ("0".."3"); empty: any.
	Pathways []string
	// NCTRSinceAtMost keeps cases not meeting the criteria to reside since
	// this day or earlier (minNctrDays); nil: no filter.
	NCTRSinceAtMost *time.Time
	// Escalated, when set, keeps only flagged (true) or unflagged (false)
	// cases; a case is flagged when its first offer was sent at or before
	// OfferCutoff with no acceptance, or when it has not met the criteria
	// to reside since NCTRCutoff or earlier.
	Escalated               *bool
	OfferCutoff, NCTRCutoff time.Time
	// OfferRuleOff and NCTRRuleOff switch a rule off (its setting is 0 or
	// negative).
	OfferRuleOff, NCTRRuleOff bool
	// Sort is one of the Sort constants.
	Sort          string
	Offset, Limit int
}

// WorklistRow is one case of the worklist as the store reads it.
type WorklistRow struct {
	Partition, CaseID string
	State             referral.CaseState
	Pathway           string // "" when not recorded
	DRD, EDD          *discharge.Date
	NCTRSince         *discharge.Date
	// Updated is the later of the Encounter's lastUpdated and the case's
	// latest event.
	Updated                         time.Time
	FirstOfferSent, FirstAcceptance time.Time
}

// WorklistResult is one partition's page of rows, how many cases match,
// and how many of those are escalated.
type WorklistResult struct {
	Rows             []WorklistRow
	Total, Escalated int
}

// WorklistItem is a row with its computed NCTR days and escalation.
type WorklistItem struct {
	WorklistRow
	NCTRDays   *int
	Escalation []string
}

// WorklistPage is one page of the worklist and how many cases match.
type WorklistPage struct {
	Total  int
	Offset int
	Count  int
	Items  []WorklistItem
}

// Worklist answers GET /api/v1/cases: the open cases of the trusts the
// caller may read (a trust its own, a hub its members'; trust= narrows to
// one of them), filtered, sorted and paged. Care providers and admins are
// refused.
func (s *Service) Worklist(ctx context.Context, p *auth.Principal, vals url.Values) (WorklistPage, error) {
	if p == nil || (p.Role != auth.RoleHub && p.Role != auth.RoleTrust) {
		return WorklistPage{}, discharge.E(discharge.KindForbidden, "", "Only a trust (its own cases) or a hub (its member trusts') reads the worklist.")
	}
	now := s.now()
	q, trusts, err := s.parseWorklist(vals, now)
	if err != nil {
		return WorklistPage{}, err
	}
	parts := p.ReadableOrgs()
	if len(trusts) > 0 {
		parts = slices.DeleteFunc(slices.Clone(parts), func(o string) bool { return !slices.Contains(trusts, o) })
	}
	page := WorklistPage{Offset: q.Offset, Count: q.Limit, Items: []WorklistItem{}}
	if len(parts) > 1 && q.Offset > maxMergedOffset {
		return WorklistPage{}, discharge.E(discharge.KindValue, "_offset",
			"_offset above "+strconv.Itoa(maxMergedOffset)+" needs trust=: the worklist of several trusts is merged from each one's first pages.")
	}
	var rows []WorklistRow
	pq := q
	if len(parts) > 1 {
		pq.Offset, pq.Limit = 0, q.Offset+q.Limit
	}
	for _, part := range parts {
		res, err := s.store.Worklist(ctx, part, pq)
		if err != nil {
			return WorklistPage{}, err
		}
		rows = append(rows, res.Rows...)
		page.Total += res.Total
		if q.unfiltered() {
			s.escalated.observe(part, res.Escalated)
		}
	}
	if len(parts) > 1 {
		slices.SortStableFunc(rows, rowOrder(q.Sort))
		rows = rows[min(q.Offset, len(rows)):min(q.Offset+q.Limit, len(rows))]
	}
	for _, r := range rows {
		page.Items = append(page.Items, s.item(r, now))
	}
	return page, nil
}

// unfiltered reports a query of every open case (sorted and paged in any
// way): its escalated count is the partition's, for the gauge.
func (q WorklistQuery) unfiltered() bool {
	return len(q.States) == 0 && len(q.Pathways) == 0 && q.NCTRSinceAtMost == nil && q.Escalated == nil
}

// item computes a row's NCTR days and escalation as the case view does.
func (s *Service) item(r WorklistRow, now time.Time) WorklistItem {
	it := WorklistItem{WorklistRow: r}
	if r.NCTRSince != nil {
		n := discharge.NCTRDays(*r.NCTRSince, now)
		it.NCTRDays = &n
	}
	if !Closed(r.State) {
		it.Escalation = s.cfg.Escalation.Escalate(discharge.Milestones{FirstOfferSent: r.FirstOfferSent, FirstAcceptance: r.FirstAcceptance}, it.NCTRDays, now)
	}
	return it
}

// rowOrder is the sort of the store's ORDER BY, for merging partitions:
// the key, missing values last, then the partition and the id.
func rowOrder(sort string) func(a, b WorklistRow) int {
	day := func(d *discharge.Date) (bool, time.Time) {
		if d == nil {
			return true, time.Time{}
		}
		return false, discharge.DayStart(*d)
	}
	return func(a, b WorklistRow) int {
		var c int
		switch sort {
		case SortUpdated:
			c = b.Updated.Compare(a.Updated)
		default:
			x, y := a.NCTRSince, b.NCTRSince
			if sort == SortDRD {
				x, y = a.DRD, b.DRD
			}
			nx, tx := day(x)
			ny, ty := day(y)
			if c = boolCmp(nx, ny); c == 0 {
				c = tx.Compare(ty)
			}
		}
		if c != 0 {
			return c
		}
		return cmp.Or(strings.Compare(a.Partition, b.Partition), strings.Compare(a.CaseID, b.CaseID))
	}
}

func boolCmp(a, b bool) int {
	switch {
	case a == b:
		return 0
	case !a:
		return -1
	}
	return 1
}

// worklistParams are the worklist's parameters; any other is refused, so
// a misspelt filter never silently widens the list.
var worklistParams = map[string]bool{"state": true, "pathway": true, "trust": true, "minNctrDays": true,
	"escalated": true, "sort": true, "_count": true, "_offset": true}

// parseWorklist reads the query into a WorklistQuery at now, and the
// trusts asked for.
func (s *Service) parseWorklist(vals url.Values, now time.Time) (WorklistQuery, []string, error) {
	var q WorklistQuery
	for k := range vals {
		if !worklistParams[k] {
			return q, nil, discharge.E(discharge.KindNotSupported, k, "Unknown worklist parameter: use state, pathway, trust, minNctrDays, escalated, sort, _count, _offset.")
		}
	}
	pg, err := fhir.ParsePaging(vals, fhir.DefaultCount, fhir.MaxCount)
	if err != nil {
		return q, nil, err
	}
	q.Offset, q.Limit = pg.Offset, pg.Count
	list := func(name string) []string {
		var out []string
		for _, v := range vals[name] {
			for _, x := range strings.Split(v, ",") {
				if x = strings.TrimSpace(x); x != "" {
					out = append(out, x)
				}
			}
		}
		return out
	}
	for _, st := range list("state") {
		if !slices.Contains(referral.CaseStates(), referral.CaseState(st)) {
			return q, nil, discharge.E(discharge.KindValue, "state", "Unknown case state: use "+statesList()+".")
		}
		q.States = append(q.States, referral.CaseState(st))
	}
	for _, pw := range list("pathway") {
		if n, err := strconv.Atoi(pw); err != nil || strconv.Itoa(n) != pw || !discharge.Pathway(n).Valid() {
			return q, nil, discharge.E(discharge.KindValue, "pathway", "The pathway is 0, 1, 2 or 3.")
		}
		q.Pathways = append(q.Pathways, pw)
	}
	if v := vals.Get("minNctrDays"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > 100000 {
			return q, nil, discharge.E(discharge.KindValue, "minNctrDays", "minNctrDays is a whole number of days from 0.")
		}
		at := now.Add(-time.Duration(n) * 24 * time.Hour)
		q.NCTRSinceAtMost = &at
	}
	if v := vals.Get("escalated"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil || (v != "true" && v != "false") {
			return q, nil, discharge.E(discharge.KindValue, "escalated", "escalated is true or false.")
		}
		q.Escalated = &b
	}
	rule := s.cfg.Escalation
	q.OfferRuleOff, q.NCTRRuleOff = rule.OfferWait <= 0, rule.NCTRDays < 0
	q.OfferCutoff = now.Add(-rule.OfferWait)
	// More than NCTRDays whole days: since at or before now - (NCTRDays+1) days.
	q.NCTRCutoff = now.Add(-time.Duration(rule.NCTRDays+1) * 24 * time.Hour)
	q.Sort = SortNCTRDays
	if v := vals.Get("sort"); v != "" {
		if v != SortNCTRDays && v != SortDRD && v != SortUpdated {
			return q, nil, discharge.E(discharge.KindValue, "sort", "sort is -nctrDays (the default), drd or -updated.")
		}
		q.Sort = v
	}
	return q, list("trust"), nil
}

func statesList() string {
	var s []string
	for _, st := range referral.CaseStates() {
		s = append(s, string(st))
	}
	return strings.Join(s, ", ")
}

// escalatedCounts are the escalated open cases of each partition as the
// latest unfiltered worklist read of it counted them: the gauge
// dg.cases.escalated sums them. A partition nobody has read since the
// process started is not in it.
type escalatedCounts struct {
	mu sync.Mutex
	by map[string]int
}

func (e *escalatedCounts) observe(partition string, n int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.by == nil {
		e.by = map[string]int{}
	}
	e.by[partition] = n
}

// EscalatedCases is the number of escalated open cases, summed over the
// partitions whose worklist was read since the process started (each as
// of its latest unfiltered read).
func (s *Service) EscalatedCases() int64 {
	s.escalated.mu.Lock()
	defer s.escalated.mu.Unlock()
	var n int64
	for _, c := range s.escalated.by {
		n += int64(c)
	}
	return n
}
