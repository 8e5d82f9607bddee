package gateway_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/dischargegateway/gateway/auth"
)

// In a batch each entry stands alone: an entry that is not valid FHIR gets
// its own 400 with an OperationOutcome at its place in the Bundle, GET
// entries are read and searched, and the valid entries still run. A
// transaction with the same bad entry stays all-or-nothing.
func TestBatchEntriesStandAlone(t *testing.T) {
	e := newEnv(t)
	stored := e.do("POST", "/fhir/Patient", fixture(t, "patient.json")).mustStatus(t, http.StatusCreated)
	id := str(stored.json, "id")
	bogus := fixture(t, "patient.json")
	bogus["gender"] = "bogus"
	unknown := fixture(t, "patient.json")
	unknown["favouriteColour"] = "blue"
	other := fixture(t, "patient.json")
	other["identifier"] = []any{map[string]any{"system": "https://example.org/mrn", "value": "batch-1"}}
	post := func(res map[string]any) map[string]any {
		return map[string]any{"resource": res, "request": map[string]any{"method": "POST", "url": "Patient"}}
	}
	get := func(u string) map[string]any {
		return map[string]any{"request": map[string]any{"method": "GET", "url": u}}
	}
	entries := []any{
		post(other),
		post(bogus),
		post(unknown),
		get("Patient/" + id),
		get("Patient?identifier=" + url.QueryEscape("https://fhir.nhs.uk/Id/nhs-number|9476719931")),
		get("Patient/does-not-exist"),
	}
	r := e.do("POST", "/fhir", map[string]any{"resourceType": "Bundle", "type": "batch", "entry": entries}).mustStatus(t, http.StatusOK)
	if str(r.json, "type") != "batch-response" {
		t.Fatalf("type %q", str(r.json, "type"))
	}
	tests := []struct {
		entry      int
		status     string
		code, expr string // the outcome's issue, for a failed entry
		resource   string // the resourceType returned, for a GET
	}{
		{0, "201", "", "", ""},
		{1, "400", "code-invalid", "Bundle.entry[1].resource.gender", ""},
		{2, "400", "structure", "Bundle.entry[2].resource.favouriteColour", ""},
		{3, "200", "", "", "Patient"},
		{4, "200", "", "", "Bundle"},
		{5, "404", "not-found", "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.status+" "+tc.expr, func(t *testing.T) {
			en := r.json["entry"].([]any)[tc.entry]
			if st := str(en, "response", "status"); !strings.HasPrefix(st, tc.status) {
				t.Fatalf("entry %d status %q, want %s: %s", tc.entry, st, tc.status, r.body)
			}
			if tc.code != "" {
				out := resp{json: en.(map[string]any)["response"].(map[string]any)["outcome"].(map[string]any)}
				if str(out.json, "resourceType") != "OperationOutcome" {
					t.Fatalf("entry %d has no outcome", tc.entry)
				}
				if tc.expr != "" && !out.hasIssue(tc.code, tc.expr) {
					t.Fatalf("entry %d: want %s at %s: %v", tc.entry, tc.code, tc.expr, out.json)
				}
				if tc.expr == "" {
					if code, _ := out.issue(t); code != tc.code {
						t.Fatalf("entry %d: code %q, want %s", tc.entry, code, tc.code)
					}
				}
			}
			if tc.resource != "" && str(en, "resource", "resourceType") != tc.resource {
				t.Fatalf("entry %d resource %q, want %s", tc.entry, str(en, "resource", "resourceType"), tc.resource)
			}
		})
	}
	if got := str(r.json, "entry", 3, "resource", "id"); got != id {
		t.Fatalf("the read entry returned %q, want %s", got, id)
	}
	if n := num(r.json["entry"].([]any)[4].(map[string]any)["resource"], "total"); n != 1 {
		t.Fatalf("the search entry found %v, want 1", n)
	}
	if n := num(e.do("GET", "/fhir/Patient", nil).mustStatus(t, http.StatusOK).json, "total"); n != 2 {
		t.Fatalf("%v Patients stored, want 2 (the first one and the batch's valid entry)", n)
	}

	// A transaction is all-or-nothing: the bad entry fails the Bundle.
	tx := map[string]any{"resourceType": "Bundle", "type": "transaction", "entry": entries[:3]}
	bad := e.do("POST", "/fhir", tx).mustStatus(t, http.StatusBadRequest)
	if !bad.hasIssue("code-invalid", "Bundle.entry[1].resource.gender") {
		t.Fatalf("want code-invalid at Bundle.entry[1].resource.gender: %s", bad.body)
	}
	if n := num(e.do("GET", "/fhir/Patient", nil).json, "total"); n != 2 {
		t.Fatalf("%v Patients stored after a refused transaction", n)
	}
	// A GET entry in a transaction is not supported, named at its method.
	tx["entry"] = []any{post(other), get("Patient/" + id)}
	if r := e.do("POST", "/fhir", tx).mustStatus(t, http.StatusBadRequest); !r.hasIssue("not-supported", "Bundle.entry[1].request.method") {
		t.Fatalf("want not-supported at Bundle.entry[1].request.method: %s", r.body)
	}
}

