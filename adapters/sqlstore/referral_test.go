package sqlstore_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/dischargegateway/gateway/adapters/sqlstore"
	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/fhir"
	"github.com/dischargegateway/gateway/internal/pgtest"
	"github.com/dischargegateway/gateway/referral"
)

func offerChange(partition, id, ownerOrg string, at time.Time) referral.Change {
	o := discharge.Offer{ID: id, Partition: partition, Requester: partition, Owner: "org-" + ownerOrg, OwnerOrg: ownerOrg,
		ServiceRequestID: "sr1", EncounterID: "e1", PatientID: "p1", HealthcareServiceID: "svc1", LocationID: "loc1",
		State: discharge.OfferRequested, Deadline: at.Add(time.Hour), Version: 1, Created: at, Updated: at}
	return referral.Change{Partition: partition, At: at, Offers: []referral.OfferWrite{{Offer: o, Due: o.Deadline,
		Task: fhir.Resource{Type: "Task", ID: id, VersionID: 1, LastUpdated: at, JSON: []byte(`{"resourceType":"Task"}`)}}},
		Events: []referral.Event{{Partition: partition, CaseID: "e1", At: at, Kind: referral.EventOfferSent, TaskID: id}}}
}

// The referral record on both engines: an offer is found by its trust and
// by its owner only, events are numbered per case with the case state
// computed from its offers, and the timers are found across partitions.
func TestReferralRecord(t *testing.T) {
	ctx := context.Background()
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			url := ""
			if engine == "postgres" {
				_, url = pgtest.Start(t).NewDatabase(t)
			}
			s, err := sqlstore.Open(ctx, url, t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			r := sqlstore.NewReferral(s)
			at := time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
			for _, c := range []referral.Change{offerChange("A", "t1", "P1", at), offerChange("B", "t2", "P2", at)} {
				if err := r.Apply(ctx, c); err != nil {
					t.Fatal(err)
				}
			}
			for _, c := range []struct {
				org     string
				asOwner bool
				found   bool
			}{{"A", false, true}, {"P1", true, true}, {"B", false, false}, {"P2", true, false}, {"P1", false, false}} {
				_, err := r.FindOffer(ctx, c.org, "t1", c.asOwner)
				if got := err == nil; got != c.found || (!got && discharge.ErrorKind(err) != discharge.KindNotFound) {
					t.Errorf("FindOffer(%s, owner=%v): %v, want found=%v", c.org, c.asOwner, err, c.found)
				}
			}
			// A second offer of the same case: the event is numbered 2 and
			// its state computed from both offers.
			c := offerChange("A", "t3", "P2", at)
			c.Events[0].Kind = referral.EventOfferSent
			if err := r.Apply(ctx, c); err != nil {
				t.Fatal(err)
			}
			events, err := r.Events(ctx, "A", "e1")
			if err != nil || len(events) != 2 || events[1].Seq != 2 || events[1].State != referral.CaseOffersSent {
				t.Fatalf("events %+v (%v)", events, err)
			}
			// Applying the same version again is a lost race.
			if err := r.Apply(ctx, offerChange("A", "t3", "P2", at)); discharge.ErrorKind(err) != discharge.KindRetry {
				t.Fatalf("second create: %v, want retry", err)
			}
			due, err := r.Due(ctx, at.Add(2*time.Hour), 10)
			if err != nil || len(due) != 3 {
				t.Fatalf("due %v (%v), want the three offers of two partitions", due, err)
			}
			// A hold, counted by location and bed type.
			c = offerChange("B", "t4", "P2", at)
			c.Offers[0].Offer.Hold = &discharge.Hold{ID: "h4", LocationID: "loc9", BedType: discharge.BedNursing, State: discharge.HoldActive}
			c.Offers[0].NewHold = true
			if err := r.Apply(ctx, c); discharge.ErrorKind(err) != discharge.KindConflict {
				t.Fatalf("a hold at a home that never posted: %v, want conflict", err)
			}
			if _, _, err := sqlstore.NewCapacity(s).Record(ctx, discharge.Capacity{LocationID: "loc9", AsOf: at,
				Beds: []discharge.BedCapacity{{Type: discharge.BedNursing, MaxCapacity: 5, Occupied: 4, AcceptingAdmissions: 1}}}); err != nil {
				t.Fatal(err)
			}
			if err := r.Apply(ctx, c); err != nil {
				t.Fatal(err)
			}
			holds, err := r.ActiveHolds(ctx, []string{"loc9", "loc1"})
			if err != nil || len(holds) != 1 || holds["loc9"][discharge.BedNursing] != 1 {
				t.Fatalf("active holds %v (%v)", holds, err)
			}
			// A placement asks for up to 500 candidates' holds, and a
			// capacity summary for more: one statement takes them all.
			many := make([]string, 0, 1201)
			for i := range 1200 {
				many = append(many, fmt.Sprintf("other%04d", i))
			}
			many = append(many, "loc9")
			if holds, err := r.ActiveHolds(ctx, many); err != nil || len(holds) != 1 || holds["loc9"][discharge.BedNursing] != 1 {
				t.Fatalf("active holds of 1,201 locations %v (%v)", holds, err)
			}
			if holds, err := r.ActiveHolds(ctx, nil); err != nil || len(holds) != 0 {
				t.Fatalf("active holds of no location %v (%v)", holds, err)
			}
			if engine != "postgres" {
				return
			}
			// Row-level security alone: with app.partition set to the
			// owner's organisation, a query without any condition sees
			// its offers only; the case events only their partition's.
			app, err := pgx.Connect(ctx, url)
			if err != nil {
				t.Fatal(err)
			}
			defer app.Close(ctx)
			for _, v := range []struct {
				as, table string
				want      int
			}{{"P1", "offers", 1}, {"P2", "offers", 3}, {"A", "offers", 2}, {"B", "offers", 2}, {"Z", "offers", 0},
				{"A", "case_events", 2}, {"P1", "case_events", 0}} {
				tx, err := app.Begin(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := tx.Exec(ctx, "SELECT set_config('app.partition', $1, true)", v.as); err != nil {
					t.Fatal(err)
				}
				var n int
				if err := tx.QueryRow(ctx, "SELECT COUNT(*) FROM "+v.table).Scan(&n); err != nil {
					t.Fatal(err)
				}
				tx.Rollback(ctx)
				if n != v.want {
					t.Errorf("%s as %s: %d rows, want %d", v.table, v.as, n, v.want)
				}
			}
		})
	}
}

