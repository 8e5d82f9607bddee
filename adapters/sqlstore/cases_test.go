package sqlstore_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/dischargegateway/gateway/adapters/sqlstore"
	"github.com/dischargegateway/gateway/cases"
	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/fhir"
	"github.com/dischargegateway/gateway/referral"
)

// encounterSpec is what a test Encounter says about its discharge.
type encounterSpec struct {
	id, status, pathway, drd, edd, nctrSince string
}

// encounterJSON is an Encounter with the gateway's discharge extensions.
func encounterJSON(e encounterSpec) []byte {
	const base = "https://fhir.discharge-gateway.example/"
	var ext []string
	if e.pathway != "" {
		ext = append(ext, `{"url":"`+base+`StructureDefinition/discharge-pathway","valueCodeableConcept":{"coding":[{"system":"`+base+`CodeSystem/discharge-pathway","code":"`+e.pathway+`"}]}}`)
	}
	if e.drd != "" {
		ext = append(ext, `{"url":"`+base+`StructureDefinition/discharge-ready-date","valueDate":"`+e.drd+`"}`)
	}
	if e.edd != "" {
		ext = append(ext, `{"url":"http://hl7.org/fhir/5.0/StructureDefinition/extension-Encounter.plannedEndDate","valueDateTime":"`+e.edd+`"}`)
	}
	if e.nctrSince != "" {
		ext = append(ext, `{"url":"`+base+`StructureDefinition/criteria-to-reside","extension":[{"url":"met","valueBoolean":false},{"url":"since","valueDate":"`+e.nctrSince+`"}]}`)
	}
	status := e.status
	if status == "" {
		status = "in-progress"
	}
	return []byte(`{"resourceType":"Encounter","id":"` + e.id + `","status":"` + status + `","class":{"code":"IMP"},"extension":[` + strings.Join(ext, ",") + `]}`)
}

// putEncounters stores Encounters in partition with their search index,
// as the record service does.
func putEncounters(t testing.TB, s *sqlstore.Store, partition string, at time.Time, specs ...encounterSpec) {
	t.Helper()
	var ws []fhir.Write
	for _, e := range specs {
		body := encounterJSON(e)
		var doc map[string]any
		if err := json.Unmarshal(body, &doc); err != nil {
			t.Fatal(err)
		}
		ws = append(ws, fhir.Write{Resource: fhir.Resource{Type: "Encounter", ID: e.id, VersionID: 1, LastUpdated: at, JSON: body},
			Index: fhir.IndexEntries("Encounter", doc)})
	}
	for i := 0; i < len(ws); i += 400 {
		if err := s.Commit(context.Background(), partition, ws[i:min(i+400, len(ws))], nil); err != nil {
			t.Fatal(err)
		}
	}
}

