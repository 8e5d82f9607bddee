package gateway_test

import (
	"net/http"
	"strings"
	"testing"
)

// TestStrictMediaTypes: a body in a charset other than UTF-8, or of a FHIR
// version other than R4, is refused (415) rather than misread, and a
// response in another FHIR version cannot be asked for (406).
func TestStrictMediaTypes(t *testing.T) {
	e := newEnv(t)
	const pat = `{"resourceType":"Patient","gender":"female"}`
	tests := []struct {
		name    string
		method  string
		path    string
		headers []string
		status  int
		code    string
	}{
		{"charset utf-8", "POST", "/fhir/Patient", []string{"Content-Type", "application/fhir+json; charset=utf-8"}, http.StatusCreated, ""},
		{"charset UTF-8 any case", "POST", "/fhir/Patient", []string{"Content-Type", "application/fhir+json;charset=UTF-8"}, http.StatusCreated, ""},
		{"charset latin-1", "POST", "/fhir/Patient", []string{"Content-Type", "application/fhir+json; charset=iso-8859-1"}, http.StatusUnsupportedMediaType, "not-supported"},
		{"charset utf-16 plain JSON", "POST", "/fhir/Patient", []string{"Content-Type", "application/json; charset=utf-16"}, http.StatusUnsupportedMediaType, "not-supported"},
		{"charset on a transaction", "POST", "/fhir", []string{"Content-Type", "application/fhir+json; charset=windows-1252"}, http.StatusUnsupportedMediaType, "not-supported"},
		{"fhirVersion 4.0", "POST", "/fhir/Patient", []string{"Content-Type", "application/fhir+json; fhirVersion=4.0"}, http.StatusCreated, ""},
		{"fhirVersion 4.0.1", "POST", "/fhir/Patient", []string{"Content-Type", "application/fhir+json; fhirVersion=4.0.1"}, http.StatusCreated, ""},
		{"fhirVersion 3.0", "POST", "/fhir/Patient", []string{"Content-Type", "application/fhir+json; fhirVersion=3.0"}, http.StatusUnsupportedMediaType, "not-supported"},
		{"fhirVersion 5.0", "POST", "/fhir/Patient", []string{"Content-Type", "application/fhir+json; fhirVersion=5.0; charset=utf-8"}, http.StatusUnsupportedMediaType, "not-supported"},
		{"accept fhirVersion 4.0", "GET", "/fhir/Patient", []string{"Accept", "application/fhir+json; fhirVersion=4.0"}, http.StatusOK, ""},
		{"accept fhirVersion 3.0", "GET", "/fhir/Patient", []string{"Accept", "application/fhir+json; fhirVersion=3.0"}, http.StatusNotAcceptable, "not-supported"},
		{"accept fhirVersion 3.0 or R4", "GET", "/fhir/Patient", []string{"Accept", "application/fhir+json; fhirVersion=3.0, application/fhir+json; fhirVersion=4.0; q=0.5"}, http.StatusOK, ""},
		{"metadata accept fhirVersion 5.0", "GET", "/fhir/metadata", []string{"Accept", "application/fhir+json; fhirVersion=5.0"}, http.StatusNotAcceptable, "not-supported"},
		{"_format fhirVersion 3.0", "GET", "/fhir/Patient?_format=" + "application/fhir%2Bjson%3B%20fhirVersion%3D3.0", nil, http.StatusNotAcceptable, "not-supported"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var body any
			if tc.method == "POST" {
				body = pat
				if tc.path == "/fhir" {
					body = `{"resourceType":"Bundle","type":"batch","entry":[]}`
				}
			}
			r := e.do(tc.method, tc.path, body, tc.headers...).mustStatus(t, tc.status)
			if tc.code != "" {
				if code, _ := r.issue(t); code != tc.code {
					t.Fatalf("code %q, want %q: %s", code, tc.code, r.body)
				}
			}
		})
	}
}

// TestStrictText: control characters and unpaired surrogates are refused
// with the element named, over HTTP, before anything is stored.
func TestStrictText(t *testing.T) {
	e := newEnv(t)
	for name, body := range map[string]string{
		"control":   `{"resourceType":"Patient","name":[{"family":"A\u0007B"}]}`,
		"surrogate": `{"resourceType":"Patient","name":[{"family":"A\uDBFFB"}]}`,
	} {
		t.Run(name, func(t *testing.T) {
			r := e.do("POST", "/fhir/Patient", body).mustStatus(t, http.StatusBadRequest)
			if !r.hasIssue("value", "Patient.name[0].family") {
				t.Fatalf("no value issue at Patient.name[0].family: %s", r.body)
			}
		})
	}
	r := e.do("GET", "/fhir/Patient", nil).mustStatus(t, http.StatusOK)
	if n := num(r.json, "total"); n != 0 {
		t.Fatalf("%v patients stored", n)
	}
}

