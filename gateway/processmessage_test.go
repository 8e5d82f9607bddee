package gateway_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/dischargegateway/gateway/auth"
	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/fhir"
)

// barsMessage is a BaRS referral fixture, decoded for a test to change.
func barsMessage(t *testing.T, name string) map[string]any {
	t.Helper()
	return loadJSON(t, filepath.Join("testdata", "bars", name))
}

// responseOf checks that r is a BaRS response message answering request
// id with code, and returns its OperationOutcome (the details).
func responseOf(t *testing.T, r resp, id, code string) map[string]any {
	t.Helper()
	if str(r.json, "resourceType") != "Bundle" || str(r.json, "type") != "message" {
		t.Fatalf("status %d: want a response message, got %s", r.status, r.body)
	}
	entries, _ := r.json["entry"].([]any)
	if len(entries) != 2 {
		t.Fatalf("want MessageHeader and OperationOutcome, got %s", r.body)
	}
	mh, _ := entries[0].(map[string]any)["resource"].(map[string]any)
	if str(mh, "resourceType") != "MessageHeader" || str(mh, "response", "identifier") != id || str(mh, "response", "code") != code {
		t.Fatalf("want a MessageHeader answering %s with %s, got %s", id, code, r.body)
	}
	oo, _ := entries[1].(map[string]any)["resource"].(map[string]any)
	if str(oo, "resourceType") != "OperationOutcome" || str(mh, "response", "details", "reference") != str(entries[1], "fullUrl") {
		t.Fatalf("the details must be the OperationOutcome entry: %s", r.body)
	}
	return oo
}

// stored reads the "Created Type/id/_history/n" issues of an ok response.
func storedRefs(t *testing.T, oo map[string]any) map[string]string {
	t.Helper()
	refs := map[string]string{}
	for _, is := range oo["issue"].([]any) {
		d := str(is, "diagnostics")
		if rest, ok := strings.CutPrefix(d, "Created "); ok {
			ref, _, _ := strings.Cut(rest, "/_history/")
			typ, _, _ := strings.Cut(ref, "/")
			refs[typ] = ref
		}
	}
	return refs
}

// countOf is how many resources of typ the caller's search finds.
func countOf(t *testing.T, e *env, typ string) float64 {
	t.Helper()
	r := e.do("GET", "/fhir/"+typ+"?_summary=count", nil).mustStatus(t, http.StatusOK)
	return num(r.json, "total")
}

const barsMessageID = "1cbdfb97-5859-48a4-8301-d54eab818d68" // the fixture's MessageHeader fullUrl

// TestProcessMessageCreatesTheCase: a BaRS referral from an EPR creates
// the case (Patient, inpatient Encounter, ServiceRequest) in the sender's
// partition; the response message says what was stored; the BaRS headers
// come back.
func TestProcessMessageCreatesTheCase(t *testing.T) {
	e := newEnv(t)
	r := e.do("POST", "/fhir/$process-message", barsMessage(t, "discharge-referral.json"),
		"X-Request-Id", "req-1", "X-Correlation-Id", "corr-1").mustStatus(t, http.StatusOK)
	if r.header.Get("X-Correlation-Id") != "corr-1" || r.header.Get("X-Request-Id") != "req-1" {
		t.Errorf("BaRS headers not echoed: %v", r.header)
	}
	refs := storedRefs(t, responseOf(t, r, barsMessageID, "ok"))
	for _, typ := range []string{"Patient", "Encounter", "ServiceRequest"} {
		if refs[typ] == "" {
			t.Fatalf("no %s stored: %s", typ, r.body)
		}
		e.do("GET", "/fhir/"+refs[typ], nil).mustStatus(t, http.StatusOK)
	}
	sr := e.do("GET", "/fhir/"+refs["ServiceRequest"], nil)
	if str(sr.json, "subject", "reference") != refs["Patient"] || str(sr.json, "encounter", "reference") != refs["Encounter"] {
		t.Errorf("the ServiceRequest's references were not rewritten to the stored resources: %s", sr.body)
	}
	// References to message entries the record does not keep became
	// logical references: no stored reference names a urn:uuid.
	if bytes.Contains(sr.body, []byte("urn:uuid:")) {
		t.Errorf("a stored reference names a message fullUrl: %s", sr.body)
	}
	if str(sr.json, "requester", "type") != "Practitioner" {
		t.Errorf("requester should be a logical Practitioner reference: %s", sr.body)
	}
	// The case exists as the REST intake would have made it.
	_, encID, _ := strings.Cut(refs["Encounter"], "/")
	c := e.do("GET", "/api/v1/cases/"+encID, nil, "Accept", "application/json").mustStatus(t, http.StatusOK)
	if !bytes.Contains(c.body, []byte(encID)) {
		t.Errorf("case view: %s", c.body)
	}
	// Another trust's client does not see it (tenancy as REST intake).
	other := e.tokenFor("trust-b", auth.RoleTrust, "RXB", clinicalScopes)
	e.do("GET", "/fhir/"+refs["ServiceRequest"], nil, "Authorization", "Bearer "+other).mustStatus(t, http.StatusNotFound)
}