// A batch whose Bundle itself is broken (not its entries) is refused whole.
func TestBatchWithABrokenBundleIsRefused(t *testing.T) {
	e := newEnv(t)
	b := map[string]any{"resourceType": "Bundle", "type": "batch", "colour": "blue", "entry": []any{
		map[string]any{"resource": fixture(t, "patient.json"), "request": map[string]any{"method": "POST", "url": "Patient"}}}}
	e.do("POST", "/fhir", b).mustStatus(t, http.StatusBadRequest)
	if n := num(e.do("GET", "/fhir/Patient", nil).json, "total"); n != 0 {
		t.Fatalf("%v Patients stored by a refused batch", n)
	}
}

// Failed accesses are audited: a refused transaction records each entry
// with its status, and so does each failed entry of a batch.
func TestFailedTransactionsAndBatchEntriesAreAudited(t *testing.T) {
	e := newEnv(t)
	admin := e.tokenFor("ops", auth.RoleAdmin, "DGADMIN", "system/AuditEvent.rs")
	stored := e.do("POST", "/fhir/Patient", fixture(t, "patient.json")).mustStatus(t, http.StatusCreated)
	id := str(stored.json, "id")
	pat := fixture(t, "patient.json")
	pat["id"] = id
	bogus := fixture(t, "patient.json")
	bogus["gender"] = "bogus"
	entries := []any{
		map[string]any{"resource": pat, "request": map[string]any{"method": "PUT", "url": "Patient/" + id, "ifMatch": `W/"9"`}},
		map[string]any{"resource": bogus, "request": map[string]any{"method": "POST", "url": "Patient"}},
	}
	for _, typ := range []string{"transaction", "batch"} {
		e.do("POST", "/fhir", map[string]any{"resourceType": "Bundle", "type": typ, "entry": entries}, "X-Request-Id", "failed-"+typ)
	}
	trail, first := e.auditTrail(t, admin, "")
	want := []string{"Patient/" + id, "Patient"}
	for _, typ := range []string{"transaction", "batch"} {
		got := trail["failed-"+typ]
		if len(got) != len(want) {
			t.Errorf("%s: audited %v, want %v", typ, got, want)
			continue
		}
		for _, w := range want {
			found := false
			for _, g := range got {
				found = found || g == w
			}
			if !found {
				t.Errorf("%s: audited %v, want %s among them", typ, got, w)
			}
		}
	}
	// Each failed entry is recorded with a failure status, never as a success.
	for _, en := range first.json["entry"].([]any) {
		res, _ := en.(map[string]any)["resource"].(map[string]any)
		if res == nil || !strings.HasPrefix(str(res, "entity", 1, "what", "identifier", "value"), "failed-") {
			continue
		}
		if out := str(res, "outcome"); out == "0" {
			t.Errorf("a failed entry is audited as a success: %v", res)
		}
	}
}
