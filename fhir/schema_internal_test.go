package fhir

import (
	"encoding/json"
	"testing"
)

// Every resource type of R4 has its schema compiled up front (the compiler
// and the schema document are not kept for compiling on demand), and a
// name that is no definition of the schema has none.
func TestEveryResourceTypeIsCompiledOnce(t *testing.T) {
	var head struct {
		Discriminator struct {
			Mapping map[string]string `json:"mapping"`
		} `json:"discriminator"`
	}
	if err := json.Unmarshal(schemaJSON, &head); err != nil {
		t.Fatal(err)
	}
	if n := len(head.Discriminator.Mapping); n < 140 {
		t.Fatalf("the R4 schema names %d resource types, want the 146 of R4", n)
	}
	for typ := range head.Discriminator.Mapping {
		s, err := schemaFor(typ)
		if err != nil || s == nil {
			t.Errorf("schemaFor(%q) = %v, %v; want its schema", typ, s, err)
		}
	}
	for _, typ := range []string{"", "NotAType", "Patient/", "definitions", "Patient/../Encounter", "#"} {
		if s, err := schemaFor(typ); err != nil || s != nil {
			t.Errorf("schemaFor(%q) = %v, %v; want none", typ, s, err)
		}
	}
	// A type that nothing preloads is validated by its own schema.
	if _, err := Validate([]byte(`{"resourceType":"Basic","code":{"text":"x"}}`), "Basic", Limits{}); err != nil {
		t.Errorf("a valid Basic: %v", err)
	}
	if _, err := Validate([]byte(`{"resourceType":"Basic","code":{"text":"x"},"colour":"red"}`), "Basic", Limits{}); err == nil {
		t.Error("a Basic with an unknown element was accepted")
	}
}

func TestJSONPointerEscape(t *testing.T) {
	for in, want := range map[string]string{"Patient": "Patient", "a/b": "a~1b", "a~b": "a~0b", "~/": "~0~1"} {
		if got := jsonPointerEscape(in); got != want {
			t.Errorf("jsonPointerEscape(%q) = %q, want %q", in, got, want)
		}
	}
}
