package fhir

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"

	"github.com/dischargegateway/gateway/discharge"
)

// schemaJSON is HL7's FHIR R4 JSON Schema (CC0), patched so the FHIRVersion
// enums include 4.0.1 (the published file stops at 4.0.0).
//
//go:embed schema/fhir.schema.json
var schemaJSON []byte

// Limits bounds what one request may hold.
type Limits struct {
	MaxDepth         int // deepest JSON nesting
	MaxBundleEntries int // most entries in one Bundle
}

// DefaultLimits are used when nothing is configured.
var DefaultLimits = Limits{MaxDepth: 64, MaxBundleEntries: 1000}

// MaxIssues caps how many problems one response reports: a caller given
// exactly MaxIssues may not have been told of them all.
const MaxIssues = 100

const maxIssues = MaxIssues

// Parsed is a validated resource.
type Parsed struct {
	ResourceType string
	Raw          []byte
	// Doc is the resource decoded as the validator read it, numbers kept
	// exact (as DecodeDoc decodes), so a caller need not decode it again.
	Doc map[string]any
}

var (
	schemaOnce sync.Once
	schemaErr  error
	// schemas holds every definition of the R4 schema compiled, by name;
	// read-only once made.
	schemas map[string]*jsonschema.Schema
)

const schemaURL = "http://hl7.org/fhir/json-schema/4.0"

// compileSchemas compiles every definition of the R4 schema, once. Bundle
// alone reaches nearly all of them (its entries may be any resource), so
// compiling the rest costs little more, and then neither the compiler nor
// the parsed schema document is kept: held for compiling on demand, they
// were 10 MB of maps and interfaces, about a sixth of the gateway's own live
// heap at 25,000 providers, which every garbage collection marked again
// (a collection's mark phase is what sets placement's p99; docs/performance.md).
func compileSchemas() (map[string]*jsonschema.Schema, error) {
	schemaOnce.Do(func() {
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(schemaJSON))
		if err != nil {
			schemaErr = err
			return
		}
		root, _ := doc.(map[string]any)
		defs, _ := root["definitions"].(map[string]any)
		if len(defs) == 0 {
			schemaErr = fmt.Errorf("the R4 schema has no definitions")
			return
		}
		c := jsonschema.NewCompiler()
		c.DefaultDraft(jsonschema.Draft6)
		if err := c.AddResource(schemaURL, doc); err != nil {
			schemaErr = err
			return
		}
		m := make(map[string]*jsonschema.Schema, len(defs))
		for name := range defs {
			sch, err := c.Compile(schemaURL + "#/definitions/" + jsonPointerEscape(name))
			if err != nil {
				schemaErr = fmt.Errorf("R4 schema definition %s: %w", name, err)
				return
			}
			m[name] = sch
		}
		schemas = m
	})
	return schemas, schemaErr
}

// jsonPointerEscape escapes a JSON Pointer reference token (RFC 6901).
func jsonPointerEscape(s string) string {
	return strings.NewReplacer("~", "~0", "/", "~1").Replace(s)
}

// schemaFor returns the compiled schema of one resource type; nil if the
// type is not an R4 definition.
func schemaFor(typ string) (*jsonschema.Schema, error) {
	m, err := compileSchemas()
	if err != nil {
		return nil, err
	}
	return m[typ], nil
}

// ResourceType returns the resourceType of raw JSON, or "".
func ResourceType(raw []byte) string {
	var head struct {
		ResourceType string `json:"resourceType"`
	}
	_ = json.Unmarshal(raw, &head)
	return head.ResourceType
}

