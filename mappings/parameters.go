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
	// Resource is the raw JSON of parameter.resource, when it has one, and
	// ResourceType its resourceType. DecodeParameters validated it as a
	// resource of that type.
	Resource     json.RawMessage
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
	if _, err := fhir.Validate(raw, "Parameters", lim); err != nil {
		return nil, err
	}
	var doc struct {
		Parameter []map[string]json.RawMessage `json:"parameter"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, discharge.E(discharge.KindStructure, "Parameters", "The body is not a JSON Parameters resource.")
	}
	out := make([]Parameter, 0, len(doc.Parameter))
	for i, m := range doc.Parameter {
		at := fmt.Sprintf("Parameters.parameter[%d]", i)
		p := Parameter{At: at}
		_ = json.Unmarshal(m["name"], &p.Name)
		switch {
		case m["part"] != nil:
			p.At = at + ".part"
			p.Err = discharge.E(discharge.KindNotSupported, p.At, "$placement-options has no parameter with parts.")
		case isObject(m["resource"]):
			p.At, p.Resource = at+".resource", m["resource"]
			var head struct {
				ResourceType string `json:"resourceType"`
			}
			_ = json.Unmarshal(p.Resource, &head) // the validator has seen it is a string
			p.ResourceType = head.ResourceType
		default:
			p.At, p.Value, p.Err = parameterValue(m, at, p.Name)
		}
		out = append(out, p)
	}
	return out, nil
}

func isObject(raw json.RawMessage) bool {
	raw = bytes.TrimSpace(raw)
	return len(raw) > 0 && raw[0] == '{'
}

// parameterValue returns where a parameter's value[x] is and its value as
// URL text. It fails when there is no value[x] (KindRequired), more than
// one, or one that is not a primitive (KindValue).
func parameterValue(m map[string]json.RawMessage, at, name string) (where, text string, err error) {
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
	dec := json.NewDecoder(bytes.NewReader(m[key]))
	dec.UseNumber()
	var v any
	if dec.Decode(&v) == nil {
		switch x := v.(type) {
		case string:
			return at + "." + key, x, nil
		case json.Number:
			return at + "." + key, x.String(), nil
		case bool:
			return at + "." + key, strconv.FormatBool(x), nil
		}
	}
	return at, "", discharge.E(discharge.KindValue, at+"."+key, "Parameter '"+name+"' must have a primitive value.")
}
