package sqlstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/dischargegateway/gateway/adapters/sqlstore"
	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/fhir"
	"github.com/dischargegateway/gateway/internal/pgtest"
	"github.com/dischargegateway/gateway/referral"
)

func openBoth(t *testing.T, engine string) *sqlstore.Store {
	t.Helper()
	url := ""
	if engine == "postgres" {
		_, url = pgtest.Start(t).NewDatabase(t)
	}
	s, err := sqlstore.Open(context.Background(), url, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// answer moves an offer created by offerChange to state at at (version 2).
func answer(c referral.Change, state discharge.OfferState, at time.Time, hold *discharge.Hold) referral.Change {
	w := c.Offers[0]
	w.Offer.State, w.Offer.Version, w.Offer.Updated, w.ExpectVersion, w.Due = state, 2, at, 1, time.Time{}
	w.Task.VersionID, w.Task.LastUpdated = 2, at
	if hold != nil {
		w.Offer.Hold, w.NewHold = hold, true
	}
	return referral.Change{Partition: c.Partition, At: at, Offers: []referral.OfferWrite{w}}
}

// Providers' answers span every trust's partition (on PostgreSQL through
// migration 8's policy: row-level security alone would show none), count
// an acceptance by its hold and a decline by its state, leave out
// unanswered and older offers, and give the median time to answer.
func TestProviderAnswers(t *testing.T) {
	ctx := context.Background()
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			s := openBoth(t, engine)
			r := sqlstore.NewReferral(s)
			at := time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
			if _, _, err := sqlstore.NewCapacity(s).Record(ctx, discharge.Capacity{LocationID: "loc9", AsOf: at,
				Beds: []discharge.BedCapacity{{Type: discharge.BedNursing, MaxCapacity: 5, Occupied: 3, AcceptingAdmissions: 2}}}); err != nil {
				t.Fatal(err)
			}
			rejected := offerChange("A", "t1", "P1", at)
			accepted := offerChange("B", "t2", "P1", at)
			open := offerChange("A", "t3", "P1", at)
			other := offerChange("A", "t4", "P2", at)
			old := offerChange("B", "t5", "P1", at.Add(-100*24*time.Hour))
			for _, c := range []referral.Change{rejected, accepted, open, other, old,
				answer(rejected, discharge.OfferRejected, at.Add(30*time.Minute), nil),
				answer(accepted, discharge.OfferAccepted, at.Add(10*time.Minute), &discharge.Hold{ID: "h2", LocationID: "loc9",
					BedType: discharge.BedNursing, State: discharge.HoldActive, Created: at.Add(10 * time.Minute), Expires: at.Add(24 * time.Hour)}),
				answer(other, discharge.OfferRejected, at.Add(time.Minute), nil),
				answer(old, discharge.OfferRejected, at.Add(-99*24*time.Hour), nil)} {
				if err := r.Apply(ctx, c); err != nil {
					t.Fatal(err)
				}
			}
			got, err := r.ProviderAnswers(ctx, []string{"org-P1", "org-P3"}, at.Add(-90*24*time.Hour))
			if err != nil {
				t.Fatal(err)
			}
			want := discharge.Answers{Answered: 2, Accepted: 1, MedianAnswer: 20 * time.Minute}
			if len(got) != 1 || got["org-P1"] != want {
				t.Fatalf("answers %+v, want only org-P1 %+v", got, want)
			}
		})
	}
}

// A case gets one shortlisted event, and only while it is referred.
func TestShortlistedOnce(t *testing.T) {
	ctx := context.Background()
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			s := openBoth(t, engine)
			r := sqlstore.NewReferral(s)
			at := time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
			// e1 has no event; e2 was referred; e3 has offers out.
			if err := r.AppendEvent(ctx, referral.Event{Partition: "A", CaseID: "e2", At: at, Kind: referral.EventReferred,
				State: referral.CaseReferred}); err != nil {
				t.Fatal(err)
			}
			c := offerChange("A", "t1", "P1", at)
			c.Offers[0].Offer.EncounterID, c.Events[0].CaseID = "e3", "e3"
			c.Offers[0].Task = fhir.Resource{Type: "Task", ID: "t1", VersionID: 1, LastUpdated: at, JSON: []byte(`{"resourceType":"Task"}`)}
			if err := r.Apply(ctx, c); err != nil {
				t.Fatal(err)
			}
			for i := 0; i < 3; i++ {
				for _, id := range []string{"e1", "e2", "e3"} {
					if err := r.Shortlisted(ctx, "A", id, "client", "A", at.Add(time.Minute)); err != nil {
						t.Fatal(err)
					}
				}
			}
			for id, want := range map[string][]referral.EventKind{
				"e1": {referral.EventShortlisted},
				"e2": {referral.EventReferred, referral.EventShortlisted},
				"e3": {referral.EventOfferSent},
			} {
				evs, err := r.Events(ctx, "A", id)
				if err != nil {
					t.Fatal(err)
				}
				var got []referral.EventKind
				for _, e := range evs {
					got = append(got, e.Kind)
				}
				if len(got) != len(want) || got[len(got)-1] != want[len(want)-1] {
					t.Errorf("%s: events %v, want %v", id, got, want)
				}
				if last := evs[len(evs)-1]; last.Kind == referral.EventShortlisted &&
					(last.State != referral.CaseShortlisted || last.Actor != "client") {
					t.Errorf("%s: shortlisted event %+v", id, last)
				}
			}
		})
	}
}

// A case whose Encounter was stored ended while its offers stayed open (a
// closure the write path lost) is found and closed by the sweep, once.
func TestSweepEndedCases(t *testing.T) {
	ctx := context.Background()
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			s := openBoth(t, engine)
			r := sqlstore.NewReferral(s)
			at := time.Now().UTC()
			for id, status := range map[string]string{"e1": "finished", "e2": "in-progress"} {
				doc := map[string]any{"resourceType": "Encounter", "id": id, "status": status}
				if err := s.Commit(ctx, "A", []fhir.Write{{Resource: fhir.Resource{Type: "Encounter", ID: id, VersionID: 1, LastUpdated: at,
					JSON: []byte(`{"resourceType":"Encounter","id":"` + id + `","status":"` + status + `"}`)},
					Index: fhir.IndexEntries("Encounter", doc)}}, nil); err != nil {
					t.Fatal(err)
				}
			}
			open1 := offerChange("A", "t1", "P1", at)
			open2 := offerChange("A", "t2", "P1", at)
			open2.Offers[0].Offer.EncounterID, open2.Events[0].CaseID = "e2", "e2"
			for _, c := range []referral.Change{open1, open2} {
				if err := r.Apply(ctx, c); err != nil {
					t.Fatal(err)
				}
			}
			ends, err := r.EndedCases(ctx, 10)
			if err != nil || len(ends) != 1 || ends[0] != (referral.CaseEnd{Partition: "A", EncounterID: "e1", Finished: true}) {
				t.Fatalf("ended cases %+v (%v)", ends, err)
			}
			svc := referral.New(r, referral.Options{})
			if n, err := svc.SweepEnded(ctx, r); err != nil || n != 1 {
				t.Fatalf("swept %d (%v)", n, err)
			}
			if n, err := svc.SweepEnded(ctx, r); err != nil || n != 0 {
				t.Fatalf("swept again %d (%v)", n, err)
			}
			o, err := r.FindOffer(ctx, "A", "t1", false)
			if err != nil || o.State != discharge.OfferCancelled {
				t.Fatalf("offer %+v (%v)", o, err)
			}
		})
	}
}
