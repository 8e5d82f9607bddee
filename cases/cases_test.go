package cases_test

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/dischargegateway/gateway/auth"
	"github.com/dischargegateway/gateway/cases"
	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/records"
	"github.com/dischargegateway/gateway/referral"
)

func TestStateOf(t *testing.T) {
	referred := time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
	at := func(h int) time.Time { return referred.Add(time.Duration(h) * time.Hour) }
	for _, c := range []struct {
		name   string
		events []referral.Event
		want   referral.CaseState
		since  time.Time
	}{
		{"no events: referred at the first version", nil, referral.CaseReferred, referred},
		{"the latest event's state", []referral.Event{
			{Seq: 1, At: at(1), Kind: referral.EventShortlisted, State: referral.CaseShortlisted},
			{Seq: 2, At: at(2), Kind: referral.EventOfferSent, State: referral.CaseOffersSent},
			{Seq: 3, At: at(3), Kind: referral.EventOfferAccepted, State: referral.CaseAccepted}}, referral.CaseAccepted, at(3)},
		{"a rejection keeps offers-sent", []referral.Event{
			{Seq: 1, At: at(1), Kind: referral.EventOfferSent, State: referral.CaseOffersSent},
			{Seq: 2, At: at(2), Kind: referral.EventOfferRejected, State: referral.CaseOffersSent}}, referral.CaseOffersSent, at(2)},
		{"discharged", []referral.Event{{Seq: 1, At: at(9), Kind: referral.EventDischarged, State: referral.CaseDischarged}}, referral.CaseDischarged, at(9)},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, since := cases.StateOf(c.events, referred)
			if got != c.want || !since.Equal(c.since) {
				t.Fatalf("StateOf = %s %s, want %s %s", got, since, c.want, c.since)
			}
		})
	}
}

func TestMilestonesOf(t *testing.T) {
	t0 := time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
	at := func(h int) time.Time { return t0.Add(time.Duration(h) * time.Hour) }
	m := cases.MilestonesOf([]referral.Event{
		{Kind: referral.EventShortlisted, At: at(1)}, {Kind: referral.EventOfferSent, At: at(2)}, {Kind: referral.EventOfferSent, At: at(3)},
		{Kind: referral.EventOfferAccepted, At: at(5)}, {Kind: referral.EventOfferAccepted, At: at(4)}, // out of order: the first is the earliest
		{Kind: referral.EventConfirmed, At: at(6)}, {Kind: referral.EventDischarged, At: at(30)},
	}, t0)
	if !m.FirstShortlist.Equal(at(1)) || !m.FirstOfferSent.Equal(at(2)) || !m.FirstAcceptance.Equal(at(4)) ||
		!m.Confirmed.Equal(at(6)) || !m.Discharged.Equal(at(30)) || !m.Referred.Equal(t0) {
		t.Fatalf("%+v", m)
	}
}

func TestTriageDecisionValidate(t *testing.T) {
	for _, c := range []struct {
		d     cases.TriageDecision
		field string
	}{
		{cases.TriageDecision{Pathway: "3", Destination: "54", LevelOfCare: "nursing"}, ""},
		{cases.TriageDecision{Pathway: "4", Destination: "54", LevelOfCare: "nursing"}, "pathway"},
		{cases.TriageDecision{Pathway: "03", Destination: "54", LevelOfCare: "nursing"}, "pathway"},
		{cases.TriageDecision{Pathway: "3", Destination: "", LevelOfCare: "nursing"}, "destination"},
		{cases.TriageDecision{Pathway: "3", Destination: "54", LevelOfCare: "castle"}, "levelOfCare"},
	} {
		err := c.d.Validate()
		if c.field == "" {
			if err != nil {
				t.Errorf("%+v: %v", c.d, err)
			}
			continue
		}
		de, ok := err.(*discharge.Error)
		if !ok || len(de.Issues) != 1 || de.Issues[0].Expression != c.field || de.Kind != discharge.KindCodeInvalid {
			t.Errorf("%+v: %v", c.d, err)
		}
	}
}

// fakeStore is a hand-written fake of the case store: each partition's
// worklist rows, already in the order the store would give.
type fakeStore struct {
	cases.Store
	rows   map[string][]cases.WorklistRow
	events []referral.Event
	// escalated is each partition's escalated count among its matches.
	escalated map[string]int
}

func (f *fakeStore) Worklist(_ context.Context, partition string, q cases.WorklistQuery) (cases.WorklistResult, error) {
	rs := f.rows[partition]
	return cases.WorklistResult{Rows: rs[min(q.Offset, len(rs)):min(q.Offset+q.Limit, len(rs))], Total: len(rs), Escalated: f.escalated[partition]}, nil
}

func (f *fakeStore) Events(context.Context, string, string) ([]referral.Event, error) {
	return f.events, nil
}
func (f *fakeStore) Offers(context.Context, string, string) ([]discharge.Offer, error) {
	return nil, nil
}
func (f *fakeStore) AppendEvent(_ context.Context, e referral.Event) (referral.Event, error) {
	f.events = append(f.events, e)
	return e, nil
}

type fakeRecords struct{ partition string }

func (f fakeRecords) Case(_ context.Context, p *auth.Principal, id string) (records.Case, error) {
	if !p.CanSee(f.partition) {
		return records.Case{}, discharge.E(discharge.KindNotFound, "id", "No discharge case with that id.")
	}
	return records.Case{Encounter: "Encounter/" + id, Partition: f.partition}, nil
}