// Validate checks one resource body strictly: well-formed JSON of a single
// object with no duplicate keys, within the nesting and Bundle limits, whose
// resourceType is wantType (any when empty), valid against the R4 JSON
// Schema (unknown elements, required bindings, primitive formats), with the
// required elements the samply models would silently default, and with
// valid NHS numbers. Bundle entries are validated as their own types, with
// paths such as Bundle.entry[1].resource.status. All problems are reported
// together, as one *discharge.Error.
//
// Measured on the 2-core development machine (BenchmarkValidatePatient,
// BenchmarkValidateBundle): 20 µs for a Patient and 0.26 ms for the 3-entry
// walk-through Bundle, well under the cost of one Redis round trip budget,
// so the maintained schema replaces hand-written structure checks.
func Validate(raw []byte, wantType string, lim Limits) (*Parsed, error) {
	if lim.MaxDepth <= 0 {
		lim.MaxDepth = DefaultLimits.MaxDepth
	}
	if lim.MaxBundleEntries <= 0 {
		lim.MaxBundleEntries = DefaultLimits.MaxBundleEntries
	}
	root := wantType
	if root == "" {
		root = "Resource"
	}
	badStrings, err := checkSyntax(raw, lim.MaxDepth, root)
	if err != nil {
		return nil, err
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return nil, discharge.E(discharge.KindStructure, "", "The body is not valid JSON.")
	}
	obj, ok := doc.(map[string]any)
	if !ok {
		return nil, discharge.E(discharge.KindStructure, "", "The body must be a JSON object with a resourceType.")
	}
	rt, ok := obj["resourceType"].(string)
	switch {
	case !ok && obj["resourceType"] != nil:
		return nil, discharge.E(discharge.KindStructure, "resourceType", "resourceType must be a string.")
	case !ok:
		return nil, discharge.E(discharge.KindRequired, "resourceType", "The resource has no resourceType.")
	case wantType != "" && rt != wantType:
		return nil, discharge.E(discharge.KindInvalid, "resourceType",
			fmt.Sprintf("This endpoint takes %s, not %s.", wantType, rt))
	}
	if rt == "Bundle" {
		if es, _ := obj["entry"].([]any); len(es) > lim.MaxBundleEntries {
			return nil, discharge.E(discharge.KindTooLarge, "Bundle.entry",
				fmt.Sprintf("The Bundle has %d entries; the limit is %d.", len(es), lim.MaxBundleEntries))
		}
	}
	var issues discharge.Issues
	base := rt
	if !typeShaped(base) {
		base = root
	}
	for _, at := range badStrings {
		issues.Add(discharge.KindValue, base+at, "The string holds a control character (below U+0020, other than tab, CR and LF), "+
			"an unpaired UTF-16 surrogate, or bytes that are not UTF-8; FHIR strings may not.")
	}
	if err := validateResource(obj, rt, rt, nil, &issues); err != nil {
		return nil, err
	}
	if len(issues) > maxIssues {
		issues = issues[:maxIssues]
	}
	if err := issues.Err(kindOf(issues), "fhir.Validate"); err != nil {
		return nil, err
	}
	return &Parsed{ResourceType: rt, Raw: raw, Doc: obj}, nil
}

// kindOf picks the error's overall kind: all issues are 400-class.
func kindOf(issues discharge.Issues) discharge.Kind {
	if len(issues) > 0 {
		return issues[0].Kind
	}
	return discharge.KindInvalid
}

