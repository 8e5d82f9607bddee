package referral_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dischargegateway/gateway/auth"
	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/mappings"
	"github.com/dischargegateway/gateway/referral"
)

func taskState(t *testing.T, body []byte) (status, business string) {
	t.Helper()
	var d struct {
		Status         string `json:"status"`
		BusinessStatus *struct {
			Coding []struct{ Code string } `json:"coding"`
		} `json:"businessStatus"`
	}
	if err := json.Unmarshal(body, &d); err != nil {
		t.Fatal(err)
	}
	if d.BusinessStatus != nil && len(d.BusinessStatus.Coding) > 0 {
		business = d.BusinessStatus.Coding[0].Code
	}
	return d.Status, business
}

func (w *world) state(t *testing.T, id string) (string, string) {
	t.Helper()
	r, err := w.svc.Read(context.Background(), trust, id)
	if err != nil {
		t.Fatal(err)
	}
	return taskState(t, r.JSON)
}

// The loop: offers to two homes, one declines, one accepts, the trust
// confirms, the case closes.
func TestLoopConfirmCancelsOthers(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t, false, 1, 3)
	a := w.send(t, trust, "RXX-sr1", 1)
	b := w.send(t, trust, "RXX-sr1", 2)
	c := w.send(t, hub, "RXX-sr1", 2) // a hub for its member trust
	if _, err := w.svc.Update(ctx, prov2, b, answer(discharge.OfferRejected, ""), `W/"1"`); err != nil {
		t.Fatal(err)
	}
	if _, err := w.svc.Update(ctx, prov1, a, answer(discharge.OfferAccepted, "loc1"), `W/"1"`); err != nil {
		t.Fatal(err)
	}
	if _, err := w.svc.Update(ctx, prov2, c, answer(discharge.OfferAccepted, "loc2"), ""); err != nil {
		t.Fatal(err)
	}
	if n1, n2 := w.activeHolds(t, "loc1"), w.activeHolds(t, "loc2"); n1 != 1 || n2 != 1 {
		t.Fatalf("holds %d %d, want 1 1", n1, n2)
	}
	// The owner cannot confirm, and a rejected offer cannot be confirmed.
	if _, err := w.svc.Confirm(ctx, prov1, a); kindOf(err) != discharge.KindConflict || detailOf(err) != referral.RuleTaskMove {
		t.Fatalf("owner confirm: %v", err)
	}
	if _, err := w.svc.Confirm(ctx, trust, b); kindOf(err) != discharge.KindConflict {
		t.Fatalf("confirm rejected: %v", err)
	}
	if _, err := w.svc.Confirm(ctx, trust, a); err != nil {
		t.Fatal(err)
	}
	for id, want := range map[string][2]string{a: {"in-progress", ""}, b: {"rejected", ""}, c: {"cancelled", "superseded"}} {
		if st, bs := w.state(t, id); st != want[0] || bs != want[1] {
			t.Errorf("%s: %s/%s, want %v", id, st, bs, want)
		}
	}
	if n1, n2 := w.activeHolds(t, "loc1"), w.activeHolds(t, "loc2"); n1 != 0 || n2 != 0 {
		t.Fatalf("active holds after confirm %d %d, want 0 0 (admitted, released)", n1, n2)
	}
	if err := w.svc.CloseCase(ctx, "RXX", "RXX-e1", true); err != nil {
		t.Fatal(err)
	}
	if err := w.svc.CloseCase(ctx, "RXX", "RXX-e1", true); err != nil {
		t.Fatal(err)
	}
	if st, bs := w.state(t, a); st != "completed" || bs != "admitted" {
		t.Errorf("after discharge %s/%s", st, bs)
	}
	events, err := w.rec.Events(ctx, "RXX", "RXX-e1")
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, e := range events {
		kinds = append(kinds, string(e.Kind)+":"+string(e.State))
	}
	want := "offer-sent:offers-sent offer-sent:offers-sent offer-sent:offers-sent offer-rejected:offers-sent " +
		"offer-accepted:accepted offer-accepted:accepted offer-cancelled:confirmed confirmed:confirmed discharged:discharged"
	if got := strings.Join(kinds, " "); got != want {
		t.Errorf("timeline\n got %s\nwant %s", got, want)
	}
}

