package gateway_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/dischargegateway/gateway/adapters/sqlstore"
	"github.com/dischargegateway/gateway/auth"
	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/fhir"
	"github.com/dischargegateway/gateway/referral"
)

// holdBeds accepts n offers of the case enc (partition RXA) at loc, each
// holding one nursing-dementia bed, as the referral loop's accept does.
func holdBeds(t *testing.T, rec *sqlstore.Store, enc, loc string, n int) {
	t.Helper()
	r := sqlstore.NewReferral(rec)
	now := time.Now().UTC()
	for i := 0; i < n; i++ {
		id := "t-" + enc + "-" + string(rune('a'+i))
		o := discharge.Offer{ID: id, Partition: "RXA", Requester: "RXA", Owner: "org", OwnerOrg: "1-000000001",
			ServiceRequestID: "sr", EncounterID: enc, PatientID: "p", HealthcareServiceID: "svc", LocationID: loc,
			State: discharge.OfferAccepted, Deadline: now.Add(time.Hour), Version: 1, Created: now, Updated: now,
			Hold: &discharge.Hold{ID: "h" + id, LocationID: loc, BedType: discharge.BedNursingDementia, State: discharge.HoldActive,
				Created: now, Expires: now.Add(24 * time.Hour)}}
		if err := r.Apply(context.Background(), referral.Change{Partition: "RXA", At: now, Offers: []referral.OfferWrite{{
			Offer: o, NewHold: true, Due: o.Hold.Expires,
			Task: fhir.Resource{Type: "Task", ID: id, VersionID: 1, LastUpdated: now, JSON: []byte(`{"resourceType":"Task"}`)}}},
			Events: []referral.Event{{Partition: "RXA", CaseID: enc, At: now, Kind: referral.EventOfferAccepted, TaskID: id}}}); err != nil {
			t.Fatal(err)
		}
	}
}

// The referral loop in placement, capacity and the record: holds come off
// the vacancies in placement and capacity reads (with a warning when a
// posting falls below them), a stored request's case is shortlisted once,
// and finishing the Encounter closes the case and releases its holds.
func TestReferralLoopWiring(t *testing.T) {
	e := newEnv(t)
	home := e.tokenFor("home-1", auth.RoleCareProvider, "1-000000001", directoryScopes)
	e.do("POST", "/api/v1/directory/import", placementCSV, "Authorization", "Bearer "+home, "Content-Type", "text/csv").mustStatus(t, 200)
	post := func(loc string, accepting int) {
		body := map[string]any{"asOf": time.Now().Add(-time.Minute).UTC().Format(time.RFC3339), "beds": []any{map[string]any{
			"type": "nursing-dementia", "maxCapacity": 30, "occupied": 30 - accepting, "reserved": 0, "acceptingAdmissions": accepting}}}
		e.do("PUT", "/api/v1/capacity/cqc-"+loc, body, "Authorization", "Bearer "+home, "Content-Type", "application/json").mustStatus(t, 200)
	}
	for loc, accepting := range map[string]int{"1-100000001": 2, "1-100000002": 1} {
		post(loc, accepting)
	}
	r := e.do("POST", "/fhir", walkthrough(t)).mustStatus(t, http.StatusOK)
	var sr, enc string
	for _, en := range r.json["entry"].([]any) {
		loc := strings.Split(str(en, "response", "location"), "/_history/")[0]
		switch {
		case strings.HasPrefix(loc, "ServiceRequest/"):
			sr = loc
		case strings.HasPrefix(loc, "Encounter/"):
			enc = strings.TrimPrefix(loc, "Encounter/")
		}
	}
	names := func() ([]string, string) {
		b := e.do("GET", "/fhir/"+sr+"/$placement-options?explain=true", nil).mustStatus(t, http.StatusOK)
		var out []string
		for _, en := range b.json["entry"].([]any) {
			if str(en, "search", "mode") == "match" {
				out = append(out, str(en, "resource", "name"))
			}
		}
		return out, string(b.body)
	}
	if got, body := names(); strings.Join(got, ",") != "Home A,Home B" {
		t.Fatalf("before holds: %v %s", got, body)
	}
	// One of Home A's two beds held: still an option, its explanation
	// shows the hold; both held: no option.
	holdBeds(t, e.record, enc, "cqc-1-100000001", 1)
	if got, body := names(); strings.Join(got, ",") != "Home A,Home B" || !strings.Contains(body, `"url":"held","valueInteger":1`) ||
		!strings.Contains(body, `"url":"bookable","valueInteger":1`) {
		t.Fatalf("one held: %v %s", got, body)
	}
	holdBeds(t, e.record, enc+"x", "cqc-1-100000001", 1)
	got, body := names()
	if strings.Join(got, ",") != "Home B" || strings.Contains(body, "holds stand") {
		t.Fatalf("all held: %v %s", got, body)
	}
	c := e.do("GET", "/api/v1/capacity/cqc-1-100000001", nil, "Authorization", "Bearer "+home).mustStatus(t, http.StatusOK)
	if bed := c.json["beds"].([]any)[0]; num(bed, "held") != 2 || num(bed, "bookable") != 0 || c.json["warnings"] != nil {
		t.Fatalf("capacity read: %s", c.body)
	}
	// A posting below the holds: they stand, and the answers warn.
	post("1-100000001", 1)
	if got, body := names(); strings.Join(got, ",") != "Home B" || !strings.Contains(body, "holds stand") {
		t.Fatalf("posting below holds: %v %s", got, body)
	}
	c = e.do("GET", "/api/v1/capacity/cqc-1-100000001", nil, "Authorization", "Bearer "+home).mustStatus(t, http.StatusOK)
	if bed := c.json["beds"].([]any)[0]; num(bed, "held") != 2 || num(bed, "bookable") != 0 || c.json["warnings"] == nil {
		t.Fatalf("capacity read below holds: %s", c.body)
	}
	// The case was shortlisted once, by the first answer, before any offer.
	evs, err := sqlstore.NewReferral(e.record).Events(context.Background(), "RXA", enc)
	if err != nil {
		t.Fatal(err)
	}
	shortlisted := 0
	for _, ev := range evs {
		if ev.Kind == referral.EventShortlisted {
			shortlisted++
		}
	}
	if shortlisted != 1 || evs[0].Kind != referral.EventShortlisted {
		t.Fatalf("events %+v", evs)
	}
	// The Encounter finished: the case closes, its hold is released.
	cur := e.do("GET", "/fhir/Encounter/"+enc, nil).mustStatus(t, http.StatusOK)
	cur.json["status"] = "finished"
	e.do("PUT", "/fhir/Encounter/"+enc, cur.json).mustStatus(t, http.StatusOK)
	held, err := sqlstore.NewReferral(e.record).ActiveHolds(context.Background(), []string{"cqc-1-100000001"})
	if err != nil || held["cqc-1-100000001"][discharge.BedNursingDementia] != 1 {
		t.Fatalf("after discharge: holds %v (%v), want the other case's one", held, err)
	}
	evs, _ = sqlstore.NewReferral(e.record).Events(context.Background(), "RXA", enc)
	if last := evs[len(evs)-1]; last.Kind != referral.EventDischarged || last.State != referral.CaseDischarged {
		t.Fatalf("last event %+v", last)
	}
}