// TestReferenceTypes: a reference to a resource of a type R4 does not allow
// for the element is refused with its exact path, literal or urn:uuid.
func TestReferenceTypes(t *testing.T) {
	e := newEnv(t)
	const cls = `"class":{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","code":"IMP"}`
	t.Run("literal", func(t *testing.T) {
		r := e.do("POST", "/fhir/Encounter", `{"resourceType":"Encounter","status":"in-progress",`+cls+`,"subject":{"reference":"Encounter/x"}}`).
			mustStatus(t, http.StatusBadRequest)
		if !r.hasIssue("value", "Encounter.subject.reference") {
			t.Fatalf("%s", r.body)
		}
	})
	t.Run("urn:uuid to the entry itself", func(t *testing.T) {
		const self = "urn:uuid:4d9a1c52-8a0e-4f0b-9d0e-0c1f7b7e2a01"
		r := e.do("POST", "/fhir", `{"resourceType":"Bundle","type":"transaction","entry":[{"fullUrl":"`+self+`",`+
			`"resource":{"resourceType":"Encounter","status":"in-progress",`+cls+`,"subject":{"reference":"`+self+`"}},`+
			`"request":{"method":"POST","url":"Encounter"}}]}`).mustStatus(t, http.StatusBadRequest)
		if !r.hasIssue("value", "Bundle.entry[0].resource.subject.reference") {
			t.Fatalf("%s", r.body)
		}
	})
	t.Run("urn:uuid to another entry of the wrong type", func(t *testing.T) {
		b := fixture(t, "bundle.json")
		entries := b["entry"].([]any)
		// The ServiceRequest's encounter points at the Patient entry.
		sr := entries[2].(map[string]any)["resource"].(map[string]any)
		sr["encounter"] = map[string]any{"reference": entries[0].(map[string]any)["fullUrl"]}
		r := e.do("POST", "/fhir", b).mustStatus(t, http.StatusBadRequest)
		if !r.hasIssue("value", "Bundle.entry[2].resource.encounter.reference") {
			t.Fatalf("%s", r.body)
		}
		if s := e.do("GET", "/fhir/Encounter", nil).mustStatus(t, http.StatusOK); num(s.json, "total") != 0 {
			t.Fatalf("a refused transaction wrote: %s", s.body)
		}
	})
	t.Run("the walk-through bundle still passes", func(t *testing.T) {
		e.do("POST", "/fhir", fixture(t, "bundle.json")).mustStatus(t, http.StatusOK)
	})
	if strings.Contains(e.logs.String(), "Encounter/x") {
		t.Fatal("a reference reached the logs")
	}
}

// TestInvalidCodePrecise: a bad code is one code-invalid issue at its
// element, inside a Bundle entry or a Parameters resource too, never a
// vague issue at the root or one per alternative resource type.
func TestInvalidCodePrecise(t *testing.T) {
	e := newEnv(t)
	const sr = `{"resourceType":"ServiceRequest","status":"bogus","intent":"order","subject":{"reference":"Patient/1"}}`
	tests := []struct {
		name, path, body, expr string
	}{
		{"create", "/fhir/Encounter", `{"resourceType":"Encounter","status":"bogus","class":{"code":"IMP"},"subject":{"reference":"Patient/1"}}`, "Encounter.status"},
		{"service request status (no enum in HL7's schema)", "/fhir/ServiceRequest", sr, "ServiceRequest.status"},
		{"status history", "/fhir/Encounter", `{"resourceType":"Encounter","status":"finished","statusHistory":[{"status":"bogus","period":{"start":"2026-01-01"}}],"class":{"code":"IMP"},"subject":{"reference":"Patient/1"}}`, "Encounter.statusHistory[0].status"},
		{"transaction entry", "/fhir", `{"resourceType":"Bundle","type":"transaction","entry":[{"resource":{"resourceType":"Patient","gender":"bogus"},"request":{"method":"POST","url":"Patient"}}]}`, "Bundle.entry[0].resource.gender"},
		{"operation parameter", "/fhir/ServiceRequest/$placement-options", `{"resourceType":"Parameters","parameter":[{"name":"serviceRequest","resource":` + sr + `}]}`, "Parameters.parameter[0].resource.status"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do("POST", tc.path, tc.body).mustStatus(t, http.StatusBadRequest)
			issues, _ := r.json["issue"].([]any)
			if len(issues) != 1 || !r.hasIssue("code-invalid", tc.expr) {
				t.Fatalf("want one code-invalid issue at %s: %s", tc.expr, r.body)
			}
			if !strings.Contains(str(r.json, "issue", 0, "diagnostics"), "allowed codes are") {
				t.Fatalf("the allowed codes are not listed: %s", r.body)
			}
		})
	}
}
