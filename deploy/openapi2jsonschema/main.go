// Command openapi2jsonschema turns the Kubernetes OpenAPI v2 document
// (api/openapi-spec/swagger.json of the k8s.io/kubernetes module) into one
// standalone JSON Schema per kind, in the layout kubeconform reads with
// -schema-location:
//
//	OUT/v1.34.4-standalone/deployment-apps-v1.json
//	OUT/v1.34.4-standalone-strict/deployment-apps-v1.json
//
// kubeconform's own schemas are fetched from GitHub, which CI cannot reach;
// the module proxy can serve the OpenAPI document, and this makes the same
// schemas from it. "Standalone" means each file carries the definitions it
// reaches, so no schema refers to another file. "Strict" closes every object
// that lists its properties (additionalProperties: false), so a misspelt or
// misplaced field is an error, which is what kubeconform's -strict expects.
//
// Usage: openapi2jsonschema -version 1.34.4 -out DIR swagger.json
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

const refPrefix = "#/definitions/"

func main() {
	version := flag.String("version", "", "Kubernetes version the document belongs to, e.g. 1.34.4 (names the output folders)")
	out := flag.String("out", "", "folder to write the schema folders into")
	flag.Parse()
	if *version == "" || *out == "" || flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: openapi2jsonschema -version 1.34.4 -out DIR swagger.json")
		os.Exit(2)
	}
	n, err := run(flag.Arg(0), *out, strings.TrimPrefix(*version, "v"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "openapi2jsonschema:", err)
		os.Exit(1)
	}
	fmt.Printf("openapi2jsonschema: %d kinds written for Kubernetes v%s\n", n, strings.TrimPrefix(*version, "v"))
}