// Two writers of one case's timeline never take the same seq: while a
// hub's triage decision is appended in a transaction still open, an offer
// for the same case waits for it and numbers its event after it, instead
// of taking the same number and failing on the primary key (which the
// Task's writer would have answered 412). PostgreSQL only: SQLite has one
// writer at a time. The test waits until the second writer is blocked on
// a lock before the first commits, so the interleaving is the same every
// run.
func TestCaseEventSeqOneRule(t *testing.T) {
	ctx := context.Background()
	_, url := pgtest.Start(t).NewDatabase(t)
	s, err := sqlstore.Open(ctx, url, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	r := sqlstore.NewReferral(s)
	at := time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
	if err := r.Apply(ctx, offerChange("A", "t1", "P1", at)); err != nil {
		t.Fatal(err)
	}
	end, err := sqlstore.AppendEventOpen(ctx, s, referral.Event{Partition: "A", CaseID: "e1", At: at.Add(time.Minute),
		Kind: referral.EventTriage, State: referral.CaseOffersSent, Actor: "hub", ActorOrg: "H"})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- r.Apply(ctx, offerChange("A", "t2", "P2", at.Add(2*time.Minute))) }()

	watch, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer watch.Close(ctx)
	blocked := false
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		var n int
		if err := watch.QueryRow(ctx, `SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database()
			AND wait_event_type = 'Lock'`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if blocked = n > 0; blocked {
			break
		}
	}
	if !blocked {
		end(false)
		t.Fatalf("the offer's transaction never waited for the open triage append (done: %v)", <-done)
	}
	if err := end(true); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("the offer written while a triage decision was being appended: %v, want it stored", err)
	}
	events, err := r.Events(ctx, "A", "e1")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range events {
		got = append(got, fmt.Sprintf("%d:%s", e.Seq, e.Kind))
	}
	if want := "1:offer-sent 2:triage 3:offer-sent"; strings.Join(got, " ") != want {
		t.Fatalf("timeline %q, want %q", got, want)
	}
}