// TestProcessMessageIdempotent: the same message sent again, one after the
// other or concurrently, writes nothing more and gets the same bytes back;
// another trust's message with the same id is its own.
func TestProcessMessageIdempotent(t *testing.T) {
	e := newEnv(t)
	msg := barsMessage(t, "discharge-referral.json")
	first := e.do("POST", "/fhir/$process-message", msg).mustStatus(t, http.StatusOK)
	responseOf(t, first, barsMessageID, "ok")
	n := countOf(t, e, "ServiceRequest")
	if n != 1 {
		t.Fatalf("%v ServiceRequests after one message", n)
	}
	again := e.do("POST", "/fhir/$process-message", msg).mustStatus(t, http.StatusOK)
	if !bytes.Equal(first.body, again.body) {
		t.Errorf("a re-sent message got another answer:\n%s\n%s", first.body, again.body)
	}
	// Concurrent re-sends of a new message: one writes, all get its answer.
	msg2 := barsMessage(t, "discharge-referral.json")
	entries := msg2["entry"].([]any)
	entries[0].(map[string]any)["resource"].(map[string]any)["id"] = "msg-2"
	sr := entries[1].(map[string]any)["resource"].(map[string]any)
	sr["identifier"] = []any{map[string]any{"system": "https://sender.example/referral", "value": "R-2"}}
	var wg sync.WaitGroup
	bodies := make([][]byte, 4)
	for i := range bodies {
		wg.Add(1)
		go func() {
			defer wg.Done()
			bodies[i] = e.do("POST", "/fhir/$process-message", msg2).mustStatus(t, http.StatusOK).body
		}()
	}
	wg.Wait()
	for _, b := range bodies[1:] {
		if !bytes.Equal(b, bodies[0]) {
			t.Errorf("concurrent deliveries got different answers:\n%s\n%s", bodies[0], b)
		}
	}
	if got := countOf(t, e, "ServiceRequest"); got != 2 {
		t.Errorf("%v ServiceRequests after two distinct messages sent 6 times", got)
	}
	// The Patient and Encounter were matched by identifier, not duplicated.
	if got := countOf(t, e, "Patient"); got != 1 {
		t.Errorf("%v Patients: the second referral should join the first's", got)
	}
	// The same message id from another trust is another message.
	e.token = e.tokenFor("trust-b", auth.RoleTrust, "RXB", clinicalScopes)
	e.do("POST", "/fhir/$process-message", msg).mustStatus(t, http.StatusOK)
	if got := countOf(t, e, "ServiceRequest"); got != 1 {
		t.Errorf("trust B sees %v ServiceRequests, want its own 1", got)
	}
}

