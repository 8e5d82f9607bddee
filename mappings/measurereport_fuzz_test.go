package mappings_test

import (
	"errors"
	"testing"

	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/mappings"
)

// FuzzMeasureReportToCapacity: no input panics; every failure is a
// *discharge.Error naming MeasureReport elements.
func FuzzMeasureReportToCapacity(f *testing.F) {
	f.Add([]byte(`{"resourceType":"MeasureReport","measure":"` + mappings.CapacityMeasureURL + `","subject":{"reference":"Location/x"},"date":"2026-11-24T09:00:00Z","group":[{"code":{"coding":[{"system":"` + mappings.BedTypeSystem + `","code":"nursing"}]},"population":[{"count":1}]}]}`))
	f.Add([]byte(`{"group":[{"population":[{"count":1.5}]}]}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		_, err := mappings.MeasureReportToCapacity(raw)
		if err == nil {
			return
		}
		var de *discharge.Error
		if !errors.As(err, &de) || len(de.Issues) == 0 {
			t.Fatalf("not a precise error: %v", err)
		}
		for _, is := range de.Issues {
			if len(is.Expression) < len("MeasureReport") || is.Expression[:len("MeasureReport")] != "MeasureReport" {
				t.Fatalf("issue not at a MeasureReport element: %+v", is)
			}
		}
	})
}
