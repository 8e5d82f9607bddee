package gateway_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/dischargegateway/gateway/auth"
	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/fhir"
	"github.com/dischargegateway/gateway/mappings"
)

// outputs collects what the gateway answers into a folder, one FHIR
// resource a file, and validates each with the HL7 R4 JSON Schema
// (fhir.Validate): the first of the two validators scripts/
// validate-outputs.sh runs. The second, Medplum's (scripts/fhir-validate),
// reads the same folder and checks the FHIRPath invariants the schema
// cannot express.
type outputs struct {
	t     *testing.T
	dir   string
	n     int
	names map[string]bool
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// save writes the body of r as name.json when it is a FHIR resource and
// its status is one of want (any status when want is empty), and validates
// it. A body that is not JSON with a resourceType is an error too: every
// FHIR answer, errors included, is a resource.
func (o *outputs) save(name string, r resp, want ...int) {
	o.t.Helper()
	if len(want) > 0 && !containsInt(want, r.status) {
		o.t.Errorf("%s: status %d, want %v: %s", name, r.status, want, r.body)
		return
	}
	if str(r.json, "resourceType") == "" {
		o.t.Errorf("%s: status %d without a FHIR resource: %q", name, r.status, r.body)
		return
	}
	o.n++
	file := fmt.Sprintf("%03d-%s.json", o.n, unsafeName.ReplaceAllString(name, "_"))
	o.names[name] = true
	if err := os.WriteFile(filepath.Join(o.dir, file), r.body, 0o644); err != nil {
		o.t.Fatal(err)
	}
	if _, err := fhir.Validate(r.body, "", fhir.DefaultLimits); err != nil {
		var de *discharge.Error
		if errors.As(err, &de) && len(de.Issues) > 0 {
			for _, is := range de.Issues {
				o.t.Errorf("%s: JSON Schema: %s: [%s] %s", file, is.Expression, is.Kind, is.Message)
			}
			return
		}
		o.t.Errorf("%s: JSON Schema: %v", file, err)
	}
}

func containsInt(xs []int, x int) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

// TestOutputsForValidation drives a gateway over a real redis-server through
// the walk-through (a trust's transaction, care providers' directory and
// capacity, placement, the audit trail) and writes every kind of FHIR answer
// it gives to $FHIR_OUTPUT_DIR: the published conformance resources, the
// responses of every interaction and operation, and OperationOutcomes for
// each kind of error. It is skipped unless FHIR_OUTPUT_DIR is set, which
// scripts/validate-outputs.sh does before running the second validator over
// the folder.
func TestOutputsForValidation(t *testing.T) {
	dir := os.Getenv("FHIR_OUTPUT_DIR")
	if dir == "" {
		t.Skip("FHIR_OUTPUT_DIR is not set (scripts/validate-outputs.sh sets it)")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	o := &outputs{t: t, dir: dir, names: map[string]bool{}}
	e := newEnv(t)
	home := e.tokenFor("home-1", auth.RoleCareProvider, "1-000000001", directoryScopes)
	admin := e.tokenFor("ops", auth.RoleAdmin, "DGADMIN", "system/AuditEvent.rs")
	as := func(tok string, more ...string) []string {
		return append([]string{"Authorization", "Bearer " + tok}, more...)
	}

	// Conformance resources, as published.
	md := e.do("GET", "/fhir/metadata", nil, "Authorization", "")
	o.save("CapabilityStatement", md, http.StatusOK)
	for _, id := range mappings.CodeSystemNames() {
		o.save("CodeSystem-"+id, e.do("GET", "/fhir/CodeSystem/"+id, nil), http.StatusOK)
	}
	o.save("CodeSystem-search", e.do("GET", "/fhir/CodeSystem", nil), http.StatusOK)
	maps := e.do("GET", "/fhir/ConceptMap", nil)
	o.save("ConceptMap-search", maps, http.StatusOK)
	entries, _ := maps.json["entry"].([]any)
	if len(entries) == 0 {
		t.Fatalf("no ConceptMaps published: %s", maps.body)
	}
	for _, en := range entries {
		id := str(en, "resource", "id")
		o.save("ConceptMap-"+id, e.do("GET", "/fhir/ConceptMap/"+id, nil), http.StatusOK)
	}
	// The SubscriptionTopics, published in R4 as Basic (Backport IG).
	for _, ti := range mappings.SubscriptionTopics() {
		o.save("Basic-SubscriptionTopic-"+string(ti.Topic), e.do("GET", "/fhir/Basic/"+string(ti.Topic), nil, "Authorization", ""), http.StatusOK)
	}
	o.save("Basic-SubscriptionTopic-search", e.do("GET", "/fhir/Basic?code=SubscriptionTopic", nil, "Authorization", ""), http.StatusOK)
	// Every OperationDefinition and Measure the CapabilityStatement or the
	// gateway's own resources point at, when the gateway serves it.
	defs := map[string]bool{}
	for _, rs := range md.json["rest"].([]any)[0].(map[string]any)["resource"].([]any) {
		ops, _ := rs.(map[string]any)["operation"].([]any)
		for _, op := range ops {
			defs[str(op, "definition")] = true
		}
	}
	// System-level operations ($process-message) too.
	for _, op := range md.json["rest"].([]any)[0].(map[string]any)["operation"].([]any) {
		defs[str(op, "definition")] = true
	}
	for d := range defs {
		if id, ok := strings.CutPrefix(d, "https://fhir.discharge-gateway.example/OperationDefinition/"); ok {
			o.save("OperationDefinition-"+id, e.do("GET", "/fhir/OperationDefinition/"+id, nil, "Authorization", ""), http.StatusOK)
		}
	}
	o.save("Measure-care-home-capacity", e.do("GET", "/fhir/Measure/care-home-capacity", nil, "Authorization", ""), http.StatusOK)
	o.save("Measure-discharge-case", e.do("GET", "/fhir/Measure/discharge-case", nil, "Authorization", ""), http.StatusOK)
	o.save("Measure-discharge-sitrep", e.do("GET", "/fhir/Measure/discharge-sitrep", nil, "Authorization", ""), http.StatusOK)
	o.save("Measure-virtual-ward-occupancy", e.do("GET", "/fhir/Measure/virtual-ward-occupancy", nil, "Authorization", ""), http.StatusOK)
	o.save("Measure-unmet-demand", e.do("GET", "/fhir/Measure/unmet-demand", nil, "Authorization", ""), http.StatusOK)
	// The profiles under configs/profiles, as shipped.
	profiles, err := filepath.Glob(filepath.Join("..", "configs", "profiles", "*.json"))
	if err != nil || len(profiles) == 0 {
		t.Fatalf("no profiles in configs/profiles: %v", err)
	}
	for _, f := range profiles {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var doc map[string]any
		if err := json.Unmarshal(b, &doc); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		o.save(strings.TrimSuffix(filepath.Base(f), ".json"), resp{status: http.StatusOK, body: b, json: doc}, http.StatusOK)
	}

	// The provider directory and capacity: a care provider's transaction,
	// a bulk import, postings as JSON and as a MeasureReport.
	o.save("transaction-response-directory",
		e.do("POST", "/fhir", providerBundle("1-000000001", "1-466088203", "nursing-dementia"), as(home)...), http.StatusOK)
	e.do("POST", "/api/v1/directory/import", placementCSV, as(home, "Content-Type", "text/csv")...).mustStatus(t, http.StatusOK)
	for loc, accepting := range map[string]int{"1-100000001": 2, "1-100000002": 1, "1-100000003": 3, "1-100000004": 3, "1-100000005": 3} {
		body := map[string]any{"asOf": time.Now().Add(-time.Hour).UTC().Format(time.RFC3339), "beds": []any{map[string]any{
			"type": "nursing-dementia", "maxCapacity": 30, "occupied": 30 - accepting, "reserved": 0, "acceptingAdmissions": accepting}}}
		e.do("PUT", "/api/v1/capacity/cqc-"+loc, body, as(home, "Content-Type", "application/json")...).mustStatus(t, http.StatusOK)
	}
	mr := e.do("POST", "/fhir/MeasureReport", measureReport("Location/cqc-1-100000001", time.Now().Add(-time.Minute), 2), as(home)...)
	o.save("MeasureReport-create", mr, http.StatusCreated)
	o.save("MeasureReport-search", e.do("GET", "/fhir/MeasureReport?subject=Location/cqc-1-100000001&_count=1", nil), http.StatusOK)
	o.save("Location-search-include", e.do("GET", "/fhir/Location?_include=Location:organization&_count=2", nil), http.StatusOK)
	o.save("Location-search-near", e.do("GET", "/fhir/Location?near=53.445|-2.221|5|km", nil), http.StatusOK)
	o.save("HealthcareService-search-include", e.do("GET",
		"/fhir/HealthcareService?type=nursing-dementia&_include=HealthcareService:location&_include=HealthcareService:organization", nil),
		http.StatusOK)
	o.save("Organization-read", e.do("GET", "/fhir/Organization/"+strings.TrimPrefix(
		str(e.do("GET", "/fhir/Organization?_count=1", nil).json, "entry", 0, "resource", "id"), "Organization/"), nil), http.StatusOK)

	// The trust's walk-through transaction, then every interaction on what it
	// stored.
	wt := e.do("POST", "/fhir", walkthrough(t))
	o.save("transaction-response-walkthrough", wt, http.StatusOK)
	refs := map[string]string{}
	for _, en := range wt.json["entry"].([]any) {
		ref := strings.Split(str(en, "response", "location"), "/_history/")[0]
		typ, _, _ := strings.Cut(ref, "/")
		refs[typ] = ref
	}
	if refs["Patient"] == "" || refs["Encounter"] == "" || refs["ServiceRequest"] == "" {
		t.Fatalf("walk-through refs %v: %s", refs, wt.body)
	}
	o.save("transaction-response-walkthrough-again", e.do("POST", "/fhir", walkthrough(t)), http.StatusOK)
	for _, typ := range []string{"Patient", "Encounter", "ServiceRequest"} {
		o.save(typ+"-read", e.do("GET", "/fhir/"+refs[typ], nil), http.StatusOK)
		o.save(typ+"-vread", e.do("GET", "/fhir/"+refs[typ]+"/_history/1", nil), http.StatusOK)
	}
	o.save("Patient-search", e.do("GET", "/fhir/Patient?identifier=https://fhir.nhs.uk/Id/nhs-number|9476719931", nil), http.StatusOK)
	o.save("Encounter-search-include", e.do("GET", "/fhir/Encounter?patient="+url.QueryEscape(refs["Patient"])+
		"&_include=Encounter:patient", nil), http.StatusOK)
	o.save("ServiceRequest-search-include", e.do("GET", "/fhir/ServiceRequest?encounter="+url.QueryEscape(refs["Encounter"])+
		"&_include=ServiceRequest:encounter&_include=ServiceRequest:patient", nil), http.StatusOK)
	o.save("ServiceRequest-search-paged", e.do("GET", "/fhir/ServiceRequest?_count=1&_offset=0", nil), http.StatusOK)
	o.save("Patient-search-unknown-param", e.do("GET", "/fhir/Patient?colour=blue", nil), http.StatusOK)

	// update, with and without a matching If-Match, and the response forms.
	pat := e.do("GET", "/fhir/"+refs["Patient"], nil).json
	pat["gender"] = "female"
	o.save("Patient-update", e.do("PUT", "/fhir/"+refs["Patient"], pat, "If-Match", `W/"1"`), http.StatusOK)
	o.save("Patient-update-return-OperationOutcome", e.do("PUT", "/fhir/"+refs["Patient"], pat,
		"Prefer", "return=OperationOutcome"), http.StatusOK)
	o.save("Patient-create", e.do("POST", "/fhir/Patient", fixture(t, "patient.json")), http.StatusCreated)

	// History, where the gateway has it: instance and type level.
	// Whatever the answer, it is a FHIR resource: a history Bundle, or an
	// OperationOutcome where history is not served.
	for _, p := range []string{refs["Patient"] + "/_history", "Patient/_history"} {
		h := e.do("GET", "/fhir/"+p, nil)
		if h.status != http.StatusOK {
			t.Logf("GET %s answers %d: no history Bundle to validate", p, h.status)
		}
		o.save(fmt.Sprintf("history-%d-%s", h.status, p), h)
	}

	// A batch with one good and one bad entry.
	batch := map[string]any{"resourceType": "Bundle", "type": "batch", "entry": []any{
		map[string]any{"request": map[string]any{"method": "GET", "url": refs["Patient"]}},
		map[string]any{"request": map[string]any{"method": "GET", "url": "Patient/does-not-exist"}},
		map[string]any{"resource": map[string]any{"resourceType": "Encounter", "status": "in-progress",
			"class":   map[string]any{"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "IMP"},
			"subject": map[string]any{"reference": "Patient/nope"}},
			"request": map[string]any{"method": "POST", "url": "Encounter"}},
	}}
	o.save("batch-response", e.do("POST", "/fhir", batch), http.StatusOK)

	// Placement: explained, paged, at type level, and with nothing in reach.
	sr := refs["ServiceRequest"]
	o.save("placement-options-explain", e.do("GET", "/fhir/"+sr+"/$placement-options?explain=true", nil), http.StatusOK)
	o.save("placement-options-count-1", e.do("GET", "/fhir/"+sr+"/$placement-options?_count=1", nil), http.StatusOK)
	o.save("placement-options-none-in-reach", e.do("POST", "/fhir/"+sr+"/$placement-options", map[string]any{
		"resourceType": "Parameters", "parameter": []any{
			map[string]any{"name": "radius", "valueDecimal": 0.1}, map[string]any{"name": "explain", "valueBoolean": true}}}),
		http.StatusOK)
	o.save("placement-options-type-level", e.do("POST", "/fhir/ServiceRequest/$placement-options",
		whatIfParameters(t, map[string]any{"name": "explain", "valueBoolean": true})), http.StatusOK)

	// The referral loop: offers sent in a transaction and alone, searched,
	// read, answered, confirmed; the packs before and after acceptance;
	// and the refusals of illegal moves.
	w := newReferralWorld(t)
	offerEntry := func(i int) map[string]any {
		return map[string]any{"resource": w.offer(i, time.Now().Add(time.Hour)), "request": map[string]any{"method": "POST", "url": "Task"}}
	}
	// Subscriptions: created before the offers, so the home is notified.
	subTok := w.e.tokenFor("home-sub", auth.RoleCareProvider, "1-000000001", taskHomeScopes+subscriptionScopes)
	hook := newHookReceiver(t)
	sub := w.e.do("POST", "/fhir/Subscription", subscriptionBody("referral-offered", hook.srv.URL, "full-resource"), bearer(subTok)...)
	o.save("Subscription-create", sub, http.StatusCreated)
	sid := "/fhir/Subscription/" + str(sub.json, "id")
	o.save("OperationOutcome-400-subscription-endpoint", w.e.do("POST", "/fhir/Subscription",
		subscriptionBody("referral-offered", "http://example.org/hook", "id-only"), bearer(subTok)...), http.StatusBadRequest)
	hubSubTok := w.e.tokenFor("hub-sub", auth.RoleHub, "QXH", taskHubScopes+subscriptionScopes, "RXA")
	caseHook := newHookReceiver(t)
	w.e.do("POST", "/fhir/Subscription", subscriptionBody("case-state", caseHook.srv.URL, "full-resource"), bearer(hubSubTok)...).
		mustStatus(t, http.StatusCreated)
	runDeliverer(t, w.e)
	o.save("transaction-response-tasks", w.e.do("POST", "/fhir", map[string]any{"resourceType": "Bundle", "type": "transaction",
		"entry": []any{offerEntry(1), offerEntry(2)}}, bearer(w.trust)...), http.StatusOK)
	task := w.e.do("POST", "/fhir/Task", w.offer(0, time.Now().Add(time.Hour)), bearer(w.trust)...)
	o.save("Task-create", task, http.StatusCreated)
	tid := "/fhir/Task/" + str(task.json, "id")
	o.save("Task-search-owner", w.e.do("GET", "/fhir/Task?status=requested", nil, bearer(w.homes[0].token)...), http.StatusOK)
	o.save("Task-search-paged", w.e.do("GET", "/fhir/Task?focus="+w.sr+"&_count=1", nil, bearer(w.trust)...), http.StatusOK)
	o.save("Task-read", w.e.do("GET", tid, nil, bearer(w.homes[0].token)...), http.StatusOK)
	o.save("referral-pack-minimised", w.e.do("GET", tid+"/$referral-pack", nil, bearer(w.homes[0].token)...), http.StatusOK)
	o.save("OperationOutcome-412-stale-Task", w.e.do("PUT", tid, w.answer(task.json, 0, "accepted"),
		append(bearer(w.homes[0].token), "If-Match", `W/"7"`)...), http.StatusPreconditionFailed)
	accepted := w.e.do("PUT", tid, w.answer(task.json, 0, "accepted"), append(bearer(w.homes[0].token), "If-Match", `W/"1"`)...)
	o.save("Task-update-accepted", accepted, http.StatusOK)
	o.save("referral-pack-identified", w.e.do("GET", tid+"/$referral-pack", nil, bearer(w.homes[0].token)...), http.StatusOK)
	o.save("OperationOutcome-409-illegal-move", w.e.do("PUT", tid, w.answer(accepted.json, 0, "rejected"),
		append(bearer(w.homes[0].token), "If-Match", accepted.header.Get("ETag"))...), http.StatusConflict)
	o.save("OperationOutcome-404-another-providers-Task", w.e.do("GET", tid, nil, bearer(w.homes[1].token)...), http.StatusNotFound)
	o.save("OperationOutcome-403-provider-confirms", w.e.do("POST", tid+"/$confirm", nil, bearer(w.homes[0].token)...), http.StatusForbidden)
	o.save("Task-confirm", w.e.do("POST", tid+"/$confirm", nil, bearer(w.trust)...), http.StatusOK)
	o.save("Task-vread", w.e.do("GET", tid+"/_history/1", nil, bearer(w.trust)...), http.StatusOK)
	o.save("Task-history", w.e.do("GET", tid+"/_history", nil, bearer(w.trust)...), http.StatusOK)
	note, _ := hook.waitFocus(t, str(task.json, "resourceType")+"/"+str(task.json, "id"), 10*time.Second)
	noteBody, _ := json.Marshal(note)
	o.save("Subscription-notification-full-resource", resp{status: http.StatusOK, body: noteBody, json: note}, http.StatusOK)
	caseNote, _ := caseHook.waitFocus(t, w.encounter, 10*time.Second)
	caseNoteBody, _ := json.Marshal(caseNote)
	o.save("Subscription-notification-case-full-resource", resp{status: http.StatusOK, body: caseNoteBody, json: caseNote}, http.StatusOK)
	o.save("Subscription-read", w.e.do("GET", sid, nil, bearer(subTok)...), http.StatusOK)
	o.save("Subscription-search", w.e.do("GET", "/fhir/Subscription", nil, bearer(subTok)...), http.StatusOK)
	o.save("Subscription-status", w.e.do("GET", sid+"/$status", nil, bearer(subTok)...), http.StatusOK)
	o.save("Subscription-events", w.e.do("GET", sid+"/$events?eventsSinceNumber=1", nil, bearer(subTok)...), http.StatusOK)
	// The case as FHIR: its timeline (Provenance) and measures (MeasureReport).
	o.save("Encounter-discharge-case", w.e.do("GET", "/fhir/"+w.encounter+"/$discharge-case", nil, bearer(w.trust)...), http.StatusOK)

	// Terminology operations.
	o.save("translate-match", e.do("GET", "/fhir/ConceptMap/$translate?system=https://fhir.rxx-trust.example/CodeSystem/local-care-codes&code=NH-DEM", nil),
		http.StatusOK)
	o.save("translate-inexact", e.do("GET", "/fhir/ConceptMap/$translate?system=http://snomed.info/sct&code=238136002", nil),
		http.StatusOK)
	o.save("translate-no-match", e.do("GET", "/fhir/ConceptMap/$translate?system=http://snomed.info/sct&code=1", nil), http.StatusOK)

	// The audit trail.
	o.save("AuditEvent-search", e.do("GET", "/fhir/AuditEvent?entity="+url.QueryEscape(refs["Patient"])+"&_count=3", nil, as(admin)...),
		http.StatusOK)

	// OperationOutcomes for each kind of error.
	encounter := map[string]any{"resourceType": "Encounter", "status": "in-progress",
		"class":   map[string]any{"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "IMP"},
		"subject": map[string]any{"reference": "Patient/nope"}}
	badTx := walkthrough(t)
	badTx["entry"].([]any)[1].(map[string]any)["resource"].(map[string]any)["status"] = "bogus"
	for _, tc := range []struct {
		name, method, path string
		body               any
		headers            []string
		status             int
	}{
		{"400-unknown-element", "POST", "/fhir/Patient", `{"resourceType":"Patient","favouriteColour":"blue"}`, nil, 400},
		{"400-invalid-code", "POST", "/fhir/Encounter", strings.Replace(mustJSON(t, encounter), `"in-progress"`, `"bogus"`, 1), nil, 400},
		{"400-malformed-json", "POST", "/fhir/Patient", `{"resourceType":"Patient",`, nil, 400},
		{"400-transaction-entry", "POST", "/fhir", badTx, nil, 400},
		{"400-unknown-operation-parameter", "GET", "/fhir/" + sr + "/$placement-options?colour=blue", nil, nil, 400},
		{"400-translate-without-code", "GET", "/fhir/ConceptMap/$translate?system=http://snomed.info/sct", nil, nil, 400},
		{"400-strict-unknown-search-param", "GET", "/fhir/Patient?colour=blue", nil, []string{"Prefer", "handling=strict"}, 400},
		{"401-no-token", "GET", "/fhir/Patient", nil, []string{"Authorization", ""}, 401},
		{"403-not-admin", "GET", "/fhir/AuditEvent", nil, nil, 403},
		{"404-no-such-resource", "GET", "/fhir/Patient/does-not-exist", nil, nil, 404},
		{"404-unknown-route", "GET", "/fhir/Spaceship/1", nil, nil, 404},
		{"405-method-not-allowed", "DELETE", "/fhir/" + refs["Patient"], nil, nil, 405},
		{"406-xml-accept", "GET", "/fhir/metadata", nil, []string{"Accept", "application/fhir+xml"}, 406},
		{"412-stale-if-match", "PUT", "/fhir/" + refs["Patient"], pat, []string{"If-Match", `W/"1"`}, 412},
		{"413-oversize", "POST", "/fhir/Patient", `{"resourceType":"Patient","text":{"status":"generated","div":"` +
			strings.Repeat("x", 2<<20) + `"}}`, nil, 413},
		{"415-xml-body", "POST", "/fhir/Patient", `<Patient/>`, []string{"Content-Type", "application/fhir+xml"}, 415},
		{"422-unresolved-reference", "POST", "/fhir/Encounter", encounter, nil, 422},
	} {
		o.save("OperationOutcome-"+tc.name, e.do(tc.method, tc.path, tc.body, tc.headers...), tc.status)
	}

	// BaRS messages ($process-message): the ok response, the same answer
	// re-sent, a refusal answered as a response message, and a body with
	// no MessageHeader (a plain OperationOutcome).
	bars := loadJSON(t, filepath.Join("testdata", "bars", "discharge-referral.json"))
	o.save("bars-response-ok", e.do("POST", "/fhir/$process-message", bars), http.StatusOK)
	o.save("bars-response-resent", e.do("POST", "/fhir/$process-message", bars), http.StatusOK)
	bars["entry"].([]any)[0].(map[string]any)["resource"].(map[string]any)["id"] = "bars-booking-1"
	bars["entry"].([]any)[0].(map[string]any)["resource"].(map[string]any)["eventCoding"].(map[string]any)["code"] = "booking-request"
	o.save("bars-response-fatal-error", e.do("POST", "/fhir/$process-message", bars), http.StatusBadRequest)
	bars["type"] = "collection"
	o.save("OperationOutcome-bars-not-a-message", e.do("POST", "/fhir/$process-message", bars), http.StatusBadRequest)
	// The discharge sitrep (sitrep.go): as a searchset and by
	// $evaluate-measure, over cases with NCTR, reasons and a discharge.
	today := discharge.Today(time.Now())
	e.sitrepEncounter(t, e.token, "3", discharge.DateOfDay(discharge.DayNumber(today)-5).String(), "capacity-care-home", time.Time{})
	e.sitrepEncounter(t, e.token, "1", discharge.DateOfDay(discharge.DayNumber(today)-1).String(), "transport", time.Now().Add(-time.Minute))
	o.save("MeasureReport-sitrep-search", e.do("GET", "/fhir/MeasureReport?measure="+url.QueryEscape(mappings.SitrepMeasureURL)+"&period=ge"+
		discharge.DateOfDay(discharge.DayNumber(today)-2).String()+"&period=le"+today.String()+"&unknown=1", nil), http.StatusOK)
	o.save("MeasureReport-sitrep-evaluate", e.do("GET", "/fhir/Measure/discharge-sitrep/$evaluate-measure?periodStart="+today.String(), nil), http.StatusOK)
	// Virtual-ward occupancy (virtualward.go): two wards, one below the
	// target, over three days; and a bad subject.
	vwTok := e.tokenFor("vw-out", auth.RoleCareProvider, "1-000000011", directoryScopes)
	vwLoc := e.wardProvider(t, vwTok, "1-000000011", "1-000000111", "M14 4AB", "QOP")
	e.do("POST", "/fhir/MeasureReport", wardMeasureReport(vwLoc, time.Now().Add(-time.Minute), 5, 10), "Authorization", "Bearer "+vwTok).mustStatus(t, http.StatusCreated)
	vwTok2 := e.tokenFor("vw-out-2", auth.RoleCareProvider, "1-000000012", directoryScopes)
	vwLoc2 := e.wardProvider(t, vwTok2, "1-000000012", "1-000000112", "SK3 0AA", "QWO")
	e.do("POST", "/fhir/MeasureReport", wardMeasureReport(vwLoc2, time.Now().Add(-time.Minute), 9, 10), "Authorization", "Bearer "+vwTok2).mustStatus(t, http.StatusCreated)
	o.save("MeasureReport-virtual-wards-search", e.do("GET", "/fhir/MeasureReport?measure="+url.QueryEscape(mappings.VirtualWardMeasureURL)+"&period=ge"+
		discharge.DateOfDay(discharge.DayNumber(today)-2).String()+"&period=le"+today.String()+"&unknown=1", nil), http.StatusOK)
	o.save("MeasureReport-virtual-wards-evaluate", e.do("GET", "/fhir/Measure/virtual-ward-occupancy/$evaluate-measure?periodStart="+
		discharge.DateOfDay(discharge.DayNumber(today)-6).String()+"&periodEnd="+today.String()+"&subject=Organization/QOP", nil), http.StatusOK)
	o.save("OperationOutcome-virtual-wards-bad-subject", e.do("GET", "/fhir/MeasureReport?measure="+url.QueryEscape(mappings.VirtualWardMeasureURL)+"&subject=Patient/1", nil), http.StatusBadRequest)
	// Unmet demand (unmet.go): a week with districts, needs and top
	// filters, and an empty week (no stratifiers).
	e.unmetDemand(t, "RXA")
	o.save("MeasureReport-unmet-demand-search", e.do("GET", "/fhir/MeasureReport?measure="+url.QueryEscape(mappings.UnmetMeasureURL)+"&period=ge"+
		discharge.DateOfDay(discharge.DayNumber(today)-7).String()+"&period=le"+today.String(), nil), http.StatusOK)
	o.save("MeasureReport-unmet-demand-evaluate", e.do("GET", "/fhir/Measure/unmet-demand/$evaluate-measure?periodStart="+today.String(), nil), http.StatusOK)
	// The 14-day forecast (forecast.go), and its mapping with a backtest
	// scored and supply known, which a fresh gateway has not yet.
	e.forecastEncounter(t, e.token, "3", discharge.DateOfDay(discharge.DayNumber(today)+2).String())
	e.forecastEncounter(t, e.token, "1", discharge.DateOfDay(discharge.DayNumber(today)-2).String())
	o.save("MeasureReport-forecast-search", e.do("GET", "/fhir/MeasureReport?measure="+url.QueryEscape(mappings.ForecastMeasureURL)+"&unknown=1", nil), http.StatusOK)
	o.save("MeasureReport-forecast-evaluate", e.do("GET", "/fhir/Measure/discharge-forecast/$evaluate-measure", nil), http.StatusOK)
	o.save("Measure-discharge-forecast", e.do("GET", "/fhir/Measure/discharge-forecast", nil, "Authorization", ""), http.StatusOK)
	o.save("MeasureReport-forecast-backtest", forecastWithBacktest(t, today), http.StatusOK)

	// 429, from a gateway whose rate limit is one request a minute.
	limited := newEnvLimited(t, 1)
	limited.do("GET", "/fhir/Patient", nil).mustStatus(t, http.StatusOK)
	o.save("OperationOutcome-429-throttled", limited.do("GET", "/fhir/Patient", nil), http.StatusTooManyRequests)

	// Every kind named above made it to the folder.
	for _, k := range []string{"CapabilityStatement", "CodeSystem-care-setting", "Measure-care-home-capacity",
		"OperationDefinition-ServiceRequest-placement-options", "transaction-response-walkthrough", "batch-response",
		"placement-options-explain", "AuditEvent-search", "translate-match", "MeasureReport-search", "MeasureReport-sitrep-search", "Measure-discharge-sitrep",
		"Measure-virtual-ward-occupancy", "MeasureReport-virtual-wards-search", "CodeSystem-virtual-ward",
		"Measure-unmet-demand", "MeasureReport-unmet-demand-search", "CodeSystem-unmet-demand",
		"MeasureReport-forecast-search", "Measure-discharge-forecast", "MeasureReport-forecast-backtest",
		"OperationDefinition-Task-confirm", "OperationDefinition-Task-referral-pack", "CodeSystem-offer-reject-reason",
		"CodeSystem-offer-business-status", "StructureDefinition-referral-offer", "transaction-response-tasks",
		"referral-pack-minimised", "referral-pack-identified", "Task-history", "OperationOutcome-409-illegal-move",
		"OperationDefinition-BaRS-process-message", "bars-response-ok", "bars-response-fatal-error"} {
		if !o.names[k] {
			t.Errorf("no %s was written", k)
		}
	}
	t.Logf("%d FHIR outputs written to %s", o.n, dir)
}