// TestProcessMessageRefusals: each bad message gets a precise issue at the
// message's own element, in a fatal-error response message when there is
// a MessageHeader to answer (a plain OperationOutcome when not), and
// writes nothing.
func TestProcessMessageRefusals(t *testing.T) {
	e := newEnv(t)
	mh := func(m map[string]any) map[string]any {
		return m["entry"].([]any)[0].(map[string]any)["resource"].(map[string]any)
	}
	res := func(m map[string]any, i int) map[string]any {
		return m["entry"].([]any)[i].(map[string]any)["resource"].(map[string]any)
	}
	target := func(sys, val string) string {
		b, _ := json.Marshal(map[string]string{"system": sys, "value": val})
		return base64.StdEncoding.EncodeToString(b)
	}
	cases := []struct {
		name    string
		change  func(m map[string]any)
		headers []string
		status  int
		code    string
		expr    string
		answer  bool // a response message, not a plain OperationOutcome
	}{
		{"not a Bundle", func(m map[string]any) {
			for k := range m {
				delete(m, k)
			}
			m["resourceType"] = "Patient"
		}, nil, 400, "invalid", "resourceType", false},
		{"a transaction, not a message", func(m map[string]any) { m["type"] = "transaction" }, nil, 400, "value", "Bundle.type", false},
		{"no MessageHeader first", func(m map[string]any) {
			es := m["entry"].([]any)
			es[0], es[1] = es[1], es[0]
		}, nil, 400, "invalid", "Bundle.entry[0].resource.resourceType", false},
		{"a booking, not a referral", func(m map[string]any) {
			mh(m)["eventCoding"].(map[string]any)["code"] = "booking-request"
		}, nil, 400, "not-supported", "Bundle.entry[0].resource.eventCoding.code", true},
		{"an event from another system", func(m map[string]any) {
			mh(m)["eventCoding"].(map[string]any)["system"] = "https://fhir.nhs.uk/CodeSystem/message-event-servicerequest"
		}, nil, 400, "code-invalid", "Bundle.entry[0].resource.eventCoding.system", true},
		{"an update, not a new referral", func(m map[string]any) {
			mh(m)["reason"].(map[string]any)["coding"].([]any)[0].(map[string]any)["code"] = "update"
		}, nil, 400, "not-supported", "Bundle.entry[0].resource.reason.coding[0].code", true},
		{"no focus", func(m map[string]any) { delete(mh(m), "focus") }, nil, 400, "required", "Bundle.entry[0].resource.focus", true},
		{"focus names no entry", func(m map[string]any) {
			mh(m)["focus"] = []any{map[string]any{"reference": "urn:uuid:00000000-0000-4000-8000-000000000000"}}
		}, nil, 400, "not-found", "Bundle.entry[0].resource.focus[0].reference", true},
		{"focus is the Patient", func(m map[string]any) {
			mh(m)["focus"] = []any{map[string]any{"reference": "urn:uuid:9589fb37-87a2-48d8-968f-b371429208a8"}}
		}, nil, 400, "invalid", "Bundle.entry[0].resource.focus[0].reference", true},
		{"referral without its Encounter", func(m map[string]any) { delete(res(m, 1), "encounter") },
			nil, 400, "required", "Bundle.entry[1].resource.encounter", true},
		{"a reference to no entry", func(m map[string]any) {
			res(m, 1)["performer"] = []any{map[string]any{"reference": "urn:uuid:00000000-0000-4000-8000-000000000000"}}
		}, nil, 400, "not-found", "Bundle.entry[1].resource.performer[0].reference", true},
		{"a bad NHS number", func(m map[string]any) {
			res(m, 5)["identifier"].([]any)[0].(map[string]any)["value"] = "3478526985"
		}, nil, 400, "value", "Bundle.entry[5].resource.identifier[0].value", true},
		{"NHSD-Target-Identifier not base64", nil, []string{"NHSD-Target-Identifier", "%%%"},
			400, "value", "Bundle.entry[0].resource.destination", true},
		{"NHSD-Target-Identifier names another service", nil,
			[]string{"NHSD-Target-Identifier", target("https://fhir.nhs.uk/Id/dos-service-id", "999")},
			422, "business-rule", "Bundle.entry[0].resource.destination", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := barsMessage(t, "discharge-referral.json")
			if tc.change != nil {
				tc.change(m)
			}
			r := e.do("POST", "/fhir/$process-message", m, tc.headers...)
			if r.status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.status, tc.status, r.body)
			}
			oo := r.json
			if tc.answer {
				oo = responseOf(t, r, barsMessageID, "fatal-error")
			}
			if !(resp{json: oo}).hasIssue(tc.code, tc.expr) {
				t.Errorf("want issue %s at %q, got %s", tc.code, tc.expr, r.body)
			}
		})
	}
	if n := countOf(t, e, "ServiceRequest") + countOf(t, e, "Patient") + countOf(t, e, "Encounter"); n != 0 {
		t.Errorf("refused messages stored %v resources", n)
	}
	// A target that names the message's destination is taken.
	r := e.do("POST", "/fhir/$process-message", barsMessage(t, "discharge-referral.json"),
		"NHSD-Target-Identifier", target("http://fhir.nhs.uk/Id/dos-service-id", "111111111"))
	responseOf(t, r.mustStatus(t, http.StatusOK), barsMessageID, "ok")
}

