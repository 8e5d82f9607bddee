package fhir

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"

	r4 "github.com/samply/golang-fhir-models/fhir-models/fhir"

	"github.com/dischargegateway/gateway/discharge"
)

// HL7's JSON Schema leaves some required bindings as plain codes, with no
// enum: ServiceRequest.status, .intent and .priority among them (the shared
// Request* value sets). The samply models the mappings decode with do know
// them, as Go enum types, and refuse any other code, which used to surface
// as a vague structure issue at the resource root. So the allowed codes are
// taken from those very models, and Validate checks them first, naming the
// element: what the validator accepts, the decoder can read.

// modelTypes are the samply models of the resource types whose codes are
// checked: those the gateway decodes.
var modelTypes = map[string]reflect.Type{
	"Patient":           reflect.TypeFor[r4.Patient](),
	"Encounter":         reflect.TypeFor[r4.Encounter](),
	"ServiceRequest":    reflect.TypeFor[r4.ServiceRequest](),
	"Organization":      reflect.TypeFor[r4.Organization](),
	"Location":          reflect.TypeFor[r4.Location](),
	"HealthcareService": reflect.TypeFor[r4.HealthcareService](),
	"MeasureReport":     reflect.TypeFor[r4.MeasureReport](),
	"Bundle":            reflect.TypeFor[r4.Bundle](),
	"Parameters":        reflect.TypeFor[r4.Parameters](),
}

// modelField is what checkCodes needs of one field of a samply model.
type modelField struct {
	codes []string     // the enum's codes, when the field is an enum
	elem  reflect.Type // the struct type to descend into, otherwise
}

// modelFields caches, per samply struct type, its fields by JSON name.
var modelFields sync.Map // reflect.Type -> map[string]modelField

var unmarshaler = reflect.TypeFor[json.Unmarshaler]()

func fieldsOf(t reflect.Type) map[string]modelField {
	if m, ok := modelFields.Load(t); ok {
		return m.(map[string]modelField)
	}
	out := map[string]modelField{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "" || name == "-" {
			continue
		}
		ft := f.Type
		for ft.Kind() == reflect.Pointer || ft.Kind() == reflect.Slice {
			ft = ft.Elem()
		}
		switch {
		case ft.Kind() == reflect.Int && reflect.PointerTo(ft).Implements(unmarshaler):
			if codes := enumCodes(ft); len(codes) > 0 {
				out[name] = modelField{codes: codes}
			}
		case ft.Kind() == reflect.Struct:
			out[name] = modelField{elem: ft}
		}
	}
	modelFields.Store(t, out)
	return out
}

// enumCodes lists a samply enum's codes: its values count up from zero, and
// Code returns "<unknown>" past the last.
func enumCodes(t reflect.Type) []string {
	m, ok := t.MethodByName("Code")
	if !ok {
		return nil
	}
	var codes []string
	for i := 0; i < 1000; i++ {
		v := reflect.New(t).Elem()
		v.SetInt(int64(i))
		c := m.Func.Call([]reflect.Value{v})[0].String()
		if c == "<unknown>" || c == "" {
			break
		}
		codes = append(codes, c)
	}
	return codes
}

// checkCodes reports every code in obj, a resource of type rt at path, that
// the enum of its samply model does not have, unless the schema already
// said so. Elements the model does not know are the schema's to report;
// nested resources (json.RawMessage in the models) are checked as their own
// types.
func checkCodes(obj map[string]any, rt, path string, issues *discharge.Issues) {
	t, ok := modelTypes[rt]
	if !ok {
		return
	}
	seen := map[string]bool{}
	for _, is := range *issues {
		if is.Kind == discharge.KindCodeInvalid {
			seen[is.Expression] = true
		}
	}
	var found discharge.Issues
	var walk func(v any, f modelField, at string)
	walk = func(v any, f modelField, at string) {
		switch x := v.(type) {
		case []any:
			for i, e := range x {
				walk(e, f, fmt.Sprintf("%s[%d]", at, i))
			}
		case map[string]any:
			if f.elem == nil {
				return
			}
			fields := fieldsOf(f.elem)
			for k, e := range x {
				if ff, ok := fields[k]; ok {
					walk(e, ff, pathJoin(at, k))
				}
			}
		case string:
			if f.codes != nil && !slices.Contains(f.codes, x) && !seen[at] {
				found.Add(discharge.KindCodeInvalid, at,
					"The code is not in the required value set: allowed codes are "+strings.Join(f.codes, ", ")+".")
			}
		}
	}
	walk(obj, modelField{elem: t}, path)
	// Map order is random: sort so a response does not change between runs.
	slices.SortStableFunc(found, func(a, b discharge.Issue) int { return strings.Compare(a.Expression, b.Expression) })
	*issues = append(*issues, found...)
}
