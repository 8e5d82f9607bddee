package gateway_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/dischargegateway/gateway/adapters/sqlstore"
	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/internal/testclock"
	"github.com/dischargegateway/gateway/referral"
)

// Placement's observers as the gateway wires them, on the real record: a
// stored request's search that finds no option counts one unmet demand for
// the trust (by district and need, no identity) and marks the case
// shortlisted once; asked again, the demand counts twice and the case
// keeps one shortlisted event.
func TestPlacementObserversWired(t *testing.T) {
	now := testclock.AwayFromMidnight()
	e := newEnv(t)
	// No directory: nothing to offer.
	var sr, enc string
	for _, en := range e.do("POST", "/fhir", walkthrough(t)).mustStatus(t, http.StatusOK).json["entry"].([]any) {
		loc := strings.Split(str(en, "response", "location"), "/_history/")[0]
		switch {
		case strings.HasPrefix(loc, "ServiceRequest/"):
			sr = loc
		case strings.HasPrefix(loc, "Encounter/"):
			enc = strings.TrimPrefix(loc, "Encounter/")
		}
	}
	for range 2 {
		r := e.do("GET", "/fhir/"+sr+"/$placement-options", nil).mustStatus(t, http.StatusOK)
		if num(r.json, "total") != 0 {
			t.Fatalf("total %v, want 0", r.json["total"])
		}
	}
	ctx := context.Background()
	week := discharge.WeekOf(discharge.Today(now))
	counts, err := sqlstore.NewSitrep(e.record).UnmetDemand(ctx, "RXA", week-7, week+7)
	if err != nil {
		t.Fatal(err)
	}
	if len(counts) != 1 || counts[0].N != 2 || counts[0].Outcode != "M14" {
		t.Fatalf("unmet demand %+v, want one row of 2 in M14", counts)
	}
	evs, err := sqlstore.NewReferral(e.record).Events(ctx, "RXA", enc)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, ev := range evs {
		if ev.Kind == referral.EventShortlisted {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("events %+v, want one shortlisted", evs)
	}
}