// 50 concurrent accepts on a home with 3 vacancies give exactly 3 holds.
func TestConcurrentAcceptsSQLite(t *testing.T)   { concurrentAccepts(t, false) }
func TestConcurrentAcceptsPostgres(t *testing.T) { concurrentAccepts(t, true) }

func concurrentAccepts(t *testing.T, pg bool) {
	ctx := context.Background()
	// Ten trusts, so the accepts are not serialised by one partition's
	// lock: only the hold lock stands between them.
	var trusts []string
	for i := range 10 {
		trusts = append(trusts, fmt.Sprintf("T%02d", i))
	}
	w := newWorld(t, pg, 1, 3, trusts...)
	ids := make([]string, 50)
	for i := range ids {
		org := trusts[i%len(trusts)]
		ids[i] = w.send(t, &auth.Principal{ClientID: "c-" + org, Org: org, Role: auth.RoleTrust}, org+"-sr1", 1)
	}
	var mu sync.Mutex
	ok, refused := 0, 0
	var wg sync.WaitGroup
	for _, id := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := w.svc.Update(ctx, prov1, id, answer(discharge.OfferAccepted, "loc1"), `W/"1"`)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				ok++
			case kindOf(err) == discharge.KindConflict && detailOf(err) == referral.RuleHoldBookable:
				refused++
			default:
				t.Errorf("accept: %v", err)
			}
		}()
	}
	wg.Wait()
	if ok != 3 || refused != 47 {
		t.Fatalf("accepted %d, refused %d; want 3 and 47", ok, refused)
	}
	if n := w.activeHolds(t, "loc1"); n != 3 {
		t.Fatalf("%d active holds, want 3", n)
	}
}

// Expiry and lapse happen exactly once with two sweepers at once, and an
// answer after the deadline but before the sweep still wins or loses
// cleanly.
func TestSweepExactlyOnce(t *testing.T) {
	for _, pg := range []bool{false, true} {
		name := "sqlite"
		if pg {
			name = "postgres"
		}
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			w := newWorld(t, pg, 1, 3)
			var unanswered []string
			for range 10 {
				unanswered = append(unanswered, w.send(t, trust, "RXX-sr1", 2))
			}
			held := w.send(t, trust, "RXX-sr1", 1)
			if _, err := w.svc.Update(ctx, prov1, held, answer(discharge.OfferAccepted, "loc1"), ""); err != nil {
				t.Fatal(err)
			}
			if n, err := w.svc.Sweep(ctx, w.clock.Now()); err != nil || n != 0 {
				t.Fatalf("early sweep moved %d (%v)", n, err)
			}
			w.clock.Add(referral.DefaultHoldTTL + time.Minute)
			var wg sync.WaitGroup
			moved := make([]int, 2)
			for i := range moved {
				wg.Add(1)
				go func() {
					defer wg.Done()
					n, err := w.svc.Sweep(ctx, w.clock.Now())
					if err != nil {
						t.Error(err)
					}
					moved[i] = n
				}()
			}
			wg.Wait()
			if moved[0]+moved[1] != 11 {
				t.Fatalf("sweepers moved %v, want 11 in all", moved)
			}
			for _, id := range unanswered {
				if st, bs := w.state(t, id); st != "failed" || bs != "expired" {
					t.Errorf("%s: %s/%s", id, st, bs)
				}
			}
			if st, bs := w.state(t, held); st != "failed" || bs != "hold-lapsed" {
				t.Errorf("held: %s/%s", st, bs)
			}
			if n := w.activeHolds(t, "loc1"); n != 0 {
				t.Errorf("%d active holds after lapse", n)
			}
			events, _ := w.rec.Events(ctx, "RXX", "RXX-e1")
			expired := 0
			for _, e := range events {
				if e.Kind == referral.EventOfferExpired || e.Kind == referral.EventHoldLapsed {
					expired++
				}
			}
			if expired != 11 {
				t.Errorf("%d expiry events, want 11", expired)
			}
			if n, err := w.svc.Sweep(ctx, w.clock.Now()); err != nil || n != 0 {
				t.Fatalf("third sweep moved %d (%v)", n, err)
			}
		})
	}
}

