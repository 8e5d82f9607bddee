package gateway_test

import (
	"net/http"
	"path/filepath"
	"strings"
	"testing"
)

func walkthrough(t *testing.T) map[string]any {
	t.Helper()
	return loadJSON(t, filepath.Join("..", "mappings", "testdata", "walkthrough-bundle.json"))
}

func TestCaseFromWalkthroughBundle(t *testing.T) {
	e := newEnv(t)
	r := e.do("POST", "/fhir", walkthrough(t)).mustStatus(t, http.StatusOK)
	var encID string
	for _, en := range r.json["entry"].([]any) {
		loc := str(en, "response", "location")
		if strings.HasPrefix(loc, "Encounter/") {
			encID = strings.Split(strings.TrimPrefix(loc, "Encounter/"), "/")[0]
		}
	}
	if encID == "" {
		t.Fatalf("no Encounter in %s", r.body)
	}
	c := e.do("GET", "/api/v1/cases/"+encID, nil).mustStatus(t, http.StatusOK)
	if !strings.HasPrefix(c.header.Get("Content-Type"), "application/json") {
		t.Fatalf("Content-Type %q", c.header.Get("Content-Type"))
	}
	cs, _ := c.json["case"].(map[string]any)
	if cs == nil {
		t.Fatalf("no case: %s", c.body)
	}
	if str(cs, "trust") != "RXX" || str(cs, "patient", "nhsNumber") != "9476719931" || str(cs, "patient", "homeOutcode") != "M14" {
		t.Fatalf("case %v", cs)
	}
	if cs["pathway"] != float64(3) || str(cs, "dischargeReadyDate") != "2026-11-18" || str(cs, "expectedDischargeDate") != "2026-11-20" {
		t.Fatalf("case dates/pathway %v", cs)
	}
	needs, _ := c.json["careNeeds"].([]any)
	if len(needs) != 1 {
		t.Fatalf("care needs %v", c.json["careNeeds"])
	}
	if str(needs[0], "caseId") != encID || str(needs[0], "setting") == "" {
		t.Fatalf("need %v", needs[0])
	}

	e.do("GET", "/api/v1/cases/nope", nil).mustStatus(t, http.StatusNotFound)
}