// validateResource validates obj as resource type rt, reporting at path;
// container is the resource obj is contained in, if it is. Nested resources
// (Bundle.entry.resource, contained) are validated as their own types, not
// through the schema's oneOf over every resource type.
func validateResource(obj map[string]any, rt, path string, container map[string]any, issues *discharge.Issues) error {
	sch, err := schemaFor(rt)
	if err != nil {
		return discharge.Wrap(discharge.KindInternal, "fhir schema", err)
	}
	if sch == nil {
		issues.Add(discharge.KindNotSupported, pathJoin(path, "resourceType"), "Unknown resource type '"+rt+"'.")
		return nil
	}
	// Take nested resources out of a shallow copy and validate them apart,
	// each as its own type: the schema's oneOf over every resource type
	// would otherwise report a failure for each of the 140 alternatives.
	type nested struct {
		obj       map[string]any
		path      string
		container map[string]any
	}
	var inner []nested
	stub := func(v any, at string) any {
		m, ok := v.(map[string]any)
		if !ok {
			return v
		}
		t, _ := m["resourceType"].(string)
		if t == "" {
			issues.Add(discharge.KindRequired, pathJoin(at, "resourceType"), "The nested resource has no resourceType.")
			return v
		}
		inner = append(inner, nested{obj: m, path: at})
		return nil
	}
	shallow := make(map[string]any, len(obj))
	for k, v := range obj {
		shallow[k] = v
	}
	if cs, ok := obj["contained"].([]any); ok {
		first := len(inner)
		for i, c := range cs {
			stub(c, fmt.Sprintf("%s.contained[%d]", path, i))
		}
		for i := first; i < len(inner); i++ {
			inner[i].container = obj
		}
		delete(shallow, "contained")
	}
	// Every place R4 allows a resource inline (ResourceList in the schema):
	// contained, Bundle.entry.resource, Bundle.entry.response.outcome and
	// Parameters.parameter.resource (parts included).
	switch rt {
	case "Bundle":
		if es, ok := obj["entry"].([]any); ok {
			out := make([]any, len(es))
			for i, e := range es {
				at := fmt.Sprintf("%s.entry[%d]", path, i)
				cp, ok := without(e, "resource", at, stub)
				if !ok {
					out[i] = e
					continue
				}
				if resp, ok := without(cp["response"], "outcome", at+".response", stub); ok {
					cp["response"] = resp
				}
				out[i] = cp
			}
			shallow["entry"] = out
		}
	case "Parameters":
		var params func(ps []any, at string) []any
		params = func(ps []any, at string) []any {
			out := make([]any, len(ps))
			for i, p := range ps {
				pat := fmt.Sprintf("%s[%d]", at, i)
				cp, ok := without(p, "resource", pat, stub)
				if !ok {
					out[i] = p
					continue
				}
				if parts, ok := cp["part"].([]any); ok {
					cp["part"] = params(parts, pat+".part")
				}
				out[i] = cp
			}
			return out
		}
		if ps, ok := obj["parameter"].([]any); ok {
			shallow["parameter"] = params(ps, path+".parameter")
		}
	}
	if err := sch.Validate(shallow); err != nil {
		var ve *jsonschema.ValidationError
		if !errors.As(err, &ve) {
			return discharge.Wrap(discharge.KindInternal, "fhir schema", err)
		}
		collect(ve, path, issues)
	}
	checkCodes(obj, rt, path, issues)
	checkRequired(obj, rt, path, issues)
	checkNHSNumbers(obj, path, issues)
	*issues = append(*issues, checkReferenceTypes(obj, rt, path, container)...)
	for _, n := range inner {
		t, _ := n.obj["resourceType"].(string)
		if err := validateResource(n.obj, t, n.path, n.container, issues); err != nil {
			return err
		}
	}
	return nil
}

// without returns a shallow copy of the object v with its member key taken
// out and handed to stub (which queues a nested resource for validation as
// its own type); ok is false when v is not an object.
func without(v any, key, at string, stub func(v any, at string) any) (map[string]any, bool) {
	m, ok := v.(map[string]any)
	if !ok {
		return nil, false
	}
	cp := make(map[string]any, len(m))
	for k, e := range m {
		cp[k] = e
	}
	if r, ok := m[key]; ok {
		stub(r, pathJoin(at, key))
		// An object is judged as its own type (or refused for having
		// none); anything else stays for the schema to call a wrong type.
		if _, obj := r.(map[string]any); obj {
			delete(cp, key)
		}
	}
	return cp, true
}

// collect turns the schema library's error tree into issues, one per leaf.
func collect(ve *jsonschema.ValidationError, root string, issues *discharge.Issues) {
	seen := map[string]bool{}
	for _, is := range *issues {
		seen[is.Kind.String()+" "+is.Expression] = true
	}
	var found discharge.Issues
	collectLeaves(ve, root, &found)
	for _, is := range found {
		if k := is.Kind.String() + " " + is.Expression; !seen[k] {
			seen[k] = true
			*issues = append(*issues, is)
		}
	}
}

func collectLeaves(ve *jsonschema.ValidationError, root string, issues *discharge.Issues) {
	if len(ve.Causes) > 0 {
		for _, c := range ve.Causes {
			collectLeaves(c, root, issues)
		}
		return
	}
	at := fhirPath(root, ve.InstanceLocation)
	switch k := ve.ErrorKind.(type) {
	case *kind.AdditionalProperties:
		for _, p := range k.Properties {
			issues.Add(discharge.KindStructure, pathJoin(at, p), "Unknown element '"+p+"'.")
		}
	case *kind.Required:
		for _, p := range k.Missing {
			issues.Add(discharge.KindRequired, pathJoin(at, p), "Missing required element '"+p+"'.")
		}
	case *kind.Enum:
		issues.Add(discharge.KindCodeInvalid, at, "The code is not in the required value set: allowed codes are "+codeList(k.Want)+".")
	case *kind.Const:
		issues.Add(discharge.KindCodeInvalid, at, "The code is not in the required value set: the only allowed code is "+codeList([]any{k.Want})+".")
	case *kind.Pattern:
		issues.Add(discharge.KindValue, at, "The value does not have the format FHIR requires for this element.")
	case *kind.Type:
		issues.Add(discharge.KindStructure, at, fmt.Sprintf("Wrong JSON type: got %s, want %s.", k.Got, strings.Join(k.Want, " or ")))
	case *kind.FalseSchema:
		issues.Add(discharge.KindStructure, at, "This element is not allowed here.")
	default:
		issues.Add(discharge.KindStructure, at, "The element is not valid FHIR R4.")
	}
}

