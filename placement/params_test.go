package placement

import (
	"github.com/dischargegateway/gateway/fhir"
	"net/url"
	"testing"
)

// FuzzPlacementParams: no query makes the parameter parser panic, and
// whatever it accepts is inside the documented bounds.
func FuzzPlacementParams(f *testing.F) {
	for _, q := range []string{"radius=1&_count=3&_offset=6", "radius=NaN", "radius=Inf", "_offset=100000000000000000000",
		"_count=-1", "date=2026-02-30", "explain=maybe", "bogus=1", "_offset=10000&_count=50"} {
		f.Add(q, false)
		f.Add(q, true)
	}
	f.Fuzz(func(t *testing.T, raw string, lenient bool) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		p, err := ParseParams(q, lenient)
		if err != nil {
			return
		}
		if p.Count < 0 || p.Count > MaxCount || p.Offset < 0 || p.Offset > fhir.MaxOffset ||
			p.RadiusKm < 0 || p.RadiusKm > MaxRadiusKm || p.RadiusKm != p.RadiusKm {
			t.Fatalf("%q accepted out of bounds: %+v", raw, p)
		}
		for name := range p.Used {
			if _, ok := q[name]; !ok {
				t.Fatalf("%q: link parameter %s was never given", raw, name)
			}
		}
	})
}