func appendEvent(t testing.TB, c *sqlstore.Cases, e referral.Event) referral.Event {
	t.Helper()
	got, err := c.AppendEvent(context.Background(), e)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func rowIDs(rs []cases.WorklistRow) string {
	var ids []string
	for _, r := range rs {
		ids = append(ids, r.CaseID)
	}
	return strings.Join(ids, ",")
}

func TestCasesStore(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	at := func(h int) time.Time { return now.Add(time.Duration(h) * time.Hour) }
	sqlEngines(t, map[string]func(t *testing.T, s *sqlstore.Store){
		"events in order, seq assigned, partition kept apart": func(t *testing.T, s *sqlstore.Store) {
			c := sqlstore.NewCases(s)
			a := appendEvent(t, c, referral.Event{Partition: "RXA", CaseID: "e1", At: at(-3), Kind: referral.EventShortlisted, State: referral.CaseShortlisted, Actor: "trust-a", ActorOrg: "RXA"})
			b := appendEvent(t, c, referral.Event{Partition: "RXA", CaseID: "e1", At: at(-2), Kind: referral.EventOfferSent, State: referral.CaseOffersSent, TaskID: "t1", ProviderOrg: "1-1"})
			other := appendEvent(t, c, referral.Event{Partition: "RXB", CaseID: "e1", At: at(-1), Kind: referral.EventShortlisted, State: referral.CaseShortlisted})
			if a.Seq != 1 || b.Seq != 2 || other.Seq != 1 {
				t.Fatalf("seqs %d %d %d", a.Seq, b.Seq, other.Seq)
			}
			evs, err := c.Events(ctx, "RXA", "e1")
			if err != nil {
				t.Fatal(err)
			}
			if len(evs) != 2 || evs[0].Kind != referral.EventShortlisted || evs[1].TaskID != "t1" || evs[1].ProviderOrg != "1-1" ||
				!evs[0].At.Equal(at(-3)) || evs[0].Actor != "trust-a" {
				t.Fatalf("events %+v", evs)
			}
			if evs, _ := c.Events(ctx, "RXC", "e1"); len(evs) != 0 {
				t.Fatalf("another partition's events: %+v", evs)
			}
		},
		"concurrent appends each get their own seq": func(t *testing.T, s *sqlstore.Store) {
			c := sqlstore.NewCases(s)
			errs := make(chan error, 8)
			for i := 0; i < 8; i++ {
				go func() {
					_, err := c.AppendEvent(ctx, referral.Event{Partition: "RXA", CaseID: "e1", At: now, Kind: referral.EventTriage, State: referral.CaseReferred})
					errs <- err
				}()
			}
			for i := 0; i < 8; i++ {
				if err := <-errs; err != nil {
					t.Fatal(err)
				}
			}
			evs, _ := c.Events(ctx, "RXA", "e1")
			if len(evs) != 8 || evs[7].Seq != 8 {
				t.Fatalf("%d events, last seq %d", len(evs), evs[len(evs)-1].Seq)
			}
		},
		"offers of the case with their holds": func(t *testing.T, s *sqlstore.Store) {
			c := sqlstore.NewCases(s)
			for i, enc := range []string{"Encounter/e1", "e1", "Encounter/e2"} {
				o := discharge.Offer{ID: fmt.Sprintf("t%d", i), Partition: "RXA", OwnerOrg: "1-1", Owner: "org1", Requester: "RXA",
					ServiceRequestID: "sr1", EncounterID: enc, PatientID: "p1", LocationID: "loc1", HealthcareServiceID: "hs1",
					State: discharge.OfferRequested, Deadline: at(4), Version: 1, Created: at(i), Updated: at(i)}
				if err := sqlstore.InsertOffer(ctx, s, o); err != nil {
					t.Fatal(err)
				}
			}
			offers, err := c.Offers(ctx, "RXA", "e1")
			if err != nil {
				t.Fatal(err)
			}
			if len(offers) != 2 || offers[0].ID != "t0" || offers[1].ID != "t1" || offers[0].State != discharge.OfferRequested ||
				!offers[0].Deadline.Equal(at(4)) || offers[0].OwnerOrg != "1-1" || offers[0].Hold != nil {
				t.Fatalf("offers %+v", offers)
			}
			if offers, _ := c.Offers(ctx, "RXB", "e1"); len(offers) != 0 {
				t.Fatalf("another partition's offers: %+v", offers)
			}
		},
		"worklist filters, sorts, pages and counts": func(t *testing.T, s *sqlstore.Store) {
			c := sqlstore.NewCases(s)
			putEncounters(t, s, "RXA", at(-48),
				encounterSpec{id: "a", pathway: "3", drd: "2026-11-20", nctrSince: "2026-11-18"},
				encounterSpec{id: "b", pathway: "2", drd: "2026-11-25", nctrSince: "2026-11-24"},
				encounterSpec{id: "c", pathway: "3", drd: "2026-11-22"},
				encounterSpec{id: "d", pathway: "1", drd: "2026-11-21", nctrSince: "2026-11-26"},
				encounterSpec{id: "fin", status: "finished", pathway: "3", nctrSince: "2026-11-01"},
				encounterSpec{id: "dis", pathway: "3", nctrSince: "2026-11-02"})
			putEncounters(t, s, "RXB", at(-48), encounterSpec{id: "z", pathway: "3", nctrSince: "2026-10-01"})
			appendEvent(t, c, referral.Event{Partition: "RXA", CaseID: "b", At: at(-6), Kind: referral.EventOfferSent, State: referral.CaseOffersSent})
			appendEvent(t, c, referral.Event{Partition: "RXA", CaseID: "c", At: at(-6), Kind: referral.EventOfferSent, State: referral.CaseOffersSent})
			appendEvent(t, c, referral.Event{Partition: "RXA", CaseID: "c", At: at(-1), Kind: referral.EventOfferAccepted, State: referral.CaseAccepted})
			appendEvent(t, c, referral.Event{Partition: "RXA", CaseID: "dis", At: at(-2), Kind: referral.EventDischarged, State: referral.CaseDischarged})
			rule := cases.DefaultConfig().Escalation
			base := cases.WorklistQuery{Sort: cases.SortNCTRDays, Limit: 20, OfferCutoff: now.Add(-rule.OfferWait),
				NCTRCutoff: now.Add(-time.Duration(rule.NCTRDays+1) * 24 * time.Hour)}
			yes, no := true, false
			since := now.Add(-5 * 24 * time.Hour)
			for _, tc := range []struct {
				name      string
				mod       func(q *cases.WorklistQuery)
				want      string
				total     int
				escalated int // -1: not checked
			}{
				{"open cases, most NCTR days first, none last", func(*cases.WorklistQuery) {}, "a,b,d,c", 4, 2},
				{"by DRD", func(q *cases.WorklistQuery) { q.Sort = cases.SortDRD }, "a,d,c,b", 4, 2},
				{"most recently updated first", func(q *cases.WorklistQuery) { q.Sort = cases.SortUpdated }, "c,b,a,d", 4, 2},
				{"pathway 3", func(q *cases.WorklistQuery) { q.Pathways = []string{"3"} }, "a,c", 2, 1},
				{"pathways 1 and 2", func(q *cases.WorklistQuery) { q.Pathways = []string{"1", "2"} }, "b,d", 2, 1},
				{"state accepted", func(q *cases.WorklistQuery) { q.States = []referral.CaseState{referral.CaseAccepted} }, "c", 1, 0},
				{"state discharged", func(q *cases.WorklistQuery) { q.States = []referral.CaseState{referral.CaseDischarged} }, "dis", 1, 0},
				{"state referred includes the finished Encounter", func(q *cases.WorklistQuery) { q.States = []referral.CaseState{referral.CaseReferred} }, "fin,a,d", 3, -1},
				{"at least 5 NCTR days", func(q *cases.WorklistQuery) { q.NCTRSinceAtMost = &since }, "a", 1, 1},
				{"escalated", func(q *cases.WorklistQuery) { q.Escalated = &yes }, "a,b", 2, 2},
				{"not escalated", func(q *cases.WorklistQuery) { q.Escalated = &no }, "d,c", 2, 0},
				{"escalated, offer rule off", func(q *cases.WorklistQuery) { q.Escalated = &yes; q.OfferRuleOff = true }, "a", 1, 1},
				{"second page", func(q *cases.WorklistQuery) { q.Offset, q.Limit = 1, 2 }, "b,d", 4, 2},
				{"past the end", func(q *cases.WorklistQuery) { q.Offset = 10 }, "", 4, -1},
				{"count only", func(q *cases.WorklistQuery) { q.Limit = 0 }, "", 4, -1},
			} {
				t.Run(tc.name, func(t *testing.T) {
					q := base
					tc.mod(&q)
					res, err := c.Worklist(ctx, "RXA", q)
					if err != nil {
						t.Fatal(err)
					}
					if got := rowIDs(res.Rows); got != tc.want || res.Total != tc.total || (tc.escalated >= 0 && res.Escalated != tc.escalated) {
						t.Fatalf("got %q total %d escalated %d, want %q total %d escalated %d", got, res.Total, res.Escalated, tc.want, tc.total, tc.escalated)
					}
				})
			}
			res, err := c.Worklist(ctx, "RXA", base)
			if err != nil {
				t.Fatal(err)
			}
			// Migration 8's backfill gives the rows its triggers keep.
			if err := sqlstore.RebuildWorklist(ctx, s, "RXA"); err != nil {
				t.Fatal(err)
			}
			if again, err := c.Worklist(ctx, "RXA", base); err != nil || fmt.Sprintf("%+v", again) != fmt.Sprintf("%+v", res) {
				t.Fatalf("rebuilt:\n%+v\nkept by the triggers:\n%+v", again, res)
			}
			rows := res.Rows
			a := rows[0]
			if a.Pathway != "3" || a.DRD.String() != "2026-11-20" || a.NCTRSince.String() != "2026-11-18" || a.State != referral.CaseReferred ||
				!a.Updated.Equal(at(-48)) || !rows[1].FirstOfferSent.Equal(at(-6)) || rows[3].FirstAcceptance.IsZero() || !rows[3].Updated.Equal(at(-1)) {
				t.Fatalf("rows %+v", rows)
			}
		},
		"the worklist follows Encounter updates and events": func(t *testing.T, s *sqlstore.Store) {
			c := sqlstore.NewCases(s)
			// Events may arrive before the Encounter: the case shows once it exists.
			appendEvent(t, c, referral.Event{Partition: "RXA", CaseID: "u", At: at(-5), Kind: referral.EventOfferSent, State: referral.CaseOffersSent})
			base := cases.WorklistQuery{Sort: cases.SortNCTRDays, Limit: 20}
			if res, _ := c.Worklist(ctx, "RXA", base); res.Total != 0 {
				t.Fatalf("a case without its Encounter is listed: %+v", res)
			}
			putEncounters(t, s, "RXA", at(-10), encounterSpec{id: "u", pathway: "1", drd: "2026-11-20", nctrSince: "2026-11-18"})
			res, err := c.Worklist(ctx, "RXA", base)
			if err != nil || res.Total != 1 || res.Rows[0].Pathway != "1" || res.Rows[0].State != referral.CaseOffersSent ||
				!res.Rows[0].FirstOfferSent.Equal(at(-5)) || res.Rows[0].NCTRSince.String() != "2026-11-18" {
				t.Fatalf("after the Encounter: %+v %v", res, err)
			}
			update := func(e encounterSpec, version int64) {
				body := encounterJSON(e)
				var doc map[string]any
				if err := json.Unmarshal(body, &doc); err != nil {
					t.Fatal(err)
				}
				w := fhir.Write{Resource: fhir.Resource{Type: "Encounter", ID: e.id, VersionID: version, LastUpdated: at(int(version) - 3), JSON: body},
					ExpectVersion: version - 1, Index: fhir.IndexEntries("Encounter", doc)}
				if err := s.Commit(ctx, "RXA", []fhir.Write{w}, nil); err != nil {
					t.Fatal(err)
				}
			}
			update(encounterSpec{id: "u", pathway: "3", drd: "2026-11-21"}, 2) // criteria met again: no NCTR
			res, _ = c.Worklist(ctx, "RXA", base)
			if r := res.Rows[0]; r.Pathway != "3" || r.NCTRSince != nil || r.DRD.String() != "2026-11-21" || !r.Updated.Equal(at(-1)) {
				t.Fatalf("after the update: %+v", r)
			}
			appendEvent(t, c, referral.Event{Partition: "RXA", CaseID: "u", At: at(-4), Kind: referral.EventOfferAccepted, State: referral.CaseAccepted})
			res, _ = c.Worklist(ctx, "RXA", base)
			if r := res.Rows[0]; r.State != referral.CaseAccepted || !r.FirstAcceptance.Equal(at(-4)) || !r.FirstOfferSent.Equal(at(-5)) {
				t.Fatalf("after the acceptance: %+v", r)
			}
			update(encounterSpec{id: "u", status: "finished", pathway: "3"}, 3)
			if res, _ := c.Worklist(ctx, "RXA", base); res.Total != 0 {
				t.Fatalf("a finished Encounter is open: %+v", res)
			}
			update(encounterSpec{id: "u", status: "in-progress", pathway: "3"}, 4) // reopened
			if res, _ := c.Worklist(ctx, "RXA", base); res.Total != 1 {
				t.Fatalf("a reopened Encounter is not listed: %+v", res)
			}
		},
		"facts and answers": func(t *testing.T, s *sqlstore.Store) {
			c := sqlstore.NewCases(s)
			putEncounters(t, s, "RXA", at(-48),
				encounterSpec{id: "a", drd: "2026-11-20", nctrSince: "2026-11-18"},
				encounterSpec{id: "old", drd: "2026-01-20"})
			ev := func(kind referral.EventKind, h int, task, prov string) {
				appendEvent(t, c, referral.Event{Partition: "RXA", CaseID: "a", At: at(h), Kind: kind, State: referral.CaseOffersSent, TaskID: task, ProviderOrg: prov})
			}
			ev(referral.EventShortlisted, -10, "", "")
			ev(referral.EventOfferSent, -9, "t1", "P1")
			ev(referral.EventOfferSent, -9, "t2", "P2")
			ev(referral.EventOfferRejected, -8, "t1", "P1")
			ev(referral.EventOfferAccepted, -7, "t2", "P2")
			ev(referral.EventConfirmed, -5, "t2", "P2")
			facts, err := c.Facts(ctx, "RXA", time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC))
			if err != nil {
				t.Fatal(err)
			}
			if len(facts) != 1 || facts[0].CaseID != "a" || facts[0].Provider != "P2" || !facts[0].Milestones.FirstAcceptance.Equal(at(-7)) ||
				!facts[0].Milestones.FirstShortlist.Equal(at(-10)) || facts[0].NCTRSince.String() != "2026-11-18" {
				t.Fatalf("facts %+v", facts)
			}
			answers, err := c.Answers(ctx, "RXA", now.Add(-24*time.Hour))
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]cases.Answer{}
			for _, a := range answers {
				got[a.Provider] = a
			}
			if len(answers) != 2 || got["P1"].Accepted || !got["P1"].Answered.Equal(at(-8)) || !got["P2"].Accepted || !got["P2"].Sent.Equal(at(-9)) {
				t.Fatalf("answers %+v", answers)
			}
		},
	})
}