func run(in, out, version string) (int, error) {
	b, err := os.ReadFile(in)
	if err != nil {
		return 0, err
	}
	var doc struct {
		Definitions map[string]map[string]any `json:"definitions"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		return 0, fmt.Errorf("%s: %w", in, err)
	}
	if len(doc.Definitions) == 0 {
		return 0, fmt.Errorf("%s: no definitions: not a Kubernetes OpenAPI v2 document", in)
	}
	n := 0
	for _, strict := range []bool{false, true} {
		dir := filepath.Join(out, "v"+version+"-standalone")
		if strict {
			dir += "-strict"
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return 0, err
		}
		schemas, err := Convert(doc.Definitions, strict)
		if err != nil {
			return 0, err
		}
		for name, s := range schemas {
			b, err := json.Marshal(s)
			if err != nil {
				return 0, err
			}
			if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
				return 0, err
			}
		}
		n = len(schemas)
	}
	return n, nil
}

// gvk is one entry of a definition's x-kubernetes-group-version-kind.
type gvk struct {
	Group, Version, Kind string
}

// FileName is the name kubeconform looks for: the lower-cased kind, the
// first label of the group (none for the core group) and the version, as
// in deployment-apps-v1.json, networkpolicy-networking-v1.json, service-v1.json.
func (g gvk) FileName() string {
	name := strings.ToLower(g.Kind)
	if g.Group != "" {
		name += "-" + strings.ToLower(strings.Split(g.Group, ".")[0])
	}
	return name + "-" + strings.ToLower(g.Version) + ".json"
}

func (g gvk) apiVersion() string {
	if g.Group == "" {
		return g.Version
	}
	return g.Group + "/" + g.Version
}

// Convert returns a standalone schema per file name for every definition
// that is a kind of its own (has x-kubernetes-group-version-kind).
func Convert(defs map[string]map[string]any, strict bool) (map[string]map[string]any, error) {
	out := map[string]map[string]any{}
	names := make([]string, 0, len(defs))
	for name := range defs {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		kinds, err := kindsOf(defs[name])
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		for _, k := range kinds {
			if _, dup := out[k.FileName()]; dup {
				// Two groups whose first labels agree (none in the core API);
				// the first by definition name wins, as in kubeconform's own set.
				continue
			}
			s, err := standalone(defs, name, k, strict)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", name, err)
			}
			out[k.FileName()] = s
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no definition names a kind (x-kubernetes-group-version-kind)")
	}
	return out, nil
}

func kindsOf(def map[string]any) ([]gvk, error) {
	raw, ok := def["x-kubernetes-group-version-kind"]
	if !ok {
		return nil, nil
	}
	b, err := json.Marshal(raw)
	if err != nil {
		return nil, err
	}
	var kinds []gvk
	if err := json.Unmarshal(b, &kinds); err != nil {
		return nil, fmt.Errorf("x-kubernetes-group-version-kind: %w", err)
	}
	return kinds, nil
}

// standalone is the definition as a root schema, with every definition it
// reaches (recursion included) under "definitions", and apiVersion and kind
// pinned to this kind's values.
func standalone(defs map[string]map[string]any, name string, k gvk, strict bool) (map[string]any, error) {
	reached := map[string]bool{}
	var reach func(string) error
	reach = func(n string) error {
		if reached[n] {
			return nil
		}
		d, ok := defs[n]
		if !ok {
			return fmt.Errorf("$ref to missing definition %q", n)
		}
		reached[n] = true
		for _, r := range refs(d) {
			if err := reach(r); err != nil {
				return err
			}
		}
		return nil
	}
	if err := reach(name); err != nil {
		return nil, err
	}
	root := convertDef(defs, name, strict).(map[string]any)
	root["$schema"] = "http://json-schema.org/draft-07/schema#"
	if props, ok := root["properties"].(map[string]any); ok {
		props["apiVersion"] = map[string]any{"type": "string", "enum": []any{k.apiVersion()}}
		props["kind"] = map[string]any{"type": "string", "enum": []any{k.Kind}}
	}
	// Everything reached is referred to by something, except the root
	// itself unless a definition refers back to it.
	referred := map[string]bool{}
	for n := range reached {
		for _, r := range refs(defs[n]) {
			referred[r] = true
		}
	}
	sub := map[string]any{}
	for n := range reached {
		if referred[n] {
			sub[n] = convertDef(defs, n, strict)
		}
	}
	if len(sub) > 0 {
		root["definitions"] = sub
	}
	return root, nil
}

// quantity is resource.Quantity, a plain string in the OpenAPI document
// that YAML also writes as a number (cpu: 2).
const quantity = "io.k8s.apimachinery.pkg.api.resource.Quantity"

func convertDef(defs map[string]map[string]any, name string, strict bool) any {
	if name == quantity {
		return map[string]any{"oneOf": []any{map[string]any{"type": "string"}, map[string]any{"type": "number"}}}
	}
	return convert(defs[name], strict)
}

// refs lists the definitions a schema refers to directly.
func refs(v any) []string {
	var out []string
	var walk func(any)
	walk = func(v any) {
		switch t := v.(type) {
		case map[string]any:
			for k, x := range t {
				if s, ok := x.(string); ok && k == "$ref" {
					out = append(out, strings.TrimPrefix(s, refPrefix))
					continue
				}
				walk(x)
			}
		case []any:
			for _, x := range t {
				walk(x)
			}
		}
	}
	walk(v)
	return out
}

// convert rewrites one OpenAPI v2 schema as JSON Schema: it drops
// descriptions and x-kubernetes-* extensions (which are not validation),
// accepts both forms of int-or-string (8080, "http"), and in strict mode closes objects with known properties.
func convert(v any, strict bool) any {
	s, ok := v.(map[string]any)
	if !ok {
		return v
	}
	if ref, ok := s["$ref"].(string); ok {
		// Siblings of $ref are ignored by draft-07; keep the reference alone.
		return map[string]any{"$ref": ref}
	}
	if s["format"] == "int-or-string" || s["x-kubernetes-int-or-string"] == true {
		return map[string]any{"oneOf": []any{map[string]any{"type": "string"}, map[string]any{"type": "integer"}}}
	}
	out := map[string]any{}
	for k, x := range s {
		switch {
		case k == "description", strings.HasPrefix(k, "x-kubernetes-"):
		case k == "properties":
			props := map[string]any{}
			for name, p := range x.(map[string]any) {
				props[name] = convert(p, strict)
			}
			out[k] = props
		case k == "items", k == "additionalProperties", k == "not":
			out[k] = convert(x, strict)
		case k == "allOf", k == "anyOf", k == "oneOf":
			var list []any
			for _, p := range x.([]any) {
				list = append(list, convert(p, strict))
			}
			out[k] = list
		default:
			out[k] = x
		}
	}
	if strict && out["properties"] != nil && out["additionalProperties"] == nil && s["x-kubernetes-preserve-unknown-fields"] != true {
		out["additionalProperties"] = false
	}
	return out
}
