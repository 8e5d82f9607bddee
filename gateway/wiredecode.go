package gateway

import (
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"

	json "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"github.com/dischargegateway/gateway/discharge"
)

// decodeWire decodes an /api/v1 request body into v, strictly: exactly one
// JSON value and nothing after it, member names exactly as written (no
// case folding), each at most once, none that v lacks, valid UTF-8, and
// numbers that fit their fields. A refusal is one issue at the member at
// fault, as a path in the form mappings.Validate reports the same body's
// values in ("beds[1].occupied"): structure for the shape (syntax, an
// unknown or repeated member, a wrong JSON type, a fraction where a count
// goes), value for a number out of range or text a field cannot read (a
// date). Errors about the body as a whole (not JSON, something after it)
// have no path, as fhir.Validate's have none.
//
// encoding/json, used before, took the first value and ignored what
// followed it, matched member names in any letter case, let a repeated
// member's last value win, and named neither the array element nor the
// object an unknown member was in ("beds.occupied", "colour"). The
// decoder is github.com/go-json-experiment/json, the Go team's
// implementation of encoding/json/v2 (already in the module graph), whose
// errors carry the JSON Pointer of the value at fault and whose defaults
// are these rules.
func decodeWire(body []byte, v any) error {
	err := json.Unmarshal(body, v, json.RejectUnknownMembers(true))
	if err == nil {
		return nil
	}
	var syn *jsontext.SyntacticError
	if errors.As(err, &syn) {
		at := wirePath(string(syn.JSONPointer))
		if errors.Is(syn.Err, jsontext.ErrDuplicateName) {
			return discharge.E(discharge.KindStructure, at, "A member appears twice; send each once.")
		}
		if at == "" {
			return discharge.E(discharge.KindStructure, "", fmt.Sprintf("The body is not one valid JSON value (at byte %d).", syn.ByteOffset))
		}
		return discharge.E(discharge.KindStructure, at, fmt.Sprintf("Not valid JSON here (at byte %d).", syn.ByteOffset))
	}
	var sem *json.SemanticError
	if errors.As(err, &sem) {
		at := wirePath(string(sem.JSONPointer))
		switch {
		case errors.Is(sem.Err, json.ErrUnknownName):
			return discharge.E(discharge.KindStructure, at, "Unknown member: this API does not have it (names are case-sensitive).")
		case errors.Is(sem.Err, strconv.ErrRange):
			return discharge.E(discharge.KindValue, at, "The number is out of range.")
		case sem.JSONKind == '0' && sem.GoType != nil && wireKind(sem.GoType.Kind()) == wholeNumber:
			// A number where an integer goes (1.5, 1e3 as written).
			return discharge.E(discharge.KindStructure, at, "Wrong JSON type: want a whole number.")
		case sem.Err != nil && sem.JSONKind == '"':
			// Text a field reads itself (a date) and could not.
			return discharge.E(discharge.KindValue, at, "The value cannot be read for this member.")
		}
		want := "another JSON type"
		if sem.GoType != nil {
			want = wireKind(sem.GoType.Kind())
		}
		return discharge.E(discharge.KindStructure, at, "Wrong JSON type: want "+want+".")
	}
	return discharge.E(discharge.KindStructure, "", "The body is not valid JSON for this API.")
}

// wholeNumber is what wireKind calls the JSON for an integer field.
const wholeNumber = "a whole number"

// wireKind names a Go kind as the JSON a caller must send for it.
func wireKind(k reflect.Kind) string {
	switch k {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return wholeNumber
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Struct, reflect.Map, reflect.Pointer:
		return "an object"
	}
	return "another JSON type"
}

// wirePath turns a JSON Pointer (RFC 6901) into the API's path form:
// /beds/1/occupied is beds[1].occupied. A segment of digits is an index
// (no /api/v1 body has objects with numeric names); a name that is not a
// plain identifier is written as a FHIRPath delimited identifier
// (`odd name`).
func wirePath(ptr string) string {
	if ptr == "" {
		return ""
	}
	var b strings.Builder
	for _, seg := range strings.Split(strings.TrimPrefix(ptr, "/"), "/") {
		seg = strings.ReplaceAll(strings.ReplaceAll(seg, "~1", "/"), "~0", "~")
		switch {
		case seg != "" && strings.Trim(seg, "0123456789") == "":
			b.WriteString("[" + seg + "]")
		case plainName(seg):
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(seg)
		default:
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString("`" + strings.NewReplacer(`\`, `\\`, "`", "\\`").Replace(seg) + "`")
		}
	}
	return b.String()
}

// plainName reports whether s is a FHIRPath identifier that needs no
// delimiters: a letter or _, then letters, digits or _.
func plainName(s string) bool {
	for i, c := range s {
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return s != ""
}
