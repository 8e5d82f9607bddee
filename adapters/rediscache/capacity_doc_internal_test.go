package rediscache

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/dischargegateway/gateway/discharge"
)

// TestCapacityDocFormat pins the stored JSON of a posting: postings already
// in Redis must read back whatever the domain type looks like.
func TestCapacityDocFormat(t *testing.T) {
	const stored = `{"locationId":"L1","asOf":"2026-11-24T09:00:00Z","version":0,` +
		`"beds":[{"type":"nursing","maxCapacity":10,"occupied":7,"reserved":1,"acceptingAdmissions":2,"closedToAdmissions":true}],` +
		`"homeCare":[{"outcodes":["M14"],"hoursPerWeek":40,"packages":2,"earliestStart":"2026-11-25"}]}`
	want := discharge.Capacity{LocationID: "L1", AsOf: time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC), Version: 4,
		Beds: []discharge.BedCapacity{{Type: "nursing", MaxCapacity: 10, Occupied: 7, Reserved: 1, AcceptingAdmissions: 2, ClosedToAdmissions: true}},
		HomeCare: []discharge.HomeCareOffer{{Outcodes: []string{"M14"}, HoursPerWeek: 40, Packages: 2,
			EarliestStart: discharge.Date{Year: 2026, Month: time.November, Day: 25}}}}
	got, err := decodeCapacity(stored, 4)
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("decoded %+v %v", got, err)
	}
	want.Version = 0
	b, _ := json.Marshal(toCapacityDoc(want))
	if string(b) != stored {
		t.Fatalf("stored as %s", b)
	}
}