// TestProcessMessageRecordVerdictAtMessagePaths: what the record refuses
// (here a conditional match on the NHS number that finds two Patients) is
// named at the message's element, the message writes nothing, and the
// message can be sent again once the record is put right.
func TestProcessMessageRecordVerdictAtMessagePaths(t *testing.T) {
	e := newEnv(t)
	msg := barsMessage(t, "discharge-referral.json")
	pat := msg["entry"].([]any)[5].(map[string]any)["resource"].(map[string]any)
	for range 2 {
		p := map[string]any{"resourceType": "Patient", "identifier": pat["identifier"]}
		e.do("POST", "/fhir/Patient", p).mustStatus(t, http.StatusCreated)
	}
	r := e.do("POST", "/fhir/$process-message", msg).mustStatus(t, http.StatusPreconditionFailed)
	oo := responseOf(t, r, barsMessageID, "fatal-error")
	if !(resp{json: oo}).hasIssue("multiple-matches", "Bundle.entry[5].resource.identifier") {
		t.Errorf("want multiple-matches at the Patient's identifier, got %s", r.body)
	}
	if n := countOf(t, e, "ServiceRequest") + countOf(t, e, "Encounter"); n != 0 {
		t.Errorf("a refused message stored %v resources", n)
	}
	// Put right: the refusal was not remembered, the same message is taken.
	pat["identifier"] = []any{map[string]any{"system": "https://fhir.nhs.uk/Id/nhs-number", "value": "9434765870"}}
	responseOf(t, e.do("POST", "/fhir/$process-message", msg).mustStatus(t, http.StatusOK), barsMessageID, "ok")
}

