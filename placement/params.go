package placement

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"

	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/fhir"
	"github.com/dischargegateway/gateway/mappings"
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
// (readInput has merged the URL and the body). An unknown parameter is an
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

// input is the operation's input: its primitive parameters, from the URL
// query and, for a POST, the Parameters body, and its inline resources.
type input struct {
	vals url.Values // one value per name
	// at names, for each parameter that came in the body, its element
	// (Parameters.parameter[2].valueDecimal), so an error points there.
	at        map[string]string
	resources map[string]mappings.Parameter
}

// readInput merges the URL query and a POST's Parameters body, as FHIR lets
// an operation's POST carry parameters in both. Every parameter is 0..1:
// one given twice, in the URL, in the body or in both, is refused (400,
// invalid, naming it) unless the values are the same text, so that no value
// is silently dropped.
func readInput(query url.Values, body []mappings.Parameter) (input, error) {
	in := input{vals: url.Values{}, at: map[string]string{}, resources: map[string]mappings.Parameter{}}
	for name, vs := range query {
		for _, v := range vs[1:] {
			if v != vs[0] {
				return in, twice(name)
			}
		}
		in.vals.Set(name, vs[0])
	}
	for _, p := range body {
		if p.Err != nil {
			return in, p.Err
		}
		if p.Resource != nil {
			_, dup := in.resources[p.Name]
			if _, asValue := in.vals[p.Name]; dup || asValue {
				return in, twice(p.Name)
			}
			in.resources[p.Name] = p
			in.at[p.Name] = p.At
			continue
		}
		_, asResource := in.resources[p.Name]
		if prev, given := in.vals[p.Name]; asResource || (given && prev[0] != p.Value) {
			return in, twice(p.Name)
		}
		in.vals.Set(p.Name, p.Value)
		in.at[p.Name] = p.At
	}
	return in, nil
}

// resourcesFit refuses the inline resources a call cannot take: any at the
// instance level, which places the stored ServiceRequest, and at the type
// level any but serviceRequest and patient.
func (in input) resourcesFit(instance bool) error {
	for _, name := range sortedKeys(in.resources) {
		if instance {
			return discharge.E(discharge.KindNotSupported, in.at[name],
				"An instance-level call takes the stored ServiceRequest; send resources to ServiceRequest/$placement-options.")
		}
		if !resourceParams[name] {
			return discharge.E(discharge.KindNotSupported, in.at[name],
				"Unknown $placement-options resource parameter '"+name+"': the resources are serviceRequest and patient.")
		}
	}
	return nil
}

// twice refuses a parameter given more than once with different values.
func twice(name string) error {
	return discharge.E(discharge.KindInvalid, name, "Parameter '"+name+
		"' is given more than once (in the URL, the body or both) with different values: give it once.")
}

// params parses the input's primitive parameters, pointing any error or
// warning at the body element a parameter came from.
func (in input) params(lenient bool) (Params, error) {
	p, err := ParseParams(in.vals, lenient)
	var de *discharge.Error
	if errors.As(err, &de) {
		cp := *de
		cp.Issues = in.rebase(de.Issues)
		return p, &cp
	}
	p.Warnings = in.rebase(p.Warnings)
	return p, nil
}

func (in input) rebase(issues discharge.Issues) discharge.Issues {
	out := make(discharge.Issues, len(issues))
	for i, is := range issues {
		if at, ok := in.at[is.Expression]; ok {
			is.Expression = at
		}
		out[i] = is
	}
	return out
}

// resource returns the inline resource of a parameter, nil if none, and
// refuses one of another type than typ. The whole body was validated,
// each inline resource as its own type (mappings.DecodeParameters): its
// type is all that is left to check.
func (in input) resource(name, typ string) (map[string]any, error) {
	p, ok := in.resources[name]
	if !ok {
		return nil, nil
	}
	if p.ResourceType != typ {
		return nil, discharge.E(discharge.KindInvalid, "resourceType", "This endpoint takes "+typ+", not "+p.ResourceType+".")
	}
	return p.Resource, nil
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