// codeList renders a schema enum's values for a diagnostic, so the caller
// learns the allowed codes without reading the specification. The value
// sent is not echoed: diagnostics never repeat what the caller sent.
func codeList(want []any) string {
	parts := make([]string, 0, len(want))
	for _, w := range want {
		if s, ok := w.(string); ok {
			parts = append(parts, s)
		} else {
			parts = append(parts, fmt.Sprint(w))
		}
	}
	return strings.Join(parts, ", ")
}

// fhirPath converts a JSON pointer's tokens to FHIRPath: ["entry","3",
// "resource","status"] under Bundle gives Bundle.entry[3].resource.status.
func fhirPath(root string, loc []string) string {
	var b strings.Builder
	b.WriteString(root)
	for _, tok := range loc {
		if _, err := strconv.Atoi(tok); err == nil {
			b.WriteString("[" + tok + "]")
			continue
		}
		b.WriteString("." + tok)
	}
	return b.String()
}

func pathJoin(path, el string) string {
	if path == "" {
		return el
	}
	return path + "." + el
}

// required lists elements that are mandatory for the gateway's purposes
// and that the samply models would silently default if absent.
var required = map[string][]string{
	"Encounter":      {"status", "class", "subject"},
	"ServiceRequest": {"status", "intent", "subject"},
}

func checkRequired(obj map[string]any, rt, path string, issues *discharge.Issues) {
	for _, el := range required[rt] {
		if _, ok := obj[el]; !ok {
			issues.Add(discharge.KindRequired, pathJoin(path, el), "Missing required element '"+el+"'.")
		}
	}
}

// checkNHSNumbers checks every Identifier with the NHS number system, in
// the resource's own elements (nested resources are checked on their own).
func checkNHSNumbers(v any, path string, issues *discharge.Issues) {
	switch x := v.(type) {
	case map[string]any:
		if x["system"] == NHSNumberSystem {
			if val, ok := x["value"].(string); ok {
				if err := CheckNHSNumber(val); err != nil {
					issues.Add(discharge.KindValue, pathJoin(path, "value"), err.Message)
					(*issues)[len(*issues)-1].Detail = err.Detail
				}
			}
		}
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if k == "resource" || k == "contained" {
				continue
			}
			checkNHSNumbers(x[k], pathJoin(path, k), issues)
		}
	case []any:
		for i, e := range x {
			checkNHSNumbers(e, fmt.Sprintf("%s[%d]", path, i), issues)
		}
	}
}