// Providers see only the Tasks they own; trusts their own; hubs their
// members'. Anyone else is told the Task does not exist.
func TestIsolation(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t, false, 1, 3)
	id := w.send(t, trust, "RXX-sr1", 1)
	for _, c := range []struct {
		name string
		read func() error
		ok   bool
	}{
		{"owner", func() error { _, err := w.svc.Read(ctx, prov1, id); return err }, true},
		{"trust", func() error { _, err := w.svc.Read(ctx, trust, id); return err }, true},
		{"member hub", func() error { _, err := w.svc.Read(ctx, hub, id); return err }, true},
		{"other provider", func() error { _, err := w.svc.Read(ctx, prov2, id); return err }, false},
		{"other trust", func() error { _, err := w.svc.Read(ctx, trust2, id); return err }, false},
		{"other hub", func() error { _, err := w.svc.Read(ctx, otherHub, id); return err }, false},
		{"other provider pack", func() error { _, err := w.svc.Pack(ctx, prov2, id, "http://x"); return err }, false},
		{"other provider answer", func() error {
			_, err := w.svc.Update(ctx, prov2, id, answer(discharge.OfferAccepted, "loc1"), "")
			return err
		}, false},
		{"other trust cancel", func() error {
			_, err := w.svc.Update(ctx, trust2, id, answer(discharge.OfferCancelled, ""), "")
			return err
		}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := c.read()
			if c.ok && err != nil {
				t.Fatalf("refused: %v", err)
			}
			if !c.ok && kindOf(err) != discharge.KindNotFound {
				t.Fatalf("got %v, want not found", err)
			}
		})
	}
	// Searches: each sees its own.
	for _, c := range []struct {
		name  string
		total int
		s     func() (referral.Searchset, error)
	}{
		{"owner", 1, func() (referral.Searchset, error) {
			return w.svc.Search(ctx, prov1, map[string][]string{"status": {"requested"}}, false, "http://x")
		}},
		{"other provider", 0, func() (referral.Searchset, error) { return w.svc.Search(ctx, prov2, nil, false, "http://x") }},
		{"hub", 1, func() (referral.Searchset, error) { return w.svc.Search(ctx, hub, nil, false, "http://x") }},
		{"other trust", 0, func() (referral.Searchset, error) { return w.svc.Search(ctx, trust2, nil, false, "http://x") }},
	} {
		ss, err := c.s()
		if err != nil || ss.Total != c.total || len(ss.Entries) != c.total {
			t.Errorf("search %s: total %d entries %d (%v), want %d", c.name, ss.Total, len(ss.Entries), err, c.total)
		}
	}
}

// The pack hides the patient's identity until the owner accepts, and
// every pack read is audited.
func TestPackMinimisedUntilAccepted(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t, false, 1, 3)
	id := w.send(t, trust, "RXX-sr1", 1)
	pack, err := w.svc.Pack(ctx, prov1, id, "http://x")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(pack), "Secret") || strings.Contains(string(pack), "1940-05-01") || !strings.Contains(string(pack), `"M14"`) ||
		!strings.Contains(string(pack), "80-89") {
		t.Fatalf("minimised pack: %s", pack)
	}
	if _, err := w.svc.Update(ctx, prov1, id, answer(discharge.OfferAccepted, "loc1"), ""); err != nil {
		t.Fatal(err)
	}
	pack, err = w.svc.Pack(ctx, prov1, id, "http://x")
	if err != nil || !strings.Contains(string(pack), "Secret") {
		t.Fatalf("pack after accept (%v): %s", err, pack)
	}
	if len(w.audit.entries) != 2 || w.audit.entries[0].Interaction != "operation" || w.audit.entries[1].Interaction != "operation-identified" {
		t.Fatalf("audit %+v", w.audit.entries)
	}
}

