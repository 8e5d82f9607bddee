package placement

import (
	"fmt"
	"net/url"
	"slices"
	"strconv"

	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/fhir"
)

// Radius limits, shared by every search by distance from a patient or a
// point: placement, and the capacity summary around a point.
const (
	// MaxRadiusKm bounds a search radius. Beyond it a "local" placement
	// is no longer local, and the geo shards searched grow with its square.
	MaxRadiusKm = 200.0
	// DefaultRadiusKm is the radius when the caller gives none and the care
	// setting has no default of its own (care homes: 25 km).
	DefaultRadiusKm = 25.0
)

// settingRadiusKm are the care settings whose default radius is not
// DefaultRadiusKm: short-term beds nearer to home.
var settingRadiusKm = map[discharge.CareSetting]float64{
	discharge.CareD2ABed: 20, discharge.CareIntermediateBed: 20,
}

// DefaultRadius is the radius, in kilometres, searched for a care setting
// when the caller gives none.
func DefaultRadius(s discharge.CareSetting) float64 {
	if r, ok := settingRadiusKm[s]; ok {
		return r
	}
	return DefaultRadiusKm
}

// Paging defaults and bounds.
const (
	// DefaultCount is the page size when _count is not given.
	DefaultCount = 10
	// MaxCount caps _count; a larger one is lowered to it.
	MaxCount = 50
	// MaxCandidates bounds how many nearby locations one request considers.
	MaxCandidates = 500
)

// Params are the operation's primitive parameters, parsed.
type Params struct {
	// RadiusKm is 0 when not given: the care setting's default applies.
	RadiusKm     float64
	Count        int
	Offset       int
	Date         *discharge.Date
	IncludeStale bool
	Explain      bool
	// Used are the parameters that shaped the answer, for its links;
	// ignored ones (Prefer: handling=lenient) are left out.
	Used url.Values
	// Warnings are the parameters ignored under Prefer: handling=lenient.
	Warnings discharge.Issues
}

// resourceParams are the parameters that carry a resource, at the type
// level only.
var resourceParams = map[string]bool{"serviceRequest": true, "patient": true}

// ParseParams reads the operation's primitive parameters, one value each
// (ReadInput has merged the URL and the body). An unknown parameter is an
// error, or with lenient (Prefer: handling=lenient) a warning and ignored.
// Errors and warnings name the parameter.
//
// _count, _offset and _total follow the one paging rule of every searchset
// (fhir.ParsePaging) with this operation's page sizes; an _offset at or past
// the options is an empty page with the full total.
func ParseParams(q url.Values, lenient bool) (Params, error) {
	p := Params{Used: url.Values{}}
	pg, err := fhir.ParsePaging(q, DefaultCount, MaxCount)
	if err != nil {
		return p, err
	}
	p.Count, p.Offset = pg.Count, pg.Offset
	// In name order, so that of two bad parameters the same one is
	// reported every time.
	for _, name := range sortedKeys(q) {
		v := q.Get(name)
		switch name {
		case "radius":
			f, err := strconv.ParseFloat(v, 64)
			if err != nil || !(f > 0 && f <= MaxRadiusKm) { // NaN fails too
				return p, discharge.E(discharge.KindValue, name, fmt.Sprintf("radius is kilometres, above 0 and at most %g.", MaxRadiusKm))
			}
			p.RadiusKm = f
		case "_count", "_offset", "_total":
			continue // read above; the links set _count and _offset themselves
		case "date":
			d, err := discharge.ParseDate(v)
			if err != nil {
				return p, discharge.E(discharge.KindValue, name, "date is YYYY-MM-DD.")
			}
			p.Date = &d
		case "includeStale", "explain":
			b, err := strconv.ParseBool(v)
			if err != nil {
				return p, discharge.E(discharge.KindValue, name, name+" is true or false.")
			}
			if name == "explain" {
				p.Explain = b
			} else {
				p.IncludeStale = b
			}
		case "_format":
		case "serviceRequest", "patient":
			return p, discharge.E(discharge.KindValue, name,
				"'"+name+"' is a resource: send it inline in a Parameters body to ServiceRequest/$placement-options.")
		default:
			if !lenient {
				return p, discharge.E(discharge.KindNotSupported, name, "Unknown $placement-options parameter '"+name+"'.")
			}
			p.Warnings.Warn(discharge.KindNotSupported, name,
				"Unknown $placement-options parameter '"+name+"' ignored (Prefer: handling=lenient).")
			continue
		}
		p.Used.Set(name, v)
	}
	return p, nil
}

// sortedKeys returns a map's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
