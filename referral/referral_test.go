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