// Holds never exceed vacancies while postings land concurrently: accepts
// from ten trusts race a provider posting 0 to 3 vacancies; no more holds
// stand than the most ever posted. A later posting below the holds leaves
// them standing (Bookable shows more held than vacant) and refuses the
// next accept.
func TestHoldsWithinVacanciesWhilePosting(t *testing.T) {
	for _, pg := range []bool{false, true} {
		t.Run(map[bool]string{false: "sqlite", true: "postgres"}[pg], func(t *testing.T) {
			ctx := context.Background()
			var trusts []string
			for i := range 10 {
				trusts = append(trusts, fmt.Sprintf("T%02d", i))
			}
			// A round in which no accept happens to meet a posted bed
			// (the postings cycle through 0-3 beds each millisecond, and
			// under the race detector the poster can win every turn)
			// tests nothing: it is run again on a fresh world, at most
			// five times; the invariants are checked in every round.
			var w *world
			accepted := 0
			for round := 0; round < 5 && accepted == 0; round++ {
				w = newWorld(t, pg, 1, 0, trusts...)
				ids := make([]string, 40)
				for i := range ids {
					org := trusts[i%len(trusts)]
					ids[i] = w.send(t, &auth.Principal{ClientID: "c-" + org, Org: org, Role: auth.RoleTrust}, org+"-sr1", 1)
				}
				stop := make(chan struct{})
				posted := make(chan struct{})
				// The accepts start once the first posting is in. On
				// SQLite, writers that queue together share one write
				// group: the forty accepts, sent at once, land together
				// behind whichever posting is current, and when the
				// cycle began at 0 that was the first, in every round
				// (the case failed 3 to 5 times in 20 without the race
				// detector). The cycle starts at 1, so the posting the
				// accepts meet is whichever the poster has reached.
				first := make(chan struct{})
				go func() {
					defer close(posted)
					for i := 0; ; i++ {
						select {
						case <-stop:
							return
						default:
						}
						w.clock.Add(time.Millisecond)
						n := (i + 1) % 4
						if _, _, err := w.caps.Record(ctx, discharge.Capacity{LocationID: "loc1", AsOf: w.clock.Now(),
							Beds: []discharge.BedCapacity{{Type: bed, MaxCapacity: 20, Occupied: 20 - n, AcceptingAdmissions: n}}}); err != nil {
							t.Error(err)
							if i == 0 {
								close(first)
							}
							return
						}
						if i == 0 {
							close(first)
						}
					}
				}()
				<-first
				var wg sync.WaitGroup
				var mu sync.Mutex
				for _, id := range ids {
					wg.Add(1)
					go func() {
						defer wg.Done()
						_, err := w.svc.Update(ctx, prov1, id, answer(discharge.OfferAccepted, "loc1"), "")
						switch {
						case err == nil:
							mu.Lock()
							accepted++
							mu.Unlock()
						case detailOf(err) != referral.RuleHoldBookable:
							t.Errorf("accept: %v", err)
						}
					}()
				}
				wg.Wait()
				close(stop)
				<-posted
				if held := w.activeHolds(t, "loc1"); held != accepted || held > 3 {
					t.Fatalf("%d holds for %d acceptances, at most 3 ever posted", held, accepted)
				}
			}
			if accepted == 0 {
				t.Fatal("no accept won a posted bed: the race tested nothing")
			}
			w.post(t, "loc1", 0)
			vacant, held, err := w.rec.Bookable(ctx, "loc1", bed)
			if err != nil || vacant != 0 || held != accepted {
				t.Fatalf("after a posting of 0: vacant %d held %d (%v)", vacant, held, err)
			}
			late := w.send(t, trust, "RXX-sr1", 1)
			if _, err := w.svc.Update(ctx, prov1, late, answer(discharge.OfferAccepted, "loc1"), ""); detailOf(err) != referral.RuleHoldBookable {
				t.Fatalf("accept with holds above vacancies: %v", err)
			}
		})
	}
}

