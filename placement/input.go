package placement

import (
	"errors"
	"net/url"

	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/mappings"
)

// input is the operation's input: its primitive parameters, from the URL
// query and, for a POST, the Parameters body, and its inline resources.
type input struct {
	vals url.Values // one value per name
	// at names, for each parameter that came in the body, its element
	// (Parameters.parameter[2].valueDecimal), so an error points there.
	at        map[string]string
	resources map[string][]byte
}

// readInput merges the URL query and a POST's Parameters body, as FHIR lets
// an operation's POST carry parameters in both. Every parameter is 0..1:
// one given twice, in the URL, in the body or in both, is refused (400,
// invalid, naming it) unless the values are the same text, so that no value
// is silently dropped.
func readInput(query url.Values, body []mappings.Parameter) (input, error) {
	in := input{vals: url.Values{}, at: map[string]string{}, resources: map[string][]byte{}}
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
			in.resources[p.Name] = p.Resource
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