func TestNotADischargeMatterIsStoredWithWarning(t *testing.T) {
	e := newEnv(t)
	pat := e.do("POST", "/fhir/Patient", fixture(t, "patient.json")).mustStatus(t, http.StatusCreated)
	patRef := "Patient/" + str(pat.json, "id")
	outpatient := map[string]any{"resourceType": "Encounter", "status": "finished",
		"class":   map[string]any{"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
		"subject": map[string]any{"reference": patRef}}
	r := e.do("POST", "/fhir/Encounter", outpatient, "Prefer", "return=OperationOutcome").mustStatus(t, http.StatusCreated)
	if !r.hasIssue("business-rule", "Encounter.class") || str(r.json, "issue", 0, "severity") != "warning" {
		t.Fatalf("%s", r.body)
	}
	if r.header.Get("Warning") == "" {
		t.Fatal("no Warning header")
	}
	id := strings.Split(strings.TrimPrefix(r.header.Get("Location"), e.srv.URL+"/fhir/Encounter/"), "/")[0]
	c := e.do("GET", "/api/v1/cases/"+id, nil).mustStatus(t, http.StatusOK)
	if c.json["case"] != nil || !strings.Contains(string(c.body), "Encounter.class") {
		t.Fatalf("%s", c.body)
	}

	// A CT scan is valid FHIR but not post-discharge care.
	ct := map[string]any{"resourceType": "ServiceRequest", "status": "active", "intent": "order",
		"code":    map[string]any{"coding": []any{map[string]any{"system": "http://snomed.info/sct", "code": "77477000", "display": "Computerized axial tomography"}}},
		"subject": map[string]any{"reference": patRef}}
	r = e.do("POST", "/fhir/ServiceRequest", ct, "Prefer", "return=OperationOutcome").mustStatus(t, http.StatusCreated)
	if !r.hasIssue("business-rule", "ServiceRequest.code") {
		t.Fatalf("%s", r.body)
	}
}

func TestUnknownRequirementCodeIsRejected(t *testing.T) {
	e := newEnv(t)
	b := walkthrough(t)
	for _, en := range b["entry"].([]any) {
		res := en.(map[string]any)["resource"].(map[string]any)
		if res["resourceType"] == "ServiceRequest" {
			res["orderDetail"] = []any{map[string]any{"coding": []any{map[string]any{
				"system": "https://fhir.rxx-trust.example/CodeSystem/local-care-codes", "code": "NO-SUCH-NEED"}}}}
		}
	}
	r := e.do("POST", "/fhir", b)
	if r.status < 400 || r.status >= 500 {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	code, ex := r.issue(t)
	if code != "code-invalid" || !strings.HasPrefix(ex, "Bundle.entry[2].resource.orderDetail[0]") {
		t.Fatalf("%s at %s: %s", code, ex, r.body)
	}
	if s := e.do("GET", "/fhir/Patient", nil); num(s.json, "total") != 0 {
		t.Fatal("the failed transaction stored a Patient")
	}
}

func TestTerminologyIsPublished(t *testing.T) {
	e := newEnv(t)
	cs := e.do("GET", "/fhir/CodeSystem", nil).mustStatus(t, http.StatusOK)
	if num(cs.json, "total") < 4 {
		t.Fatalf("code systems: %s", cs.body)
	}
	url := str(cs.json, "entry", 0, "resource", "url")
	byURL := e.do("GET", "/fhir/CodeSystem?url="+url, nil).mustStatus(t, http.StatusOK)
	if num(byURL.json, "total") != 1 {
		t.Fatalf("by url: %s", byURL.body)
	}
	id := str(cs.json, "entry", 0, "resource", "id")
	one := e.do("GET", "/fhir/CodeSystem/"+id, nil).mustStatus(t, http.StatusOK)
	concepts, _ := one.json["concept"].([]any)
	if len(concepts) == 0 || str(concepts[0], "display") == "" || str(concepts[0], "definition") == "" {
		t.Fatalf("concepts need display and definition: %s", one.body)
	}
	cm := e.do("GET", "/fhir/ConceptMap", nil).mustStatus(t, http.StatusOK)
	if num(cm.json, "total") < 3 {
		t.Fatalf("concept maps: %s", cm.body)
	}
	e.do("GET", "/fhir/ConceptMap/no-such-map", nil).mustStatus(t, http.StatusNotFound)

	tr := e.do("GET", "/fhir/ConceptMap/$translate?system=https://fhir.rxx-trust.example/CodeSystem/local-care-codes&code=NH-DEM", nil).
		mustStatus(t, http.StatusOK)
	if str(tr.json, "resourceType") != "Parameters" || !strings.Contains(string(tr.body), `"valueBoolean":true`) ||
		!strings.Contains(string(tr.body), "nursing-dementia") {
		t.Fatalf("translate: %s", tr.body)
	}
	no := e.do("GET", "/fhir/ConceptMap/$translate?system=http://snomed.info/sct&code=1", nil).mustStatus(t, http.StatusOK)
	if !strings.Contains(string(no.body), `"valueBoolean":false`) {
		t.Fatalf("translate unknown: %s", no.body)
	}
	missing := e.do("GET", "/fhir/ConceptMap/$translate?system=http://snomed.info/sct", nil).mustStatus(t, http.StatusBadRequest)
	if code, ex := missing.issue(t); code != "required" || ex != "code" {
		t.Fatalf("%s %s", code, ex)
	}
	post := e.do("POST", "/fhir/ConceptMap/$translate", map[string]any{"resourceType": "Parameters", "parameter": []any{
		map[string]any{"name": "system", "valueUri": "https://fhir.rxx-trust.example/CodeSystem/local-care-codes"},
		map[string]any{"name": "code", "valueCode": "NH-DEM"}}}).mustStatus(t, http.StatusOK)
	if !strings.Contains(string(post.body), `"valueBoolean":true`) {
		t.Fatalf("POST translate: %s", post.body)
	}
}

func TestCapabilityStatementListsOnlyWhatExists(t *testing.T) {
	e := newEnv(t)
	m := e.do("GET", "/fhir/metadata", nil).mustStatus(t, http.StatusOK)
	if str(m.json, "kind") != "instance" || str(m.json, "fhirVersion") != "4.0.1" {
		t.Fatalf("%s", m.body)
	}
	rest := m.json["rest"].([]any)[0].(map[string]any)
	for _, r := range rest["resource"].([]any) {
		typ := str(r, "type")
		for _, in := range r.(map[string]any)["interaction"].([]any) {
			code := str(in, "code")
			var method, path string
			switch code {
			case "read":
				method, path = "GET", "/fhir/"+typ+"/probe-id"
			case "search-type":
				method, path = "GET", "/fhir/"+typ
				if typ == "AuditEvent" {
					continue // admin only: covered by TestAuditTrail
				}
			case "vread":
				method, path = "GET", "/fhir/"+typ+"/probe-id/_history/1"
			case "history-instance":
				method, path = "GET", "/fhir/"+typ+"/probe-id/_history"
			case "create":
				method, path = "POST", "/fhir/"+typ
			case "update":
				method, path = "PUT", "/fhir/"+typ+"/probe-id"
			default:
				t.Fatalf("%s lists interaction %s that this test does not know", typ, code)
			}
			got := e.do(method, path, `{}`)
			if got.status == http.StatusNotFound && !strings.Contains(string(got.body), typ) || got.status == http.StatusMethodNotAllowed {
				t.Fatalf("%s %s listed but not routed: %d %s", method, path, got.status, got.body)
			}
		}
		sps, _ := r.(map[string]any)["searchParam"].([]any)
		for _, sp := range sps {
			name := str(sp, "name")
			got := e.do("GET", "/fhir/"+typ+"?"+name+"=x", nil, "Prefer", "handling=strict")
			if got.status == http.StatusBadRequest && got.hasIssue("not-supported", name) {
				t.Fatalf("%s?%s listed but rejected as unknown", typ, name)
			}
		}
	}
}
