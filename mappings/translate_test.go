package mappings_test

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/mappings"
)

func TestDecodeTranslateParameters(t *testing.T) {
	const sys = "https://fhir.rxx-trust.example/CodeSystem/local-care-codes"
	for _, tc := range []struct {
		name, body string
		want       mappings.TranslateRequest
		// wantAt is the expression of a KindNotSupported refusal.
		wantAt string
	}{
		{"system and code", `{"resourceType":"Parameters","parameter":[{"name":"system","valueUri":"` + sys + `"},{"name":"code","valueCode":"NH-DEM"}]}`,
			mappings.TranslateRequest{System: sys, Code: "NH-DEM"}, ""},
		{"coding", `{"parameter":[{"name":"coding","valueCoding":{"system":"` + sys + `","code":"NH-DEM"}}]}`,
			mappings.TranslateRequest{System: sys, Code: "NH-DEM"}, ""},
		{"url, canonical system, string code, target then targetsystem",
			`{"parameter":[{"name":"url","valueUri":"u"},{"name":"system","valueCanonical":"s"},{"name":"code","valueString":"c"},` +
				`{"name":"target","valueUri":"t"},{"name":"targetsystem","valueUri":"ts"}]}`,
			mappings.TranslateRequest{URL: "u", System: "s", Code: "c", Target: "ts"}, ""},
		{"of two string values the later listed wins", `{"parameter":[{"name":"system","valueUri":"x","valueString":"y"}]}`,
			mappings.TranslateRequest{System: "y"}, ""},
		{"a value of another type leaves it empty", `{"parameter":[{"name":"system","valueBoolean":true},{"name":"code","valueCode":"c"}]}`,
			mappings.TranslateRequest{Code: "c"}, ""},
		{"a later parameter overrides coding", `{"parameter":[{"name":"coding","valueCoding":{"system":"a","code":"c"}},{"name":"system","valueUri":"b"}]}`,
			mappings.TranslateRequest{System: "b", Code: "c"}, ""},
		{"no parameters", `{"resourceType":"Parameters"}`, mappings.TranslateRequest{}, ""},
		{"coding without valueCoding", `{"parameter":[{"name":"code","valueCode":"c"},{"name":"coding","valueString":"x"}]}`,
			mappings.TranslateRequest{}, "Parameters.parameter[1].name"},
		{"unknown name", `{"parameter":[{"name":"bogus","valueString":"x"}]}`, mappings.TranslateRequest{}, "Parameters.parameter[0].name"},
		{"no name", `{"parameter":[{"valueString":"x"}]}`, mappings.TranslateRequest{}, "Parameters.parameter[0].name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := mappings.DecodeTranslateParameters([]byte(tc.body))
			if tc.wantAt != "" {
				var de *discharge.Error
				if !errors.As(err, &de) || de.Kind != discharge.KindNotSupported || de.Issues[0].Expression != tc.wantAt {
					t.Fatalf("err %v, want not-supported at %s", err, tc.wantAt)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
	if _, err := mappings.DecodeTranslateParameters([]byte(`[]`)); discharge.ErrorKind(err) != discharge.KindStructure {
		t.Errorf("not an object: %v", err)
	}
}

// The answer's bytes are those the gateway wrote before the rendering moved
// here (from map literals): key order, and empty values kept.
func TestTranslateResponseBytes(t *testing.T) {
	for _, tc := range []struct {
		name    string
		matches []mappings.Match
		want    string
	}{
		{"no match", nil,
			`{"parameter":[{"name":"result","valueBoolean":false},{"name":"message","valueString":"No loaded ConceptMap translates this code."}],"resourceType":"Parameters"}`},
		{"one that maps", []mappings.Match{{Equivalence: "equivalent", System: "https://s", Target: discharge.Concept{Code: "c", Display: "C & <d>"}, ConceptMapURL: "https://m"}},
			`{"parameter":[{"name":"result","valueBoolean":true},{"name":"match","part":[{"name":"equivalence","valueCode":"equivalent"},` +
				`{"name":"concept","valueCoding":{"code":"c","display":"C \u0026 \u003cd\u003e","system":"https://s"}},{"name":"source","valueUri":"https://m"}]}],"resourceType":"Parameters"}`},
		{"disjoint and empty: reported, not a yes", []mappings.Match{{Equivalence: "disjoint"}, {}},
			`{"parameter":[{"name":"result","valueBoolean":false},{"name":"message","valueString":"No loaded ConceptMap translates this code."},` +
				`{"name":"match","part":[{"name":"equivalence","valueCode":"disjoint"},{"name":"concept","valueCoding":{"code":"","display":"","system":""}},{"name":"source","valueUri":""}]},` +
				`{"name":"match","part":[{"name":"equivalence","valueCode":""},{"name":"concept","valueCoding":{"code":"","display":"","system":""}},{"name":"source","valueUri":""}]}],"resourceType":"Parameters"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := mappings.TranslateResponse(tc.matches)
			if string(got) != tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
			if !json.Valid(got) {
				t.Error("not JSON")
			}
		})
	}
}

// FuzzDecodeTranslateParameters: no body makes the $translate reader panic,
// and every refusal names a parameter.
func FuzzDecodeTranslateParameters(f *testing.F) {
	for _, s := range []string{`{"parameter":[{"name":"system","valueUri":"s"},{"name":"code","valueCode":"c"}]}`,
		`{"parameter":[{"name":"coding","valueCoding":{"system":1,"code":null}}]}`, `{"parameter":[{"name":"coding","valueCoding":null}]}`,
		`{"parameter":[{"name":1}]}`, `{"parameter":null}`, `[]`, ``} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		_, err := mappings.DecodeTranslateParameters(b)
		var de *discharge.Error
		if err != nil && (!errors.As(err, &de) || len(de.Issues) == 0 || de.Issues[0].Expression == "") {
			t.Fatalf("%v", err)
		}
	})
}
