package mappings

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"sync"

	"github.com/dischargegateway/gateway/discharge"
	r4 "github.com/samply/golang-fhir-models/fhir-models/fhir"
)

// The FHIR write path parses each resource's JSON once: the validator
// (fhir.Validate) decodes it into a generic document, numbers kept exact,
// and that document is what the write path carries to storage (stamped,
// its references rewritten, indexed, encoded once). The mappings read the
// samply models, so the functions below fill a model from the document in
// memory, with no second JSON parse and no encode in between. They fill the
// model exactly as encoding/json would from the document's JSON (FuzzFromDoc
// holds them to that on every resource the validator accepts).

// EncounterFromDoc is DecodeEncounter over a resource already decoded.
func EncounterFromDoc(doc map[string]any) (*r4.Encounter, error) {
	var enc r4.Encounter
	if err := fromDoc(doc, "Encounter", &enc); err != nil {
		return nil, err
	}
	return &enc, nil
}

// ServiceRequestFromDoc is DecodeServiceRequest over a resource already
// decoded.
func ServiceRequestFromDoc(doc map[string]any) (*r4.ServiceRequest, error) {
	var sr r4.ServiceRequest
	if err := fromDoc(doc, "ServiceRequest", &sr); err != nil {
		return nil, err
	}
	return &sr, nil
}

// PatientFromDoc is DecodePatient over a resource already decoded.
func PatientFromDoc(doc map[string]any) (*r4.Patient, error) {
	var p r4.Patient
	if err := fromDoc(doc, "Patient", &p); err != nil {
		return nil, err
	}
	return &p, nil
}

// fromDoc fills v from doc after checking its resourceType, failing as
// decodeResource does.
func fromDoc(doc map[string]any, want string, v any) error {
	if rt, _ := doc["resourceType"].(string); rt != want {
		return &discharge.Error{Kind: discharge.KindStructure, Op: "mappings.decode" + want,
			Issues: []discharge.Issue{{Kind: discharge.KindStructure, Expression: want, Message: "expected a " + want + " resource"}}}
	}
	if err := fill(reflect.ValueOf(v).Elem(), doc); err != nil {
		return &discharge.Error{Kind: discharge.KindStructure, Op: "mappings.decode" + want, Err: err,
			Issues: []discharge.Issue{{Kind: discharge.KindStructure, Expression: want, Message: "the " + want + " could not be read: an element has the wrong type or an unknown code"}}}
	}
	return nil
}

var (
	unmarshalerType = reflect.TypeFor[json.Unmarshaler]()
	numberType      = reflect.TypeFor[json.Number]()
)

