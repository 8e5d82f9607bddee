package gateway_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/dischargegateway/gateway/adapters/sqlstore"
	"github.com/dischargegateway/gateway/auth"
	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/fhir"
	"github.com/dischargegateway/gateway/referral"
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
	if str(cs, "trust") != "RXA" || str(cs, "patient", "nhsNumber") != "9476719931" || str(cs, "patient", "homeOutcode") != "M14" {
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
			case "delete":
				method, path = "DELETE", "/fhir/"+typ+"/probe-id"
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

// walkthroughWith is the walkthrough Bundle with the Encounter's
// serviceProvider set to the ODS code ods (removed when ods is "").
func walkthroughWith(t *testing.T, ods string) map[string]any {
	t.Helper()
	b := walkthrough(t)
	for _, en := range b["entry"].([]any) {
		res := en.(map[string]any)["resource"].(map[string]any)
		if res["resourceType"] != "Encounter" {
			continue
		}
		delete(res, "serviceProvider")
		if ods != "" {
			res["serviceProvider"] = map[string]any{"identifier": map[string]any{
				"system": "https://fhir.nhs.uk/Id/ods-organization-code", "value": ods}}
		}
	}
	return b
}

// createdID returns the id of the first created resource of typ in a
// transaction-response.
func createdID(t *testing.T, r resp, typ string) string {
	t.Helper()
	for _, en := range r.json["entry"].([]any) {
		if loc := str(en, "response", "location"); strings.HasPrefix(loc, typ+"/") {
			return strings.Split(strings.TrimPrefix(loc, typ+"/"), "/")[0]
		}
	}
	t.Fatalf("no %s in %s", typ, r.body)
	return ""
}

// The case belongs to the trust that sent it: trust RXA posting an
// Encounter whose serviceProvider names RXX is refused, by REST and in a
// transaction, and never makes a case owned by RXX.
func TestCaseBelongsToTheSendingTrust(t *testing.T) {
	e := newEnv(t) // the caller is trust RXA
	encounterOf := func(b map[string]any) map[string]any {
		return b["entry"].([]any)[1].(map[string]any)["resource"].(map[string]any)
	}
	pat := e.do("POST", "/fhir/Patient", fixture(t, "patient.json")).mustStatus(t, http.StatusCreated)
	rest := func(ods string) map[string]any {
		enc := encounterOf(walkthroughWith(t, ods))
		enc["subject"] = map[string]any{"reference": "Patient/" + str(pat.json, "id")}
		return enc
	}

	t.Run("REST create naming another trust", func(t *testing.T) {
		r := e.do("POST", "/fhir/Encounter", rest("RXX")).mustStatus(t, http.StatusUnprocessableEntity)
		if code, ex := r.issue(t); code != "business-rule" || ex != "Encounter.serviceProvider" {
			t.Fatalf("%s at %s: %s", code, ex, r.body)
		}
	})
	t.Run("transaction naming another trust", func(t *testing.T) {
		r := e.do("POST", "/fhir", walkthroughWith(t, "RXX")).mustStatus(t, http.StatusUnprocessableEntity)
		if !r.hasIssue("business-rule", "Bundle.entry[1].resource.serviceProvider") {
			t.Fatalf("%s", r.body)
		}
	})
	t.Run("update naming another trust", func(t *testing.T) {
		c := e.do("POST", "/fhir/Encounter", rest("RXA")).mustStatus(t, http.StatusCreated)
		enc := rest("RXX")
		enc["id"] = str(c.json, "id")
		e.do("PUT", "/fhir/Encounter/"+str(c.json, "id"), enc).mustStatus(t, http.StatusUnprocessableEntity)
	})
	// Nothing refused was stored: every Encounter held belongs to RXA and
	// none names RXX.
	s := e.do("GET", "/fhir/Encounter", nil).mustStatus(t, http.StatusOK)
	if strings.Contains(string(s.body), `"RXX"`) {
		t.Fatalf("an Encounter naming RXX was stored: %s", s.body)
	}

	for _, tc := range []struct{ name, ods string }{{"own code", "RXA"}, {"own site", "RXA01"}, {"no serviceProvider", ""}} {
		t.Run("transaction with "+tc.name, func(t *testing.T) {
			r := e.do("POST", "/fhir", walkthroughWith(t, tc.ods)).mustStatus(t, http.StatusOK)
			id := createdID(t, r, "Encounter")
			c := e.do("GET", "/api/v1/cases/"+id, nil).mustStatus(t, http.StatusOK)
			if got := str(c.json, "case", "trust"); got != "RXA" {
				t.Fatalf("trust %q, want RXA: %s", got, c.body)
			}
			// Another trust cannot see it at all.
			rxb := e.tokenFor("trust-b", auth.RoleTrust, "RXB", clinicalScopes)
			e.do("GET", "/api/v1/cases/"+id, nil, "Authorization", "Bearer "+rxb).mustStatus(t, http.StatusNotFound)
		})
	}
	t.Run("REST create with own code", func(t *testing.T) {
		r := e.do("POST", "/fhir/Encounter", rest("RXA")).mustStatus(t, http.StatusCreated)
		c := e.do("GET", "/api/v1/cases/"+str(r.json, "id"), nil).mustStatus(t, http.StatusOK)
		if got := str(c.json, "case", "trust"); got != "RXA" {
			t.Fatalf("trust %q: %s", got, c.body)
		}
	})
}

// frenchPatient lives in Paris: an overseas visitor admitted in England.
func frenchPatient() map[string]any {
	return map[string]any{"resourceType": "Patient",
		"identifier": []any{map[string]any{"system": "https://fhir.nhs.uk/Id/nhs-number", "value": "9476719931"}},
		"birthDate":  "1950-06-01",
		"address": []any{map[string]any{"use": "home", "line": []any{"1 rue de Rivoli"}, "city": "Paris",
			"postalCode": "75001", "country": "FR"}}}
}

// An overseas visitor's stay is accepted at intake; the case says there is
// no UK position; placement answers 422 saying what to send, never naming a
// model field.
func TestOverseasVisitorIsAcceptedAndPlacementSaysWhatToSend(t *testing.T) {
	e := newEnv(t)
	b := walkthrough(t)
	b["entry"].([]any)[0].(map[string]any)["resource"] = frenchPatient()
	r := e.do("POST", "/fhir", b).mustStatus(t, http.StatusOK)
	encID, srID := createdID(t, r, "Encounter"), createdID(t, r, "ServiceRequest")
	// The Encounter entry says why there will be no distance ranking, at an
	// element the entry holds.
	if out := r.json["entry"].([]any)[1].(map[string]any)["response"].(map[string]any)["outcome"]; out == nil ||
		!(resp{json: out.(map[string]any)}).hasIssue("business-rule", "Bundle.entry[1].resource.subject") {
		t.Fatalf("no warning on the Encounter entry: %s", r.body)
	}

	// By REST too, a single Encounter for the same patient.
	enc := b["entry"].([]any)[1].(map[string]any)["resource"].(map[string]any)
	enc["subject"] = map[string]any{"reference": "Patient/" + createdID(t, r, "Patient")}
	rest := e.do("POST", "/fhir/Encounter", enc, "Prefer", "return=OperationOutcome").mustStatus(t, http.StatusCreated)
	if !rest.hasIssue("business-rule", "Encounter.subject") {
		t.Fatalf("%s", rest.body)
	}

	c := e.do("GET", "/api/v1/cases/"+encID, nil).mustStatus(t, http.StatusOK)
	if c.json["case"].(map[string]any)["noUKPosition"] != true {
		t.Fatalf("case does not record the missing UK position: %s", c.body)
	}
	if str(c.json, "case", "patient", "homeOutcode") != "" || !strings.Contains(string(c.body), "outside the UK") {
		t.Fatalf("%s", c.body)
	}
	if len(c.json["careNeeds"].([]any)) != 1 {
		t.Fatalf("care need not accepted: %s", c.body)
	}

	p := e.do("GET", "/fhir/ServiceRequest/"+srID+"/$placement-options", nil).mustStatus(t, http.StatusUnprocessableEntity)
	if code, ex := p.issue(t); code != "business-rule" || ex != "Patient.address.postalCode" {
		t.Fatalf("%s at %s: %s", code, ex, p.body)
	}
	for _, internal := range []string{"homeOutcode", "searchArea", "outcode "} {
		if strings.Contains(string(p.body), internal) || strings.Contains(string(r.body), internal) {
			t.Fatalf("a message names the internal field %q: %s %s", internal, p.body, r.body)
		}
	}
	if !strings.Contains(string(p.body), "search-area") {
		t.Fatalf("the 422 does not say what to send: %s", p.body)
	}

	// Sending what the 422 asks for is enough: a search area on the request.
	sr := e.do("GET", "/fhir/ServiceRequest/"+srID, nil).mustStatus(t, http.StatusOK).json
	sr["extension"] = append(sr["extension"].([]any), map[string]any{
		"url": "https://fhir.discharge-gateway.example/StructureDefinition/search-area", "valueString": "M14"})
	e.do("PUT", "/fhir/ServiceRequest/"+srID, sr).mustStatus(t, http.StatusOK)
	e.do("GET", "/fhir/ServiceRequest/"+srID+"/$placement-options", nil).mustStatus(t, http.StatusOK)
}

// An Encounter stored before the serviceProvider rule (naming another
// trust) is still readable as a case: no case, and a warning saying why,
// never a 4xx on a read.
func TestCaseReadOfAnEncounterStoredBeforeTheRule(t *testing.T) {
	e := newEnv(t)
	enc := walkthroughWith(t, "RXX")["entry"].([]any)[1].(map[string]any)["resource"].(map[string]any)
	delete(enc, "subject")
	enc["id"] = "legacy-1"
	raw, err := json.Marshal(enc)
	if err != nil {
		t.Fatal(err)
	}
	w := fhir.Write{Resource: fhir.Resource{Type: "Encounter", ID: "legacy-1", VersionID: 1, LastUpdated: time.Now().UTC(), JSON: raw}}
	if err := e.record.Commit(context.Background(), "RXA", []fhir.Write{w}, nil); err != nil {
		t.Fatal(err)
	}
	c := e.do("GET", "/api/v1/cases/legacy-1", nil).mustStatus(t, http.StatusOK)
	if c.json["case"] != nil || !strings.Contains(string(c.body), `"expression":"Encounter.serviceProvider"`) {
		t.Fatalf("%s", c.body)
	}
}

// caseEncounter posts, as the client of token, an inpatient Encounter for
// a new Patient with the discharge extensions given (empty: left out) and
// returns its id.
func (e *env) caseEncounter(t *testing.T, token, pathway, drd, nctrSince string) string {
	t.Helper()
	auth := []string{"Authorization", "Bearer " + token}
	pat := e.do("POST", "/fhir/Patient", fixture(t, "patient.json"), auth...).mustStatus(t, http.StatusCreated)
	const base = "https://fhir.discharge-gateway.example/"
	var ext []any
	if pathway != "" {
		ext = append(ext, map[string]any{"url": base + "StructureDefinition/discharge-pathway",
			"valueCodeableConcept": map[string]any{"coding": []any{map[string]any{"system": base + "CodeSystem/discharge-pathway", "code": pathway}}}})
	}
	if drd != "" {
		ext = append(ext, map[string]any{"url": base + "StructureDefinition/discharge-ready-date", "valueDate": drd})
	}
	if nctrSince != "" {
		ext = append(ext, map[string]any{"url": base + "StructureDefinition/criteria-to-reside", "extension": []any{
			map[string]any{"url": "met", "valueBoolean": false}, map[string]any{"url": "since", "valueDate": nctrSince}}})
	}
	enc := map[string]any{"resourceType": "Encounter", "status": "in-progress",
		"class":   map[string]any{"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "IMP"},
		"subject": map[string]any{"reference": "Patient/" + str(pat.json, "id")}, "extension": ext}
	r := e.do("POST", "/fhir/Encounter", enc, auth...).mustStatus(t, http.StatusCreated)
	return str(r.json, "id")
}

// event appends a case event as the offer workflow would write it.
func (e *env) event(t *testing.T, partition, caseID string, at time.Time, kind referral.EventKind, state referral.CaseState, task, provider string) {
	t.Helper()
	if _, err := sqlstore.NewCases(e.record).AppendEvent(context.Background(), referral.Event{Partition: partition, CaseID: caseID,
		At: at, Kind: kind, State: state, Actor: "trust-a", ActorOrg: partition, TaskID: task, ProviderOrg: provider}); err != nil {
		t.Fatal(err)
	}
}

// The case view shows the state after the latest event, the timeline in
// order, the measures from the Discharge Ready Date and the escalation.
func TestCaseStateTimelineAndMeasures(t *testing.T) {
	e := newEnv(t)
	today := discharge.DateOf(time.Now().UTC())
	drd := discharge.DayStart(today).Add(-48 * time.Hour)
	id := e.caseEncounter(t, e.token, "3", discharge.DateOf(drd).String(), discharge.DateOf(drd).String())

	c := e.do("GET", "/api/v1/cases/"+id, nil).mustStatus(t, http.StatusOK)
	if str(c.json, "state") != "referred" || len(c.json["timeline"].([]any)) != 0 || len(c.json["offers"].([]any)) != 0 {
		t.Fatalf("a case without events: %s", c.body)
	}
	if str(c.json, "stateSince") == "" || c.json["measures"].(map[string]any)["nctrDays"] != float64(2) ||
		c.json["measures"].(map[string]any)["drdToShortlistSeconds"] != nil {
		t.Fatalf("measures %v", c.json["measures"])
	}

	e.event(t, "RXA", id, drd.Add(30*time.Minute), referral.EventShortlisted, referral.CaseShortlisted, "", "")
	e.event(t, "RXA", id, drd.Add(time.Hour), referral.EventOfferSent, referral.CaseOffersSent, "t1", "1-101")
	e.event(t, "RXA", id, drd.Add(2*time.Hour), referral.EventOfferRejected, referral.CaseOffersSent, "t1", "1-101")
	c = e.do("GET", "/api/v1/cases/"+id, nil).mustStatus(t, http.StatusOK)
	tl := c.json["timeline"].([]any)
	m := c.json["measures"].(map[string]any)
	if str(c.json, "state") != "offers-sent" || len(tl) != 3 || str(tl[0], "kind") != "shortlisted" || str(tl[2], "kind") != "offer-rejected" ||
		str(tl[1], "task") != "t1" || m["drdToShortlistSeconds"] != float64(1800) || m["drdToAcceptanceSeconds"] != nil {
		t.Fatalf("after offers: %s", c.body)
	}
	if esc := c.json["escalation"].([]any); len(esc) != 1 || esc[0] != "no-acceptance" {
		t.Fatalf("escalation %v: the first offer went 47 hours ago unaccepted", esc)
	}
	e.event(t, "RXA", id, drd.Add(3*time.Hour), referral.EventOfferAccepted, referral.CaseAccepted, "t2", "1-102")
	c = e.do("GET", "/api/v1/cases/"+id, nil).mustStatus(t, http.StatusOK)
	if str(c.json, "state") != "accepted" || c.json["measures"].(map[string]any)["drdToAcceptanceSeconds"] != float64(3*3600) ||
		len(c.json["escalation"].([]any)) != 0 {
		t.Fatalf("after acceptance: %s", c.body)
	}
}

// The worklist: a trust sees its own open cases, a hub its members', a
// care provider nothing; filters, sort, paging and the total.
func TestWorklistTenancyFiltersAndPaging(t *testing.T) {
	e := newEnv(t)
	rxb := e.tokenFor("trust-b", auth.RoleTrust, "RXB", clinicalScopes)
	hub := e.tokenFor("hub", auth.RoleHub, "QXH", "system/Patient.rs system/Encounter.rs system/ServiceRequest.rs", "RXA", "RXB")
	provider := e.tokenFor("home", auth.RoleCareProvider, "1-101", directoryScopes+" system/Encounter.rs")
	day := func(n int) string {
		return discharge.DateOf(time.Now().UTC().Add(time.Duration(-n) * 24 * time.Hour)).String()
	}
	a1 := e.caseEncounter(t, e.token, "3", day(3), day(10)) // 10 NCTR days: escalated
	a2 := e.caseEncounter(t, e.token, "1", day(1), day(2))
	a3 := e.caseEncounter(t, e.token, "3", day(2), "")
	b1 := e.caseEncounter(t, rxb, "3", day(5), day(5))
	done := e.caseEncounter(t, e.token, "3", day(9), day(9))
	e.event(t, "RXA", done, time.Now(), referral.EventDischarged, referral.CaseDischarged, "", "")

	ids := func(r resp) string {
		var out []string
		for _, it := range r.json["items"].([]any) {
			out = append(out, str(it, "id"))
		}
		return strings.Join(out, ",")
	}
	as := func(tok string) []string { return []string{"Authorization", "Bearer " + tok} }
	for _, tc := range []struct {
		name, query, token string
		want               []string
		total              int
	}{
		{"a trust's own open cases, most NCTR days first", "", e.token, []string{a1, a2, a3}, 3},
		{"another trust", "", rxb, []string{b1}, 1},
		{"a hub sees its members' cases merged", "", hub, []string{a1, b1, a2, a3}, 4},
		{"a hub narrows to one member", "?trust=RXB", hub, []string{b1}, 1},
		{"a trust asking for another's is given nothing", "?trust=RXB", e.token, nil, 0},
		{"pathway", "?pathway=3", hub, []string{a1, b1, a3}, 3},
		{"minNctrDays", "?minNctrDays=5", hub, []string{a1, b1}, 2},
		{"escalated", "?escalated=true", hub, []string{a1}, 1},
		{"by DRD", "?sort=drd", e.token, []string{a1, a3, a2}, 3},
		{"closed when asked", "?state=discharged", e.token, []string{done}, 1},
		{"merged paging", "?_count=2&_offset=1", hub, []string{b1, a2}, 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do("GET", "/api/v1/cases"+tc.query, nil, as(tc.token)...).mustStatus(t, http.StatusOK)
			if got := ids(r); got != strings.Join(tc.want, ",") || num(r.json, "total") != float64(tc.total) {
				t.Fatalf("got %s total %v, want %s total %d", got, r.json["total"], strings.Join(tc.want, ","), tc.total)
			}
		})
	}
	r := e.do("GET", "/api/v1/cases?_count=1", nil).mustStatus(t, http.StatusOK)
	it := r.json["items"].([]any)[0]
	if str(it, "trust") != "RXA" || str(it, "pathway") != "3" || it.(map[string]any)["nctrDays"] != float64(10) ||
		str(it, "dischargeReadyDate") != day(3) || len(it.(map[string]any)["escalation"].([]any)) != 1 {
		t.Fatalf("item %v", it)
	}
	e.do("GET", "/api/v1/cases", nil, as(provider)...).mustStatus(t, http.StatusForbidden)
	for _, bad := range []string{"?state=waiting", "?pathway=4", "?minNctrDays=-1", "?sort=name", "?escalated=yes", "?_count=x", "?colour=red"} {
		r := e.do("GET", "/api/v1/cases"+bad, nil)
		if r.status != http.StatusBadRequest {
			t.Errorf("%s: %d %s", bad, r.status, r.body)
		}
	}
}

// Triage: a hub for a member trust's case, or the trust itself; a hub of
// other trusts and a care provider cannot; codes are checked; the decision
// is an event, shown in the case, and audited.
func TestTriage(t *testing.T) {
	e := newEnv(t)
	admin := e.tokenFor("ops", auth.RoleAdmin, "DGADMIN", "system/AuditEvent.rs")
	hub := e.tokenFor("hub", auth.RoleHub, "QXH", "system/Patient.rs system/Encounter.rs system/ServiceRequest.rs", "RXA", "RXB")
	otherHub := e.tokenFor("hub-2", auth.RoleHub, "QXZ", "system/Patient.rs system/Encounter.rs system/ServiceRequest.rs", "RXC")
	provider := e.tokenFor("home", auth.RoleCareProvider, "1-101", directoryScopes+" system/Encounter.rs")
	id := e.caseEncounter(t, e.token, "1", "", "")
	as := func(tok string) []string {
		return []string{"Authorization", "Bearer " + tok, "X-Request-Id", "triage-" + tok[len(tok)-6:]}
	}
	decision := map[string]any{"pathway": "3", "destination": "54", "levelOfCare": "nursing"}

	e.do("POST", "/api/v1/cases/"+id+"/triage", decision, as(provider)...).mustStatus(t, http.StatusForbidden)
	e.do("POST", "/api/v1/cases/"+id+"/triage", decision, as(otherHub)...).mustStatus(t, http.StatusNotFound)
	for field, bad := range map[string]map[string]any{
		"pathway":     {"pathway": "5", "destination": "54", "levelOfCare": "nursing"},
		"destination": {"pathway": "3", "destination": "zz", "levelOfCare": "nursing"},
		"levelOfCare": {"pathway": "3", "destination": "54", "levelOfCare": "spa"},
		"colour":      {"pathway": "3", "destination": "54", "levelOfCare": "nursing", "colour": "red"},
	} {
		r := e.do("POST", "/api/v1/cases/"+id+"/triage", bad, as(hub)...)
		if r.status != http.StatusBadRequest || !r.hasIssue(r.json["issue"].([]any)[0].(map[string]any)["code"].(string), field) {
			t.Errorf("%s: %d %s", field, r.status, r.body)
		}
	}
	if c := e.do("GET", "/api/v1/cases/"+id, nil).mustStatus(t, http.StatusOK); c.json["triage"] != nil {
		t.Fatalf("a refused decision was recorded: %s", c.body)
	}
	r := e.do("POST", "/api/v1/cases/"+id+"/triage", decision, as(hub)...).mustStatus(t, http.StatusOK)
	tri := r.json["triage"].(map[string]any)
	if str(tri, "pathway") != "3" || str(tri, "destination") != "54" || str(tri, "levelOfCare") != "nursing" || str(tri, "actorOrg") != "QXH" {
		t.Fatalf("triage %v", tri)
	}
	tl := r.json["timeline"].([]any)
	if len(tl) != 1 || str(tl[0], "kind") != "triage" || str(tl[0], "state") != "referred" || str(r.json, "state") != "referred" {
		t.Fatalf("timeline %v state %s", tl, str(r.json, "state"))
	}
	// The trust may record its own; the latest decision is shown.
	e.do("POST", "/api/v1/cases/"+id+"/triage", map[string]any{"pathway": "2", "destination": "19", "levelOfCare": "d2a-bed"}, as(e.token)...).mustStatus(t, http.StatusOK)
	c := e.do("GET", "/api/v1/cases/"+id, nil).mustStatus(t, http.StatusOK)
	if str(c.json, "triage", "pathway") != "2" || len(c.json["timeline"].([]any)) != 2 {
		t.Fatalf("after the trust's decision: %s", c.body)
	}
	// The hub still writes nothing else.
	e.do("PUT", "/fhir/Encounter/"+id, map[string]any{"resourceType": "Encounter", "id": id, "status": "finished"}, as(hub)...).mustStatus(t, http.StatusForbidden)

	trail, _ := e.auditTrail(t, admin, "&entity=Encounter/"+id)
	for _, rid := range []string{"triage-" + hub[len(hub)-6:], "triage-" + provider[len(provider)-6:], "triage-" + otherHub[len(otherHub)-6:]} {
		if len(trail[rid]) == 0 {
			t.Errorf("no audit entry for request %s: %v", rid, trail)
		}
	}
}

// The measures per trust and per provider, from the cases' events.
func TestMeasuresPerTrustAndProvider(t *testing.T) {
	e := newEnv(t)
	hub := e.tokenFor("hub", auth.RoleHub, "QXH", "system/Patient.rs system/Encounter.rs system/ServiceRequest.rs", "RXA", "RXB")
	drd := discharge.DayStart(discharge.DateOf(time.Now().UTC())).Add(-72 * time.Hour)
	for i, shortlistAfter := range []time.Duration{time.Hour, 3 * time.Hour} {
		id := e.caseEncounter(t, e.token, "3", discharge.DateOf(drd).String(), "")
		e.event(t, "RXA", id, drd.Add(shortlistAfter), referral.EventShortlisted, referral.CaseShortlisted, "", "")
		task := "t" + string(rune('a'+i))
		e.event(t, "RXA", id, drd.Add(shortlistAfter+time.Hour), referral.EventOfferSent, referral.CaseOffersSent, task, "P1")
		if i == 0 {
			e.event(t, "RXA", id, drd.Add(shortlistAfter+3*time.Hour), referral.EventOfferAccepted, referral.CaseAccepted, task, "P1")
			e.event(t, "RXA", id, drd.Add(shortlistAfter+5*time.Hour), referral.EventConfirmed, referral.CaseConfirmed, task, "P1")
		} else {
			e.event(t, "RXA", id, drd.Add(shortlistAfter+2*time.Hour), referral.EventOfferRejected, referral.CaseOffersSent, task, "P1")
		}
	}
	r := e.do("GET", "/api/v1/measures", nil, "Authorization", "Bearer "+hub).mustStatus(t, http.StatusOK)
	trusts := r.json["trusts"].([]any)
	if len(trusts) != 2 || str(trusts[0], "trust") != "RXA" || num(trusts[0], "cases") != 2 {
		t.Fatalf("trusts %v", trusts)
	}
	short := trusts[0].(map[string]any)["drdToShortlist"].(map[string]any)
	if num(short, "count") != 2 || num(short, "medianSeconds") != 3600 || num(short, "p90Seconds") != 3*3600 {
		t.Fatalf("drdToShortlist %v", short)
	}
	provs := r.json["providers"].([]any)
	if len(provs) != 1 || str(provs[0], "provider") != "P1" || num(provs[0], "offers") != 2 || num(provs[0], "answered") != 2 ||
		num(provs[0], "accepted") != 1 || num(provs[0], "acceptanceRate") != 0.5 || num(provs[0], "cases") != 1 {
		t.Fatalf("providers %v", provs)
	}
	if tta := provs[0].(map[string]any)["timeToAnswer"].(map[string]any); num(tta, "medianSeconds") != 3600 || num(tta, "p90Seconds") != 2*3600 {
		t.Fatalf("timeToAnswer %v", tta)
	}
	if r := e.do("GET", "/api/v1/measures?trust=RXB", nil, "Authorization", "Bearer "+hub).mustStatus(t, http.StatusOK); len(r.json["providers"].([]any)) != 0 {
		t.Fatalf("RXB has no offers: %s", r.body)
	}
	e.do("GET", "/api/v1/measures?since=yesterday", nil).mustStatus(t, http.StatusBadRequest)
}

// The Encounter search parameters the gateway defines are in the
// CapabilityStatement, each definition is served as a valid R4
// SearchParameter with the same code and type, and each works in a search.
func TestEncounterSearchParametersPublished(t *testing.T) {
	e := newEnv(t)
	md := e.do("GET", "/fhir/metadata", nil).mustStatus(t, http.StatusOK)
	seen := map[string]bool{}
	for _, r := range md.json["rest"].([]any)[0].(map[string]any)["resource"].([]any) {
		if str(r, "type") != "Encounter" {
			continue
		}
		for _, sp := range r.(map[string]any)["searchParam"].([]any) {
			def := str(sp, "definition")
			if !strings.HasPrefix(def, "https://fhir.discharge-gateway.example/SearchParameter/") {
				continue
			}
			seen[str(sp, "name")] = true
			id := def[strings.LastIndex(def, "/")+1:]
			got := e.do("GET", "/fhir/SearchParameter/"+id, nil).mustStatus(t, http.StatusOK)
			if _, err := fhir.Validate(got.body, "SearchParameter", fhir.DefaultLimits); err != nil {
				t.Errorf("%s: %v", id, err)
			}
			if str(got.json, "url") != def || str(got.json, "code") != str(sp, "name") || str(got.json, "type") != str(sp, "type") ||
				!strings.Contains(str(got.json, "expression"), "extension.where(url = ") {
				t.Errorf("%s: %s", id, got.body)
			}
		}
	}
	for _, name := range []string{"pathway", "discharge-ready-date", "expected-discharge-date", "nctr-since"} {
		if !seen[name] {
			t.Errorf("the CapabilityStatement lacks Encounter?%s", name)
		}
	}
	e.do("GET", "/fhir/SearchParameter/Encounter-status", nil).mustStatus(t, http.StatusNotFound) // HL7's own
	day := func(n int) string {
		return discharge.DateOf(time.Now().UTC().Add(time.Duration(-n) * 24 * time.Hour)).String()
	}
	a := e.caseEncounter(t, e.token, "3", day(3), day(4))
	e.caseEncounter(t, e.token, "1", day(1), "")
	for q, want := range map[string]int{"pathway=3": 1, "pathway=1,3": 2, "discharge-ready-date=le" + day(2): 1, "nctr-since=le" + day(1): 1, "pathway=0": 0} {
		r := e.do("GET", "/fhir/Encounter?"+q, nil).mustStatus(t, http.StatusOK)
		if num(r.json, "total") != float64(want) {
			t.Errorf("Encounter?%s: total %v, want %d", q, r.json["total"], want)
		}
		if q == "nctr-since=le"+day(1) && !strings.Contains(string(r.body), a) {
			t.Errorf("Encounter?%s lacks %s", q, a)
		}
	}
}

// TestDischargeCaseFHIR: Encounter/{id}/$discharge-case is the case of
// GET /api/v1/cases/{id} as FHIR: one Provenance per timeline event in
// order (activity the event's kind, target its Task, the state after it),
// then the MeasureReport with the case's state and a group per measure,
// valid R4, under the same tenancy (another trust and a provider get 404
// or 403, a hub of the trust sees it), by GET and POST. The walk-through
// case's view is pinned as the golden timeline; rewrite with
// `go test ./gateway -run DischargeCaseFHIR -update` once a change is
// intended (times and the measures' values, which move with the clock,
// are normalised).
func TestDischargeCaseFHIR(t *testing.T) {
	w := newReferralWorld(t)
	e := w.e
	tasks := [3]resp{w.send(t, 0), w.send(t, 1), w.send(t, 2)}
	e.do("PUT", "/fhir/Task/"+str(tasks[1].json, "id"), w.answer(tasks[1].json, 1, "rejected"),
		append(bearer(w.homes[1].token), "If-Match", `W/"1"`)...).mustStatus(t, http.StatusOK)
	e.do("PUT", "/fhir/Task/"+str(tasks[0].json, "id"), w.answer(tasks[0].json, 0, "accepted"),
		append(bearer(w.homes[0].token), "If-Match", `W/"1"`)...).mustStatus(t, http.StatusOK)
	e.do("POST", "/fhir/Task/"+str(tasks[0].json, "id")+"/$confirm", nil, bearer(w.trust)...).mustStatus(t, http.StatusOK)

	encID := strings.TrimPrefix(w.encounter, "Encounter/")
	view := e.do("GET", "/api/v1/cases/"+encID, nil, bearer(w.trust)...).mustStatus(t, http.StatusOK)
	r := e.do("GET", "/fhir/"+w.encounter+"/$discharge-case", nil, bearer(w.trust)...).mustStatus(t, http.StatusOK)
	if _, err := fhir.Validate(r.body, "Bundle", fhir.DefaultLimits); err != nil {
		t.Fatalf("not valid R4: %v\n%s", err, r.body)
	}
	timeline := view.json["timeline"].([]any)
	entries := r.json["entry"].([]any)
	if str(r.json, "type") != "collection" || len(entries) != len(timeline)+1 {
		t.Fatalf("%d entries for %d events: %s", len(entries), len(timeline), r.body)
	}
	for i, ev := range timeline {
		p := entries[i].(map[string]any)["resource"]
		if str(p, "resourceType") != "Provenance" || str(p, "activity", "coding", 0, "code") != str(ev, "kind") ||
			str(p, "extension", 0, "valueCoding", "code") != str(ev, "state") {
			t.Errorf("event %d: %v, want %v", i, p, ev)
		}
		if task := str(ev, "task"); task != "" && str(p, "target", 0, "reference") != "Task/"+task {
			t.Errorf("event %d targets %s, want Task/%s", i, str(p, "target", 0, "reference"), task)
		}
	}
	mr := entries[len(timeline)].(map[string]any)["resource"]
	if str(mr, "resourceType") != "MeasureReport" || str(mr, "extension", 0, "valueCoding", "code") != str(view.json, "state") ||
		str(mr, "state") != "" || str(view.json, "state") != "confirmed" || str(mr, "evaluatedResource", 0, "reference") != w.encounter {
		t.Fatalf("measure report %v for a case %s", mr, str(view.json, "state"))
	}
	if post := e.do("POST", "/fhir/"+w.encounter+"/$discharge-case", nil, bearer(w.trust)...).mustStatus(t, http.StatusOK); len(post.json["entry"].([]any)) != len(entries) {
		t.Errorf("POST answers %s", post.body)
	}
	e.do("GET", "/fhir/"+w.encounter+"/$discharge-case", nil, bearer(w.hub)...).mustStatus(t, http.StatusOK)
	e.do("GET", "/fhir/"+w.encounter+"/$discharge-case", nil, bearer(w.otherTrust)...).mustStatus(t, http.StatusNotFound)
	e.do("GET", "/fhir/"+w.encounter+"/$discharge-case", nil, bearer(w.otherHub)...).mustStatus(t, http.StatusNotFound)
	if got := e.do("GET", "/fhir/"+w.encounter+"/$discharge-case", nil, bearer(w.homes[0].token)...); got.status != http.StatusForbidden && got.status != http.StatusNotFound {
		t.Errorf("a provider reads the case: %d %s", got.status, got.body)
	}

	got := normalise(t, r.body, e.srv.URL+"/fhir", w.ids)
	got = regexp.MustCompile(`("value": )-?\d+`).ReplaceAll(got, []byte("${1}0"))
	file := filepath.Join("testdata", "golden", "discharge-case.json")
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
}
