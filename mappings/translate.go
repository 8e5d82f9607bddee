package mappings

import (
	"encoding/json"
	"strconv"

	"github.com/dischargegateway/gateway/discharge"
)

// TranslateRequest is the input of ConceptMap/$translate the gateway
// supports: which code of which system, and optionally the target system
// and the ConceptMap to use.
type TranslateRequest struct {
	URL    string // the ConceptMap's canonical url, if one is named
	System string // the source code's system
	Code   string // the source code
	Target string // the target code system (target or targetsystem)
}

// translateStringValues are the value[x] a $translate parameter's text is
// read from; when a parameter carries more than one, the last of them
// listed here wins.
var translateStringValues = []string{"valueUri", "valueCode", "valueString", "valueCanonical"}

// DecodeTranslateParameters reads $translate's input from a Parameters
// body the FHIR validator has already accepted: url, system, code, target
// or targetsystem as a string value[x], or coding as a valueCoding (its
// system and code). A value[x] of another type leaves the parameter empty.
// Any other parameter is refused (KindNotSupported at its name).
func DecodeTranslateParameters(raw []byte) (TranslateRequest, error) {
	var in TranslateRequest
	var doc struct {
		Parameter []map[string]json.RawMessage `json:"parameter"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		return in, discharge.E(discharge.KindStructure, "Parameters", "The body is not a JSON Parameters resource.")
	}
	for i, p := range doc.Parameter {
		name, _ := jsonString(p["name"])
		val := ""
		for _, k := range translateStringValues {
			if v, ok := jsonString(p[k]); ok {
				val = v
			}
		}
		if name == "coding" && isObject(p["valueCoding"]) {
			var cd map[string]json.RawMessage
			_ = json.Unmarshal(p["valueCoding"], &cd) // an object: cannot fail
			in.System, _ = jsonString(cd["system"])
			in.Code, _ = jsonString(cd["code"])
			continue
		}
		switch name {
		case "url":
			in.URL = val
		case "system":
			in.System = val
		case "code":
			in.Code = val
		case "target", "targetsystem":
			in.Target = val
		default:
			return in, discharge.E(discharge.KindNotSupported, "Parameters.parameter["+strconv.Itoa(i)+"].name",
				"Unsupported $translate parameter '"+name+"'.")
		}
	}
	return in, nil
}

// jsonString is raw as a string, and whether it is a JSON string.
func jsonString(raw json.RawMessage) (string, bool) {
	var s string
	if len(raw) == 0 || raw[0] != '"' || json.Unmarshal(raw, &s) != nil {
		return "", false
	}
	return s, true
}

// The $translate answer's JSON shape: one type per kind of parameter, so
// that each keeps every key even when empty. Fields are in the
// alphabetical order the gateway has always written them in (it once
// marshalled map literals), so the answer's bytes did not change when these
// types came.
type (
	translateOutJSON struct {
		Parameter    []any  `json:"parameter"`
		ResourceType string `json:"resourceType"`
	}
	translateBoolJSON struct {
		Name         string `json:"name"`
		ValueBoolean bool   `json:"valueBoolean"`
	}
	translateStringJSON struct {
		Name        string `json:"name"`
		ValueString string `json:"valueString"`
	}
	translatePartsJSON struct {
		Name string `json:"name"`
		Part []any  `json:"part"`
	}
	translateCodeJSON struct {
		Name      string `json:"name"`
		ValueCode string `json:"valueCode"`
	}
	translateConceptJSON struct {
		Name        string              `json:"name"`
		ValueCoding translateCodingJSON `json:"valueCoding"`
	}
	translateCodingJSON struct {
		Code    string `json:"code"`
		Display string `json:"display"`
		System  string `json:"system"`
	}
	translateURIJSON struct {
		Name     string `json:"name"`
		ValueURI string `json:"valueUri"`
	}
)

// TranslateResponse renders $translate's answer for matches as an R4
// Parameters resource: result (true only when some match lets the code
// stand for its target: unmatched and disjoint matches are reported, but
// are no), a message when it is false, and one match per match with its
// equivalence, concept and source ConceptMap.
func TranslateResponse(matches []Match) []byte {
	ok := false
	for _, m := range matches {
		ok = ok || m.Maps()
	}
	params := []any{translateBoolJSON{Name: "result", ValueBoolean: ok}}
	if !ok {
		params = append(params, translateStringJSON{Name: "message", ValueString: "No loaded ConceptMap translates this code."})
	}
	for _, m := range matches {
		params = append(params, translatePartsJSON{Name: "match", Part: []any{
			translateCodeJSON{Name: "equivalence", ValueCode: m.Equivalence},
			translateConceptJSON{Name: "concept", ValueCoding: translateCodingJSON{Code: m.Target.Code, Display: m.Target.Display, System: m.System}},
			translateURIJSON{Name: "source", ValueURI: m.ConceptMapURL},
		}})
	}
	b, _ := json.Marshal(translateOutJSON{Parameter: params, ResourceType: "Parameters"}) // plain strings and bools: cannot fail
	return b
}