// fill sets dst from a generic JSON value (as decoded with UseNumber):
// objects into structs by json tag, arrays into slices, and a type with
// its own UnmarshalJSON (the models' codes) through it. JSON null leaves
// dst as it is, as encoding/json does.
func fill(dst reflect.Value, v any) error {
	if v == nil {
		return nil
	}
	if dst.Kind() != reflect.Pointer && reflect.PointerTo(dst.Type()).Implements(unmarshalerType) {
		raw, err := json.Marshal(v)
		if err != nil {
			return err
		}
		return dst.Addr().Interface().(json.Unmarshaler).UnmarshalJSON(raw)
	}
	switch dst.Kind() {
	case reflect.Pointer:
		p := reflect.New(dst.Type().Elem())
		if err := fill(p.Elem(), v); err != nil {
			return err
		}
		dst.Set(p)
		return nil
	case reflect.Struct:
		m, ok := v.(map[string]any)
		if !ok {
			return mismatch(v, dst)
		}
		fields := fieldsOf(dst.Type())
		for k, e := range m {
			i, ok := fields[k]
			if !ok {
				continue // encoding/json ignores what the model has no field for
			}
			if err := fill(dst.Field(i), e); err != nil {
				return err
			}
		}
		return nil
	case reflect.Slice:
		a, ok := v.([]any)
		if !ok {
			return mismatch(v, dst)
		}
		s := reflect.MakeSlice(dst.Type(), len(a), len(a))
		for i, e := range a {
			if err := fill(s.Index(i), e); err != nil {
				return err
			}
		}
		dst.Set(s)
		return nil
	case reflect.String:
		if dst.Type() == numberType {
			switch n := v.(type) {
			case json.Number:
				dst.SetString(string(n))
				return nil
			case string:
				// encoding/json takes a JSON string into a json.Number
				// only when it holds a valid number.
				if n == "" || !json.Valid([]byte(n)) || (n[0] != '-' && (n[0] < '0' || n[0] > '9')) {
					return mismatch(v, dst)
				}
				dst.SetString(n)
				return nil
			}
			return mismatch(v, dst)
		}
		s, ok := v.(string)
		if !ok {
			return mismatch(v, dst)
		}
		dst.SetString(s)
		return nil
	case reflect.Bool:
		b, ok := v.(bool)
		if !ok {
			return mismatch(v, dst)
		}
		dst.SetBool(b)
		return nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n, ok := v.(json.Number)
		if !ok {
			return mismatch(v, dst)
		}
		i, err := strconv.ParseInt(string(n), 10, 64)
		if err != nil || dst.OverflowInt(i) {
			return mismatch(v, dst)
		}
		dst.SetInt(i)
		return nil
	case reflect.Interface:
		if dst.NumMethod() == 0 {
			dst.Set(reflect.ValueOf(v))
			return nil
		}
	}
	return mismatch(v, dst)
}

func mismatch(v any, dst reflect.Value) error {
	return fmt.Errorf("cannot fill %s from %T", dst.Type(), v)
}

// fieldIndex caches, per model type, the field index of each JSON name.
var fieldIndex sync.Map // reflect.Type -> map[string]int

func fieldsOf(t reflect.Type) map[string]int {
	if m, ok := fieldIndex.Load(t); ok {
		return m.(map[string]int)
	}
	m := make(map[string]int, t.NumField())
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		switch name {
		case "-":
			continue
		case "":
			name = f.Name
		}
		m[name] = i
	}
	fieldIndex.Store(t, m)
	return m
}

// Subject is a resource's subject Patient as the FHIR write path holds it:
// the document of another resource in the same transaction (Doc), or the
// stored JSON (JSON); neither when the gateway does not hold it.
type Subject struct {
	Doc  map[string]any
	JSON []byte
}

// patient reads the subject into the model once; nil when not held.
func (s Subject) patient() (*r4.Patient, error) {
	switch {
	case s.Doc != nil:
		return PatientFromDoc(s.Doc)
	case len(s.JSON) > 0:
		return DecodePatient(s.JSON)
	}
	return nil, nil
}

// IncomingIssues maps a validated resource on its way into the record, to
// check its discharge meaning: an Encounter as EncounterToCase maps it, a
// ServiceRequest as ServiceRequestToNeed does, each read from the
// validator's document (doc, with its server id set) and its subject. It
// returns the mapping's issues (warnings) or its error; any other type
// maps to nothing.
func IncomingIssues(typ string, doc map[string]any, subject Subject, opt Options) (discharge.Issues, error) {
	if typ != "Encounter" && typ != "ServiceRequest" {
		return nil, nil
	}
	var issues discharge.Issues
	switch typ {
	case "Encounter":
		enc, err := EncounterFromDoc(doc)
		if err != nil {
			return nil, err
		}
		pat, err := subject.patient()
		if err != nil {
			return nil, err
		}
		_, issues, err = CaseFromEncounter(enc, pat, opt)
		return issues, err
	default:
		sr, err := ServiceRequestFromDoc(doc)
		if err != nil {
			return nil, err
		}
		pat, err := subject.patient()
		if err != nil {
			return nil, err
		}
		_, issues, err = NeedFromServiceRequest(sr, pat, opt)
		return issues, err
	}
}