// The refusals a caller meets, each with its kind and, for a move, its
// named rule; and a transaction of offers is all or none.
func TestRefusals(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t, false, 2, 3)
	id := w.send(t, trust, "RXX-sr1", 1)
	if _, err := w.svc.Update(ctx, prov1, id, answer(discharge.OfferReceived, ""), `W/"1"`); err != nil {
		t.Fatal(err)
	}
	rejectOther := []byte(`{"resourceType":"Task","status":"rejected","intent":"order","statusReason":{"coding":[{"system":"` +
		"https://fhir.discharge-gateway.example/CodeSystem/offer-reject-reason" + `","code":"other"}]}}`)
	for _, c := range []struct {
		name   string
		do     func() error
		kind   discharge.Kind
		detail string
	}{
		{"stale If-Match", func() error {
			_, err := w.svc.Update(ctx, prov1, id, answer(discharge.OfferAccepted, "loc1"), `W/"1"`)
			return err
		}, discharge.KindPrecondition, ""},
		{"owner cancels", func() error {
			_, err := w.svc.Update(ctx, prov1, id, answer(discharge.OfferCancelled, ""), "")
			return err
		}, discharge.KindConflict, referral.RuleTaskMove},
		{"requester accepts", func() error {
			_, err := w.svc.Update(ctx, trust, id, answer(discharge.OfferAccepted, "loc1"), "")
			return err
		}, discharge.KindConflict, referral.RuleTaskMove},
		{"reject without a reason", func() error {
			_, err := w.svc.Update(ctx, prov1, id, []byte(`{"resourceType":"Task","status":"rejected","intent":"order"}`), "")
			return err
		}, discharge.KindRequired, ""},
		{"other without text", func() error {
			_, err := w.svc.Update(ctx, prov1, id, rejectOther, "")
			return err
		}, discharge.KindRequired, ""},
		{"accept without a bed type", func() error {
			_, err := w.svc.Update(ctx, prov1, id, []byte(`{"resourceType":"Task","status":"accepted","intent":"order"}`), "")
			return err
		}, discharge.KindInvalid, ""},
		{"provider sends", func() error { _, err := w.svc.Send(ctx, prov1, taskJSON("RXX-sr1", 1)); return err }, discharge.KindForbidden, ""},
		{"another trust's case", func() error { _, err := w.svc.Send(ctx, trust2, taskJSON("RXX-sr1", 1)); return err }, discharge.KindValue, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := c.do()
			if kindOf(err) != c.kind || detailOf(err) != c.detail {
				t.Fatalf("got %v (detail %q), want %s %q", err, detailOf(err), c.kind, c.detail)
			}
		})
	}
	// All or none: the second offer names a provider not in the directory.
	bad := []byte(strings.Replace(string(taskJSON("RXX-sr2", 1)), "Organization/org1", "Organization/nobody", 1))
	if _, err := w.svc.SendAll(ctx, trust, [][]byte{taskJSON("RXX-sr2", 1), bad}); err == nil {
		t.Fatal("a transaction with a bad offer was accepted")
	}
	ss, err := w.svc.Search(ctx, trust, map[string][]string{"focus": {"ServiceRequest/RXX-sr2"}}, false, "http://x")
	if err != nil || ss.Total != 0 {
		t.Fatalf("after a refused transaction: %d offers (%v)", ss.Total, err)
	}
	rs, err := w.svc.SendAll(ctx, trust, [][]byte{taskJSON("RXX-sr2", 1), taskJSON("RXX-sr2", 2)})
	if err != nil || len(rs) != 2 || rs[0].Status != 201 {
		t.Fatalf("SendAll: %v %v", rs, err)
	}
}

// TestCaseCodesPublished: every event kind and case state the record
// writes is a code of the CodeSystem the FHIR view of a case
// ($discharge-case) codes it with.
func TestCaseCodesPublished(t *testing.T) {
	codes := func(cs []discharge.Concept) map[string]bool {
		out := map[string]bool{}
		for _, c := range cs {
			out[c.Code] = true
		}
		return out
	}
	kinds, states := codes(mappings.CaseEventKinds()), codes(mappings.CaseStates())
	for _, k := range []referral.EventKind{referral.EventReferred, referral.EventShortlisted, referral.EventOfferSent,
		referral.EventOfferReceived, referral.EventOfferAccepted, referral.EventOfferRejected, referral.EventOfferExpired,
		referral.EventHoldLapsed, referral.EventOfferCancelled, referral.EventConfirmed, referral.EventDischarged,
		referral.EventTriage, referral.EventCaseCancelled} {
		if !kinds[string(k)] {
			t.Errorf("event kind %q is not in %s", k, mappings.CaseEventKindSystem)
		}
	}
	for _, s := range []referral.CaseState{referral.CaseReferred, referral.CaseShortlisted, referral.CaseOffersSent,
		referral.CaseAccepted, referral.CaseConfirmed, referral.CaseDischarged, referral.CaseCancelled} {
		if !states[string(s)] {
			t.Errorf("case state %q is not in %s", s, mappings.CaseStateSystem)
		}
	}
	if len(kinds) != 13 || len(states) != 7 {
		t.Errorf("published %d kinds and %d states; a code the record never writes?", len(kinds), len(states))
	}
}
