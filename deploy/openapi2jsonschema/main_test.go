package main

import (
	"encoding/json"
	"testing"
)

// definitions is a miniature of the Kubernetes OpenAPI document: a kind that
// reaches a nested object, an int-or-string, a quantity and a recursive
// definition.
const definitions = `{
  "io.k8s.api.apps.v1.Widget": {
    "x-kubernetes-group-version-kind": [{"group": "apps", "version": "v1", "kind": "Widget"}],
    "description": "A widget.",
    "type": "object",
    "properties": {
      "apiVersion": {"type": "string"},
      "kind": {"type": "string"},
      "spec": {"$ref": "#/definitions/io.k8s.api.apps.v1.WidgetSpec", "description": "dropped"}
    }
  },
  "io.k8s.api.apps.v1.WidgetSpec": {
    "type": "object",
    "properties": {
      "port": {"$ref": "#/definitions/io.k8s.apimachinery.pkg.util.intstr.IntOrString"},
      "cpu": {"$ref": "#/definitions/io.k8s.apimachinery.pkg.api.resource.Quantity"},
      "labels": {"type": "object", "additionalProperties": {"type": "string"}},
      "free": {"type": "object", "properties": {"a": {"type": "string"}}, "x-kubernetes-preserve-unknown-fields": true},
      "tree": {"$ref": "#/definitions/io.k8s.api.apps.v1.Tree"}
    }
  },
  "io.k8s.api.apps.v1.Tree": {
    "type": "object",
    "properties": {"children": {"type": "array", "items": {"$ref": "#/definitions/io.k8s.api.apps.v1.Tree"}}}
  },
  "io.k8s.apimachinery.pkg.util.intstr.IntOrString": {"type": "string", "format": "int-or-string"},
  "io.k8s.apimachinery.pkg.api.resource.Quantity": {"type": "string"},
  "io.k8s.api.core.v1.Gadget": {
    "x-kubernetes-group-version-kind": [{"group": "", "version": "v1", "kind": "Gadget"}],
    "type": "object",
    "properties": {"kind": {"type": "string"}}
  }
}`

func TestConvert(t *testing.T) {
	var defs map[string]map[string]any
	if err := json.Unmarshal([]byte(definitions), &defs); err != nil {
		t.Fatal(err)
	}
	strict, err := Convert(defs, true)
	if err != nil {
		t.Fatal(err)
	}
	loose, err := Convert(defs, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(strict) != 2 || strict["widget-apps-v1.json"] == nil || strict["gadget-v1.json"] == nil {
		t.Fatalf("files: %v", keys(strict))
	}
	widget := strict["widget-apps-v1.json"]
	defsOf := widget["definitions"].(map[string]any)
	spec := defsOf["io.k8s.api.apps.v1.WidgetSpec"].(map[string]any)
	props := spec["properties"].(map[string]any)
	for _, tc := range []struct {
		name string
		got  any
		want string
	}{
		{"root closed", widget["additionalProperties"], `false`},
		{"nested closed", spec["additionalProperties"], `false`},
		{"loose stays open", loose["widget-apps-v1.json"]["additionalProperties"], `null`},
		{"map keeps its value schema", props["labels"].(map[string]any)["additionalProperties"], `{"type":"string"}`},
		{"preserve-unknown-fields stays open", props["free"].(map[string]any)["additionalProperties"], `null`},
		{"kind pinned", widget["properties"].(map[string]any)["kind"], `{"enum":["Widget"],"type":"string"}`},
		{"core apiVersion pinned", strict["gadget-v1.json"]["properties"].(map[string]any)["apiVersion"], `{"enum":["v1"],"type":"string"}`},
		{"$ref siblings dropped", widget["properties"].(map[string]any)["spec"], `{"$ref":"#/definitions/io.k8s.api.apps.v1.WidgetSpec"}`},
		{"int-or-string", defsOf["io.k8s.apimachinery.pkg.util.intstr.IntOrString"], `{"oneOf":[{"type":"string"},{"type":"integer"}]}`},
		{"quantity", defsOf["io.k8s.apimachinery.pkg.api.resource.Quantity"], `{"oneOf":[{"type":"string"},{"type":"number"}]}`},
		{"recursion kept", defsOf["io.k8s.api.apps.v1.Tree"].(map[string]any)["properties"], `{"children":{"items":{"$ref":"#/definitions/io.k8s.api.apps.v1.Tree"},"type":"array"}}`},
		{"descriptions dropped", widget["description"], `null`},
		{"root not under definitions", defsOf["io.k8s.api.apps.v1.Widget"], `null`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, _ := json.Marshal(tc.got)
			if string(b) != tc.want {
				t.Errorf("got %s, want %s", b, tc.want)
			}
		})
	}
}

func TestConvertRefusesADanglingRef(t *testing.T) {
	defs := map[string]map[string]any{
		"io.k8s.api.core.v1.Thing": {
			"x-kubernetes-group-version-kind": []any{map[string]any{"group": "", "version": "v1", "kind": "Thing"}},
			"properties":                      map[string]any{"x": map[string]any{"$ref": "#/definitions/missing"}},
		},
	}
	if _, err := Convert(defs, true); err == nil {
		t.Fatal("a $ref to a missing definition converted without error")
	}
}

func keys(m map[string]map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
