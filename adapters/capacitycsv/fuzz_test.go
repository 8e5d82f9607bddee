package capacitycsv_test

import (
	"strings"
	"testing"
	"time"

	"github.com/dischargegateway/gateway/adapters/capacitycsv"
	"github.com/dischargegateway/gateway/mappings"
)

// FuzzParse: no input panics; each posting's rows are named, and its bed
// figures are whole numbers as read.
func FuzzParse(f *testing.F) {
	f.Add("locationId,bedType,asOf,maxCapacity,occupied,reserved,acceptingAdmissions,closedToAdmissions\nL,nursing,2026-11-24T09:00:00Z,5,3,0,2,false\n")
	f.Add("locationId,bedType,asOf,maxCapacity,occupied,reserved,acceptingAdmissions,closedToAdmissions\nL,nursing,yesterday,x,,,\n\"")
	f.Fuzz(func(t *testing.T, in string) {
		ps, rej, err := capacitycsv.Parse(strings.NewReader(in))
		if err != nil {
			return
		}
		for _, p := range ps {
			if len(p.Rows) != len(p.Capacity.Beds) || p.Capacity.LocationID == "" {
				t.Fatalf("rows and beds disagree: %+v", p)
			}
			_ = mappings.Validate(p.Capacity, time.Now()) // must not panic
		}
		for _, r := range rej {
			if r.Row < 2 {
				t.Fatalf("rejection without row: %+v", r)
			}
		}
	})
}
