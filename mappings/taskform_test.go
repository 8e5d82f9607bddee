package mappings

import (
	"reflect"
	"testing"
	"time"

	"github.com/dischargegateway/gateway/discharge"
)

// TestRequestToTaskRoundTrips: what the dashboard's forms send reads back
// as the same request, for each move a form makes.
func TestRequestToTaskRoundTrips(t *testing.T) {
	for name, r := range map[string]TaskRequest{
		"send":    {Status: discharge.OfferRequested, ServiceRequestID: "sr1", Owner: "org1", HealthcareServiceID: "hcs1", LocationID: "loc1"},
		"accept":  {Status: discharge.OfferAccepted, HeldLocationID: "loc1", BedType: discharge.BedType("nursing-dementia")},
		"decline": {Status: discharge.OfferRejected, Reason: discharge.RejectReason(discharge.RejectReasons()[0].Code), ReasonText: "No bed on that day"},
		"cancel":  {Status: discharge.OfferCancelled, ServiceRequestID: "sr1", PatientID: "p1", EncounterID: "e1"},
	} {
		t.Run(name, func(t *testing.T) {
			body, err := RequestToTask(r)
			if err != nil {
				t.Fatal(err)
			}
			got, err := TaskToRequest(body)
			if err != nil {
				t.Fatalf("%v\n%s", err, body)
			}
			if got.Deadline != (time.Time{}) || !reflect.DeepEqual(got, r) {
				t.Fatalf("got %+v, want %+v\n%s", got, r, body)
			}
		})
	}
}
