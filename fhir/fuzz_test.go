package fhir_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/fhir"
)

// seedFiles adds every JSON file of the shared example folders to a fuzz
// corpus, when they are present.
func seedFiles(f *testing.F) {
	for _, sub := range []string{"hl7-r4", "uk-core-json", "invalid", "bars"} {
		dir := filepath.Join("..", "..", "shared", "fhir-examples", sub)
		names, _ := filepath.Glob(filepath.Join(dir, "*.json"))
		for _, n := range names {
			if raw, err := os.ReadFile(n); err == nil && len(raw) < 64<<10 {
				f.Add(raw)
			}
		}
	}
	for _, s := range []string{`{}`, `[]`, `{"resourceType":"Patient"}`, `{"resourceType":"Bundle","entry":[{"resource":{}}]}`,
		`{"resourceType":"Encounter","contained":[{"resourceType":"Patient","x":1}]}`, `{"a":` + "\x00" + `}`,
		// Bad codes, bad text and nested resources in every inline place.
		`{"resourceType":"Encounter","status":"bogus","statusHistory":[{"status":"x"}]}`,
		`{"resourceType":"Patient","name":[{"family":"a\u0001\uD800\b\f","given":["\uDC00\uD83D\uDE00"]}],"gen\u0000der":"x"}`,
		"{\"resourceType\":\"Patient\",\"name\":[{\"family\":\"\xff\xfe\"}]}",
		`{"resourceType":"Patient","text":"\\u0001\\\u0001\uD800\u"}`,
		`{"resourceType":"Parameters","parameter":[{"name":"p","resource":{"resourceType":"Patient","gender":"x"},"part":[{"resource":5},{"resource":{}}]}]}`,
		`{"resourceType":"Bundle","entry":[{"resource":7,"response":{"outcome":{"resourceType":"OperationOutcome"}}},{"response":{"outcome":[]}}]}`,
		`{"resourceType":"Encounter","status":"finished","class":{"code":"IMP"},"subject":{"reference":"Encounter/1"},"serviceProvider":{"reference":"http://x/fhir/Patient/2"}}`,
		`{"resourceType":"ServiceRequest","status":"active","intent":"order","subject":{"reference":"#p"},"encounter":{"reference":"Patient/x/_history/1"}}`,
		`{"resourceType":"ServiceRequest","status":"x","intent":["order"],"priority":{"a":1},"subject":{"reference":"#","type":"Patient/"},"requester":{"reference":"?x"}}`,
		`{"resourceType":"MeasureReport","status":"bogus","type":"summary","contained":[{"resourceType":"ServiceRequest","status":"x"}]}`} {
		f.Add([]byte(s))
	}
}

// FuzzValidate: no input panics, and every rejection is a *discharge.Error
// of a 4xx kind whose issues name an element (syntax errors excepted).
func FuzzValidate(f *testing.F) {
	seedFiles(f)
	f.Fuzz(func(t *testing.T, raw []byte) {
		_, err := fhir.Validate(raw, "", fhir.Limits{MaxDepth: 32, MaxBundleEntries: 50})
		if err == nil {
			return
		}
		var de *discharge.Error
		if !errors.As(err, &de) {
			t.Fatalf("not a discharge.Error: %T %v", err, err)
		}
		if de.Kind == discharge.KindInternal || len(de.Issues) == 0 {
			t.Fatalf("internal or empty: %v", err)
		}
		for _, is := range de.Issues {
			if is.Expression == "" && is.Kind != discharge.KindStructure {
				t.Fatalf("issue without expression: %+v", is)
			}
		}
	})
}

// FuzzParseSearchValue: no query value panics; errors name the parameter.
func FuzzParseSearchValue(f *testing.F) {
	for _, s := range []string{"ge2026-01-01", "2026", "lt2026-11-24T12:00:00Z", "sys|val", "|x", "Patient/1", "http://a/b/Patient/2", "a\\,b,c", "", "zz"} {
		f.Add(s)
	}
	params := append(append(fhir.SearchParams("Encounter"), fhir.SearchParams("ServiceRequest")...), fhir.SearchParams("Patient")...)
	f.Fuzz(func(t *testing.T, v string) {
		for _, p := range params {
			_, err := fhir.ParseSearchValue(p, v)
			if err == nil {
				continue
			}
			var de *discharge.Error
			if !errors.As(err, &de) || de.Issues[0].Expression != p.Name {
				t.Fatalf("%s=%q: %v", p.Name, v, err)
			}
		}
	})
}