// checkSyntax walks the JSON tokens once: well-formed, one value, no
// duplicate keys, within the depth limit. It also returns where strings hold
// what FHIR forbids (badText), as path suffixes such as ".name[0].family",
// for the caller to report once the resource type is known.
func checkSyntax(raw []byte, maxDepth int, root string) (bad []string, err error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	type frame struct {
		obj  bool
		keys map[string]bool
		key  bool   // next string token in an object is a key
		name string // the current key, in an object
		idx  int    // how many values an array has begun
	}
	var stack []*frame
	// next notes that a value begins inside top.
	next := func(top *frame) {
		if top != nil && !top.obj {
			top.idx++
		}
	}
	// where renders the path of the current value (of the current object,
	// for a key), only when a bad string needs it: each frame is reached
	// by its parent's current key or index.
	where := func(key bool) string {
		var b strings.Builder
		n := len(stack)
		if key {
			n-- // a key is reported at its object
		}
		for _, f := range stack[:n] {
			if f.obj {
				b.WriteString("." + f.name)
			} else {
				b.WriteString("[" + strconv.Itoa(f.idx-1) + "]")
			}
		}
		return b.String()
	}
	values := 0
	for {
		before := dec.InputOffset()
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			var se *json.SyntaxError
			msg := "The body is not well-formed JSON."
			if errors.As(err, &se) {
				msg = fmt.Sprintf("The body is not well-formed JSON (at byte %d).", se.Offset)
			} else if errors.Is(err, io.ErrUnexpectedEOF) {
				msg = "The body ends before the JSON does."
			}
			return nil, discharge.E(discharge.KindStructure, "", msg)
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if len(stack) == 0 {
			values++
			if values > 1 {
				return nil, discharge.E(discharge.KindStructure, "", "The body holds more than one JSON value.")
			}
		}
		switch t := tok.(type) {
		case json.Delim:
			switch t {
			case '{', '[':
				next(top)
				if top != nil && top.obj {
					top.key = true
				}
				if len(stack)+1 > maxDepth {
					return nil, discharge.E(discharge.KindTooLarge, root,
						fmt.Sprintf("The JSON is nested deeper than %d levels.", maxDepth))
				}
				stack = append(stack, &frame{obj: t == '{', keys: map[string]bool{}, key: t == '{'})
			case '}', ']':
				stack = stack[:len(stack)-1]
			}
		case string:
			// The token's raw text: the decoder has already turned escapes
			// into runes, and lone surrogates and invalid UTF-8 into U+FFFD.
			lit := raw[before:dec.InputOffset()]
			if top != nil && top.obj && top.key {
				if top.keys[t] {
					return nil, discharge.E(discharge.KindStructure, root,
						"The JSON repeats the key '"+t+"' in one object.")
				}
				if badText(lit) && len(bad) < maxIssues {
					bad = append(bad, where(true))
				}
				top.keys[t] = true
				top.key = false
				top.name = t
				continue
			}
			next(top)
			if badText(lit) && len(bad) < maxIssues {
				bad = append(bad, where(false))
			}
			if top != nil && top.obj {
				top.key = true
			}
		default:
			next(top)
			if top != nil && top.obj {
				top.key = true
			}
		}
	}
	if values == 0 {
		return nil, discharge.E(discharge.KindStructure, "", "The body is empty.")
	}
	return bad, nil
}

// badText reports whether the raw text of a JSON string token (with any
// separator before it) holds what FHIR strings may not: a control character
// below U+0020 other than tab, CR and LF, written as an escape (\b, \f,
// \u0001; raw ones are not JSON at all); a UTF-16 surrogate escape that is
// not half of a pair; or bytes that are not UTF-8. encoding/json would
// silently store U+FFFD for the last two, so they are caught on the bytes.
func badText(lit []byte) bool {
	hex4 := func(b []byte) rune {
		if len(b) < 4 {
			return -1
		}
		n, err := strconv.ParseUint(string(b[:4]), 16, 32)
		if err != nil {
			return -1
		}
		return rune(n)
	}
	for i := 0; i < len(lit); i++ {
		c := lit[i]
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRune(lit[i:])
			if r == utf8.RuneError && size <= 1 {
				return true
			}
			i += size - 1
			continue
		}
		if c != '\\' || i+1 >= len(lit) {
			continue
		}
		switch lit[i+1] {
		case 'b', 'f':
			return true
		case 'u':
			r := hex4(lit[i+2:])
			i += 5
			switch {
			case r < 0:
				return true
			case r < 0x20 && r != '\t' && r != '\n' && r != '\r':
				return true
			case r >= 0xD800 && r < 0xDC00:
				// A high surrogate must be followed by a low one.
				if i+6 < len(lit) && lit[i+1] == '\\' && lit[i+2] == 'u' {
					if lo := hex4(lit[i+3:]); lo >= 0xDC00 && lo <= 0xDFFF {
						i += 6
						continue
					}
				}
				return true
			case r >= 0xDC00 && r <= 0xDFFF:
				return true
			}
		default:
			i++ // an escaped character, possibly a backslash
		}
	}
	return false
}

// Preload compiles the R4 schema now, so the first request does not pay
// for it (compiling the 2.8 MB schema takes a noticeable fraction of a
// second), and checks that each of the given resource types is in it.
func Preload(types ...string) error {
	for _, t := range types {
		s, err := schemaFor(t)
		if err != nil {
			return err
		}
		if s == nil {
			return fmt.Errorf("no R4 schema for %s", t)
		}
	}
	return nil
}
