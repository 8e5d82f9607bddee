package capacity_test

import (
	"math"
	"net/url"
	"testing"

	"github.com/dischargegateway/gateway/capacity"
	"github.com/dischargegateway/gateway/placement"
)

// FuzzParseSummaryQuery checks that no query panics the summary's
// parameter rules and that what they accept is in range: a finite radius
// above 0 and at most placement.MaxRadiusKm, a finite point on the globe.
func FuzzParseSummaryQuery(f *testing.F) {
	for _, s := range []string{"near=53.4,-2.2", "near=NaN,1&radiusKm=5", "postcode=M14&radiusKm=Inf",
		"near=1e400,0", "near=53.4,-2.2&radiusKm=0x1p-2", "near=,&setting=home-care", "bedType=nursing&near=0,0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		sq, err := capacity.ParseSummaryQuery(q)
		if err != nil {
			return
		}
		if !(sq.RadiusKm > 0 && sq.RadiusKm <= placement.MaxRadiusKm) {
			t.Fatalf("radius %v accepted", sq.RadiusKm)
		}
		if sq.Near == nil && sq.Postcode == "" {
			t.Fatal("neither a point nor a postcode")
		}
		if p := sq.Near; p != nil && (math.IsNaN(p.Lat) || math.IsNaN(p.Lon) || math.Abs(p.Lat) > 90 || math.Abs(p.Lon) > 180) {
			t.Fatalf("point %+v accepted", *p)
		}
	})
}