// TestProcessMessageRoles: only a trust's client sends referrals.
func TestProcessMessageRoles(t *testing.T) {
	e := newEnv(t)
	e.token = e.tokenFor("home-1", auth.RoleCareProvider, "1-000000001", directoryScopes)
	r := e.do("POST", "/fhir/$process-message", barsMessage(t, "discharge-referral.json"))
	if r.status != http.StatusForbidden || str(r.json, "resourceType") != "OperationOutcome" {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// TestProcessMessageBaRSExamples posts every BaRS v1.4.0 example
// (../shared/fhir-examples/bars) to $process-message. None is a referral
// the gateway can take as published: most are not messages, the two
// message requests are a booking (not a referral) and a referral whose
// Patient's NHS number fails its check digit (testdata/bars/referral.json
// is that message with a valid one). Each gets a precise issue, a message
// with a readable MessageHeader in a fatal-error response message. The
// r4 columns are the gateway's validator's verdict on the file as base R4
// (plus the NHS number check): the files listed in docs/bars.md as not
// valid. Issues are matched by code and expression, in any order.
func TestProcessMessageBaRSExamples(t *testing.T) {
	e := newEnv(t)
	root := filepath.Join("..", "..", "shared", "fhir-examples", "bars")
	cases := []struct {
		file             string
		status           int
		code, expression string
		answered         bool
		r4Code, r4Expr   string // "" when the file is valid
	}{
		{"200_DELETE.json", 400, "invalid", "resourceType", false, "", ""},
		{"200_PUT.json", 400, "invalid", "resourceType", false, "", ""},
		{"201_POST.json", 400, "invalid", "resourceType", false, "", ""},
		{"400-SEND.json", 400, "invalid", "resourceType", false, "", ""},
		{"500-REC.json", 400, "invalid", "resourceType", false, "", ""},
		{"Endpoint/post_Endpoint_Atomic.json", 400, "invalid", "resourceType", false, "structure", "Endpoint.connectionType.coding"},
		{"Endpoint/post_Endpoint_template.json", 400, "invalid", "resourceType", false, "structure", "Endpoint.connectionType.coding"},
		{"Endpoint/success_Endpoint_Atomic.json", 400, "invalid", "resourceType", false, "structure", "Endpoint.connectionType.coding"},
		{"Endpoint/success_Endpoint_template.json", 400, "invalid", "resourceType", false, "structure", "Endpoint.connectionType.coding"},
		{"Endpoint/success_bundle.json", 400, "structure", "Bundle.entry[0].resource.connectionType.coding", false, "structure", "Bundle.entry[0].resource.connectionType.coding"},
		{"Endpoint/success_bundle_template.json", 400, "structure", "Bundle.entry[0].resource.connectionType.coding", false, "structure", "Bundle.entry[0].resource.connectionType.coding"},
		{"HealthcareService/post_HealthcareService_Atomic.json", 400, "invalid", "resourceType", false, "", ""},
		{"HealthcareService/success_HealthcareService_Atomic.json", 400, "invalid", "resourceType", false, "", ""},
		{"HealthcareService/success_bundle.json", 400, "value", "Bundle.type", false, "", ""},
		{"OperationOutcome/200-Delete.json", 400, "invalid", "resourceType", false, "", ""},
		{"OperationOutcome/PROXY-NONE/400-BAD_REQUEST-invalid.json", 400, "invalid", "resourceType", false, "", ""},
		{"OperationOutcome/PROXY-NONE/400-BAD_REQUEST-required.json", 400, "invalid", "resourceType", false, "", ""},
		{"OperationOutcome/PROXY-NONE/400-BAD_REQUEST-structure.json", 400, "invalid", "resourceType", false, "", ""},
		{"OperationOutcome/PROXY-NONE/404-NOT_FOUND-multiple-matches.json", 400, "invalid", "resourceType", false, "", ""},
		{"OperationOutcome/PROXY-NONE/404-NOT_FOUND-not-found.json", 400, "invalid", "resourceType", false, "", ""},
		{"OperationOutcome/PROXY-NONE/409-BAD_REQUEST-duplicate.json", 400, "invalid", "resourceType", false, "", ""},
		{"OperationOutcome/PROXY-NONE/500-SERVER_ERROR-exception.json", 400, "invalid", "resourceType", false, "", ""},
		{"OperationOutcome/PROXY-NONE/500-SERVER_ERROR-transient.json", 400, "invalid", "resourceType", false, "", ""},
		{"OperationOutcome/PROXY-NONE/503-SERVICE_UNAVAILABLE-transient.json", 400, "invalid", "resourceType", false, "", ""},
		{"OperationOutcome/REC/400-REC_BAD_REQUEST-invalid.json", 400, "invalid", "resourceType", false, "", ""},
		{"OperationOutcome/REC/400-REC_BAD_REQUEST-invariant.json", 400, "invalid", "resourceType", false, "", ""},
		{"OperationOutcome/REC/400-REC_BAD_REQUEST-not-supported.json", 400, "invalid", "resourceType", false, "", ""},
		{"OperationOutcome/REC/400-REC_BAD_REQUEST-required.json", 400, "invalid", "resourceType", false, "", ""},
		{"OperationOutcome/REC/400-REC_BAD_REQUEST-value.json", 400, "invalid", "resourceType", false, "", ""},
		{"OperationOutcome/REC/401-REC_UNAUTHORIZED-forbidden.json", 400, "invalid", "resourceType", false, "", ""},
		{"OperationOutcome/REC/403-REC_FORBIDDEN-forbidden.json", 400, "invalid", "resourceType", false, "", ""},
		{"OperationOutcome/REC/403-REC_FORBIDDEN-security.json", 400, "invalid", "resourceType", false, "", ""},
		{"OperationOutcome/REC/404-REC_NOT_FOUND-not-found.json", 400, "invalid", "resourceType", false, "", ""},
		{"OperationOutcome/REC/406-REC_NOT_ACCEPTABLE-processing.json", 400, "invalid", "resourceType", false, "", ""},
		{"OperationOutcome/REC/408-REC_TIMEOUT-timeout.json", 400, "invalid", "resourceType", false, "", ""},
		{"OperationOutcome/REC/409-REC_CONFLICT-conflict.json", 400, "invalid", "resourceType", false, "", ""},
		{"OperationOutcome/REC/409-REC_CONFLICT-duplicate.json", 400, "invalid", "resourceType", false, "", ""},
		{"OperationOutcome/REC/422-REC_UNPROCESSABLE_ENTITY-not-supported.json", 400, "invalid", "resourceType", false, "", ""},
		{"OperationOutcome/REC/422-REC_UNPROCESSABLE_ENTITY-too-costly.json", 400, "invalid", "resourceType", false, "", ""},
		{"OperationOutcome/REC/500-REC_SERVER_ERROR-exception.json", 400, "invalid", "resourceType", false, "", ""},
		{"OperationOutcome/REC/500-REC_SERVER_ERROR-no-store.json", 400, "invalid", "resourceType", false, "", ""},
		{"OperationOutcome/REC/500-REC_SERVER_ERROR-toocostly.json", 400, "invalid", "resourceType", false, "code-invalid", "OperationOutcome.issue[0].code"},
		{"OperationOutcome/REC/500-REC_SERVER_ERROR-transient.json", 400, "invalid", "resourceType", false, "", ""},
		{"OperationOutcome/REC/501-REC_NOT_IMPLEMENTED-not-supported.json", 400, "invalid", "resourceType", false, "", ""},
		{"OperationOutcome/REC/503-REC_SERVICE_UNAVAILABLE-transient.json", 400, "invalid", "resourceType", false, "", ""},
		{"OperationOutcome/SEND/400-SEND_BAD_REQUEST-invalid.json", 400, "invalid", "resourceType", false, "", ""},
		{"OperationOutcome/SEND/400-SEND_BAD_REQUEST-required.json", 400, "invalid", "resourceType", false, "", ""},
		{"OperationOutcome/SEND/400-SEND_BAD_REQUEST-value.json", 400, "invalid", "resourceType", false, "", ""},
		{"OperationOutcome/SEND/401-SEND_UNAUTHORIZED-expired.json", 400, "invalid", "resourceType", false, "", ""},
		{"OperationOutcome/SEND/401-SEND_UNAUTHORIZED-login.json", 400, "invalid", "resourceType", false, "", ""},
		{"OperationOutcome/SEND/401-SEND_UNAUTHORIZED-security.json", 400, "invalid", "resourceType", false, "", ""},
		{"OperationOutcome/SEND/401-SEND_UNAUTHORIZED-unknown.json", 400, "invalid", "resourceType", false, "", ""},
		{"OperationOutcome/SEND/403-SEND_FORBIDDEN-forbidden.json", 400, "invalid", "resourceType", false, "", ""},
		{"OperationOutcome/SEND/405-SEND_METHOD_NOT_ALLOWED-not-supported.json", 400, "invalid", "resourceType", false, "", ""},
		{"OperationOutcome/SEND/406-SEND_NOT_ACCEPTABLE-processing.json", 400, "invalid", "resourceType", false, "", ""},
		{"OperationOutcome/SEND/429-SEND_TOO_MANY_REQUESTS-throttled.json", 400, "invalid", "resourceType", false, "", ""},
		{"Organization/success_Organization_Atomic.json", 400, "invalid", "resourceType", false, "", ""},
		{"_status.json", 400, "required", "resourceType", false, "required", "resourceType"},
		{"appointment/GET-success.json", 400, "value", "Bundle.type", false, "", ""},
		{"appointment/PATCH-body.json", 400, "invalid", "resourceType", false, "required", "Appointment.participant"},
		{"appointment/PUT-body.json", 400, "invalid", "resourceType", false, "", ""},
		{"appointment/id/GET-success.json", 400, "invalid", "resourceType", false, "", ""},
		{"bad-request.json", 400, "invalid", "resourceType", false, "", ""},
		{"conflict.json", 400, "invalid", "resourceType", false, "", ""},
		{"document_reference/DELETE-success.json", 400, "invalid", "resourceType", false, "", ""},
		{"document_reference/GET-success.json", 400, "structure", "Bundle", false, "structure", "Resource"},
		{"document_reference/POST-body.json", 400, "invalid", "resourceType", false, "required", "DocumentReference.content"},
		{"document_reference/POST-success.json", 400, "invalid", "resourceType", false, "required", "DocumentReference.content"},
		{"document_reference/id/DELETE-success.json", 400, "invalid", "resourceType", false, "", ""},
		{"document_reference/id/GET-success.json", 400, "invalid", "resourceType", false, "value", "DocumentReference.id"},
		{"document_reference/id/PUT-body.json", 400, "invalid", "resourceType", false, "value", "DocumentReference.id"},
		{"entity-not-found.json", 400, "invalid", "resourceType", false, "", ""},
		{"forbidden.json", 400, "invalid", "resourceType", false, "", ""},
		{"invalid-base64.json", 400, "invalid", "resourceType", false, "code-invalid", "OperationOutcome.issue[0].code"},
		{"malformed-target-identifier.json", 400, "invalid", "resourceType", false, "", ""},
		{"message_definition/MessageDefinition_ServiceRequest-request_CaseTransfer.json", 400, "value", "Bundle.type", false, "", ""},
		{"metadata/BaRS_API_Capability_Statement.json", 400, "invalid", "resourceType", false, "", ""},
		{"method-not-allowed.json", 400, "invalid", "resourceType", false, "", ""},
		{"not-acceptable.json", 400, "invalid", "resourceType", false, "", ""},
		{"not-implemented.json", 400, "invalid", "resourceType", false, "", ""},
		{"process_message/POST-body.json", 400, "not-supported", "Bundle.entry[0].resource.eventCoding.code", true, "", ""},
		{"process_message/POST-success.json", 400, "required", "Bundle.entry[3].resource.schedule", true, "required", "Bundle.entry[3].resource.schedule"},
		{"process_message/request/Booking_POST.json", 400, "not-supported", "Bundle.entry[0].resource.eventCoding.code", true, "", ""},
		{"process_message/request/ValidationRequest_POST.json", 400, "value", "Bundle.entry[5].resource.identifier[0].value", true, "value", "Bundle.entry[5].resource.identifier[0].value"},
		{"process_message/request/ValidationResponse_POST.json", 400, "value", "Bundle.entry[6].resource.identifier[0].value", true, "value", "Bundle.entry[6].resource.identifier[0].value"},
		{"process_message/response/Booking_HTTP-Response.json", 400, "required", "Bundle.entry[3].resource.schedule", true, "required", "Bundle.entry[3].resource.schedule"},
		{"process_message/response/ValidationRequest_HTTP-Response.json", 400, "value", "Bundle.entry[3].resource.identifier[0].value", true, "value", "Bundle.entry[3].resource.identifier[0].value"},
		{"proxy-not-found.json", 400, "invalid", "resourceType", false, "", ""},
		{"server-error.json", 400, "invalid", "resourceType", false, "", ""},
		{"service_request/GET-success.json", 400, "structure", "Bundle.entry[0].locationReference", false, "structure", "Bundle.entry[0].locationReference"},
		{"service_request/PATCH-body.json", 400, "invalid", "resourceType", false, "required", "ServiceRequest.subject"},
		{"service_request/PUT-body.json", 400, "invalid", "resourceType", false, "structure", "ServiceRequest.basedOn"},
		{"service_request/id/GET-success.json", 400, "invalid", "resourceType", false, "structure", "ServiceRequest.basedOn"},
		{"slots/GET-success.json", 400, "value", "Bundle.type", false, "", ""},
		{"unauthorized.json", 400, "invalid", "resourceType", false, "", ""},
		{"unavailable.json", 400, "invalid", "resourceType", false, "code-invalid", "OperationOutcome.issue[0].code"},
		{"unprocessable-entity.json", 400, "invalid", "resourceType", false, "", ""},
	}
	seen := map[string]bool{}
	invalid := 0
	for _, tc := range cases {
		seen[tc.file] = true
		t.Run(tc.file, func(t *testing.T) {
			raw := readFile(t, filepath.Join(root, tc.file))
			r := e.do("POST", "/fhir/$process-message", raw)
			if r.status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.status, tc.status, r.body)
			}
			oo := r.json
			if tc.answered {
				id := str(r.json, "entry", 0, "resource", "response", "identifier")
				oo = responseOf(t, r, id, "fatal-error")
			}
			if !(resp{json: oo}).hasIssue(tc.code, tc.expression) {
				t.Errorf("want %s at %q, got %s", tc.code, tc.expression, r.body)
			}
			_, err := fhir.Validate(raw, "", fhir.DefaultLimits)
			var de *discharge.Error
			switch {
			case tc.r4Code == "" && err != nil:
				t.Errorf("valid example refused by the validator: %v", err)
			case tc.r4Code != "" && !errors.As(err, &de):
				t.Errorf("invalid example accepted by the validator (want %s at %s): %v", tc.r4Code, tc.r4Expr, err)
			case tc.r4Code != "":
				found := false
				for _, is := range de.Issues {
					k := is.Kind
					if k == discharge.KindInternal {
						k = de.Kind
					}
					found = found || (k.String() == tc.r4Code && is.Expression == tc.r4Expr)
				}
				if !found {
					t.Errorf("want %s at %s from the validator, got %v", tc.r4Code, tc.r4Expr, err)
				}
			}
		})
		if tc.r4Code != "" {
			invalid++
		}
	}
	// Every example is in the table, and the share refused as invalid is
	// the quarter the collection's README announces.
	_ = filepath.Walk(root, func(p string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			rel, _ := filepath.Rel(root, p)
			if !seen[filepath.ToSlash(rel)] {
				t.Errorf("example %s is not in the table", rel)
			}
		}
		return err
	})
	if invalid*5 < len(cases) || invalid*3 > len(cases) {
		t.Errorf("%d of %d examples invalid: not about a quarter", invalid, len(cases))
	}
}

