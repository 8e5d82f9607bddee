package postingjson_test

import (
	"reflect"
	"testing"
	"time"

	"github.com/dischargegateway/gateway/adapters/postingjson"
	"github.com/dischargegateway/gateway/discharge"
)

// TestCapacityDocFormat pins the stored JSON of a posting: postings already
// in Redis or in the record must read back whatever the domain type looks
// like, and the store's own version wins over the document's.
func TestCapacityDocFormat(t *testing.T) {
	const stored = `{"locationId":"L1","asOf":"2026-11-24T09:00:00Z","version":0,` +
		`"beds":[{"type":"nursing","maxCapacity":10,"occupied":7,"reserved":1,"acceptingAdmissions":2,"closedToAdmissions":true}],` +
		`"homeCare":[{"outcodes":["M14"],"hoursPerWeek":40,"packages":2,"earliestStart":"2026-11-25"}]}`
	want := discharge.Capacity{LocationID: "L1", AsOf: time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC), Version: 4,
		Beds: []discharge.BedCapacity{{Type: "nursing", MaxCapacity: 10, Occupied: 7, Reserved: 1, AcceptingAdmissions: 2, ClosedToAdmissions: true}},
		HomeCare: []discharge.HomeCareOffer{{Outcodes: []string{"M14"}, HoursPerWeek: 40, Packages: 2,
			EarliestStart: discharge.Date{Year: 2026, Month: time.November, Day: 25}}}}
	got, err := postingjson.Decode([]byte(stored), 4)
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("decoded %+v %v", got, err)
	}
	want.Version = 0
	b, _ := postingjson.Encode(want)
	if string(b) != stored {
		t.Fatalf("stored as %s", b)
	}
}

// TestDecodeRecordWithoutVersion: the record wrote postings without a
// version field before the format was shared; they still read, with the
// version the record keeps beside them.
func TestDecodeRecordWithoutVersion(t *testing.T) {
	got, err := postingjson.Decode([]byte(`{"locationId":"L2","asOf":"2026-11-24T09:00:00Z","beds":[{"type":"residential","maxCapacity":3,"occupied":1,"reserved":0,"acceptingAdmissions":2,"closedToAdmissions":false}]}`), 7)
	if err != nil || got.LocationID != "L2" || got.Version != 7 || len(got.Beds) != 1 || got.Beds[0].AcceptingAdmissions != 2 {
		t.Fatalf("%+v %v", got, err)
	}
	if _, err := postingjson.Decode([]byte(`{`), 1); err == nil {
		t.Fatal("a broken document decoded")
	}
}
