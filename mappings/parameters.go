package mappings

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/fhir"
)

// Parameter is one Parameters.parameter of an operation's input.
type Parameter struct {
	// Name is Parameters.parameter.name.
	Name string
	// At is the element that carries the value: "Parameters.parameter[2].
	// valueDecimal", or "...resource" for a resource; errors about the
	// value point there.
	At string
	// Value is a primitive value[x] as URL query text ("1.5", "true").
	Value string
	// Resource is parameter.resource, when it has one, as the validator
	// decoded it (numbers exact, fhir.DecodeDoc), and ResourceType its
	// resourceType. DecodeParameters validated it as a resource of that
	// type, so a mapping reads it without decoding it again.
	Resource     map[string]any
	ResourceType string
	// Err is set when the parameter cannot be taken as one primitive value
	// or one resource: it has parts (KindNotSupported), no value[x]
	// (KindRequired), or more than one or a complex one (KindValue). It is
	// per parameter so that an operation reports problems in the order of
	// its own rules.
	Err error
}

// DecodeParameters validates a Parameters body (fhir.Validate, within lim)
// and reads its parameters, in order: each one's name and its value[x] (as
// text) or resource (as raw JSON). A body the validator refuses is its
// error; a parameter that cannot be taken as one value carries its own Err.
func DecodeParameters(raw []byte, lim fhir.Limits) ([]Parameter, error) {
	parsed, err := fhir.Validate(raw, "Parameters", lim)
	if err != nil {
		return nil, err
	}
	// The validator's document is the body decoded once: the parameters
	// are read from it, not from the bytes again.
	list, _ := parsed.Doc["parameter"].([]any)
	out := make([]Parameter, 0, len(list))
	for i, item := range list {
		at := fmt.Sprintf("Parameters.parameter[%d]", i)
		p := Parameter{At: at}
		m, ok := item.(map[string]any)
		if !ok {
			return nil, discharge.E(discharge.KindStructure, at, "A parameter is not a JSON object.")
		}
		p.Name, _ = m["name"].(string)
		res, isResource := m["resource"].(map[string]any)
		switch {
		case m["part"] != nil:
			p.At = at + ".part"
			p.Err = discharge.E(discharge.KindNotSupported, p.At, "$placement-options has no parameter with parts.")
		case isResource:
			p.At, p.Resource = at+".resource", res
			p.ResourceType, _ = res["resourceType"].(string) // the validator has seen it is a string
		default:
			p.At, p.Value, p.Err = parameterValue(m, at, p.Name)
		}
		out = append(out, p)
	}
	return out, nil
}

// parameterValue returns where a parameter's value[x] is and its value as
// URL text. It fails when there is no value[x] (KindRequired), more than
// one, or one that is not a primitive (KindValue).
func parameterValue(m map[string]any, at, name string) (where, text string, err error) {
	var keys []string
	for k := range m {
		if strings.HasPrefix(k, "value") {
			keys = append(keys, k)
		}
	}
	switch len(keys) {
	case 0:
		return at, "", discharge.E(discharge.KindRequired, at, "Parameter '"+name+"' has no value[x] or resource.")
	case 1:
	default:
		slices.Sort(keys)
		return at, "", discharge.E(discharge.KindValue, at+"."+keys[1], "Parameter '"+name+"' has more than one value[x].")
	}
	key := keys[0]
	switch x := m[key].(type) {
	case string:
		return at + "." + key, x, nil
	case json.Number:
		return at + "." + key, x.String(), nil
	case bool:
		return at + "." + key, strconv.FormatBool(x), nil
	}
	return at, "", discharge.E(discharge.KindValue, at+"."+key, "Parameter '"+name+"' must have a primitive value.")
}

func isObject(raw json.RawMessage) bool {
	raw = bytes.TrimSpace(raw)
	return len(raw) > 0 && raw[0] == '{'
}