// TestProcessMessageGolden pins the response messages: ok (what was
// stored), and fatal-error (a booking, which the gateway does not take).
// Generated ids become UUID-n in order of appearance; rewrite with
// `go test ./gateway -run ProcessMessageGolden -update` once intended.
func TestProcessMessageGolden(t *testing.T) {
	e := newEnv(t)
	booking := barsMessage(t, "discharge-referral.json")
	booking["entry"].([]any)[0].(map[string]any)["resource"].(map[string]any)["eventCoding"].(map[string]any)["code"] = "booking-request"
	cases := []struct {
		name   string
		body   any
		status int
	}{
		{"bars-response-ok", barsMessage(t, "discharge-referral.json"), http.StatusOK},
		{"bars-response-fatal-error", booking, http.StatusBadRequest},
	}
	uuid := regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := e.do("POST", "/fhir/$process-message", c.body).mustStatus(t, c.status)
			if _, err := fhir.Validate(r.body, "Bundle", fhir.DefaultLimits); err != nil {
				t.Fatalf("not valid R4: %v", err)
			}
			ids := map[string]string{}
			for _, id := range uuid.FindAllString(string(r.body), -1) {
				if _, ok := ids[id]; !ok && id != barsMessageID {
					ids[id] = fmt.Sprintf("UUID-%d", len(ids)+1)
				}
			}
			got := normalise(t, r.body, e.srv.URL+"/fhir", ids)
			file := filepath.Join("testdata", "golden", c.name+".json")
			if *updateGolden {
				if err := os.WriteFile(file, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(file)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("%s differs from the golden file; if intended, rerun with -update.\n--- got\n%s", file, got)
			}
		})
	}
}