// A hub's worklist merges its members' pages in the sort order, counts
// every match, and pages over the merge.
func TestWorklistMergesPartitions(t *testing.T) {
	day := func(d int) *discharge.Date { x := discharge.Date{Year: 2026, Month: 11, Day: d}; return &x }
	st := &fakeStore{rows: map[string][]cases.WorklistRow{
		"RXA": {{Partition: "RXA", CaseID: "a1", NCTRSince: day(1)}, {Partition: "RXA", CaseID: "a2", NCTRSince: day(5)}, {Partition: "RXA", CaseID: "a3"}},
		"RXB": {{Partition: "RXB", CaseID: "b1", NCTRSince: day(3)}, {Partition: "RXB", CaseID: "b2"}},
	}}
	svc := cases.New(cases.DefaultConfig(), nil, st, func() time.Time { return time.Date(2026, 11, 10, 0, 0, 0, 0, time.UTC) })
	hub := &auth.Principal{ClientID: "hub", Org: "QXH", Role: auth.RoleHub, Members: []string{"RXA", "RXB"}}
	ids := func(p cases.WorklistPage) string {
		var out []string
		for _, it := range p.Items {
			out = append(out, it.CaseID)
		}
		return strings.Join(out, ",")
	}
	for _, c := range []struct {
		query, want string
		total       int
	}{
		{"", "a1,b1,a2,a3,b2", 5},
		{"_count=2&_offset=1", "b1,a2", 5},
		{"trust=RXB", "b1,b2", 2},
		{"trust=RXC", "", 0},
	} {
		vals, _ := url.ParseQuery(c.query)
		p, err := svc.Worklist(context.Background(), hub, vals)
		if err != nil || ids(p) != c.want || p.Total != c.total {
			t.Errorf("%q: %s total %d (%v), want %s total %d", c.query, ids(p), p.Total, err, c.want, c.total)
		}
	}
	// The gauge sums each trust's latest unfiltered count; a filtered read
	// (trust= is not a filter of the rows) leaves it as it was.
	st.escalated = map[string]int{"RXA": 2, "RXB": 1}
	if _, err := svc.Worklist(context.Background(), hub, url.Values{"pathway": {"3"}}); err != nil {
		t.Fatal(err)
	}
	if got := svc.EscalatedCases(); got != 0 {
		t.Errorf("EscalatedCases = %d after a filtered read only", got)
	}
	if _, err := svc.Worklist(context.Background(), hub, url.Values{}); err != nil {
		t.Fatal(err)
	}
	if got := svc.EscalatedCases(); got != 3 {
		t.Errorf("EscalatedCases = %d, want 3", got)
	}
	for _, p := range []*auth.Principal{nil, {Role: auth.RoleCareProvider, Org: "1-101"}, {Role: auth.RoleAdmin, Org: "OPS"}} {
		if _, err := svc.Worklist(context.Background(), p, url.Values{}); discharge.ErrorKind(err) != discharge.KindForbidden {
			t.Errorf("%v: %v", p, err)
		}
	}
}

// Triage: the role rule first, then the codes, then the record's tenancy;
// the decision is one triage event in the case's current state.
func TestTriageService(t *testing.T) {
	now := time.Date(2026, 11, 10, 12, 0, 0, 0, time.UTC)
	st := &fakeStore{}
	svc := cases.New(cases.DefaultConfig(), fakeRecords{partition: "RXA"}, st, func() time.Time { return now })
	ok := cases.TriageDecision{Pathway: "3", Destination: "54", LevelOfCare: "nursing"}
	hub := &auth.Principal{ClientID: "hub", Org: "QXH", Role: auth.RoleHub, Members: []string{"RXA"}}
	for _, c := range []struct {
		p    *auth.Principal
		d    cases.TriageDecision
		kind discharge.Kind
	}{
		{&auth.Principal{Role: auth.RoleCareProvider, Org: "1-101"}, ok, discharge.KindForbidden},
		{&auth.Principal{Role: auth.RoleHub, Org: "QXZ", Members: []string{"RXC"}}, ok, discharge.KindNotFound},
		{hub, cases.TriageDecision{Pathway: "9", Destination: "54", LevelOfCare: "nursing"}, discharge.KindCodeInvalid},
	} {
		if _, err := svc.Triage(context.Background(), c.p, "e1", c.d); discharge.ErrorKind(err) != c.kind {
			t.Errorf("%+v %+v: %v, want %v", c.p, c.d, err, c.kind)
		}
	}
	if len(st.events) != 0 {
		t.Fatalf("a refused decision was stored: %+v", st.events)
	}
	v, err := svc.Triage(context.Background(), hub, "e1", ok)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.events) != 1 || st.events[0].Kind != referral.EventTriage || st.events[0].State != referral.CaseReferred ||
		st.events[0].ActorOrg != "QXH" || st.events[0].Partition != "RXA" || v.Triage == nil || v.Triage.TriageDecision != ok {
		t.Fatalf("events %+v view triage %+v", st.events, v.Triage)
	}
	st.events = append(st.events, referral.Event{Kind: referral.EventDischarged, State: referral.CaseDischarged, At: now})
	if _, err := svc.Triage(context.Background(), hub, "e1", ok); discharge.ErrorKind(err) != discharge.KindConflict {
		t.Fatalf("triage of a discharged case: %v", err)
	}
}
