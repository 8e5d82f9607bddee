package gateway_test

import (
	"bytes"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dischargegateway/gateway/auth"
	"github.com/dischargegateway/gateway/fhir"
	"github.com/dischargegateway/gateway/mappings"
	"github.com/dischargegateway/gateway/referral"
)

// Scopes of the referral loop's clients in these tests: a trust or hub
// sends and confirms, a care provider reads and answers.
const (
	taskTrustScopes = clinicalScopes + " system/Task.crus"
	taskHubScopes   = "system/Patient.rs system/Encounter.rs system/ServiceRequest.rs system/Task.crus"
	taskHomeScopes  = directoryScopes + " system/Task.rus system/CodeSystem.rs"
)

// home is one care provider of a referral world: its client's token and
// the directory entries it registered.
type home struct {
	token, org, loc, svc string // org, loc and svc are Type/id references
}

// referralWorld is a trust's case (the walk-through: Patient, Encounter,
// ServiceRequest) and three care homes, each with one nursing-dementia
// bed free, and the tokens of every party.
type referralWorld struct {
	e                                       *env
	trust, otherTrust, hub, otherHub, admin string
	homes                                   [3]home
	sr, patient, encounter                  string // Type/id
	ids                                     map[string]string
}

func newReferralWorld(t *testing.T) *referralWorld {
	t.Helper()
	e := newEnv(t)
	w := &referralWorld{e: e, ids: map[string]string{},
		trust:      e.tokenFor("trust-a", auth.RoleTrust, "RXA", taskTrustScopes),
		otherTrust: e.tokenFor("trust-b", auth.RoleTrust, "RXB", taskTrustScopes),
		hub:        e.tokenFor("hub-a", auth.RoleHub, "QXH", taskHubScopes, "RXA"),
		otherHub:   e.tokenFor("hub-b", auth.RoleHub, "QXB", taskHubScopes, "RXB"),
		admin:      e.tokenFor("ops", auth.RoleAdmin, "DGADMIN", "system/AuditEvent.rs system/Task.rs")}
	e.token = w.trust
	for i := range w.homes {
		cqc := "1-00000000" + string(rune('1'+i))
		tok := e.tokenFor("home-"+cqc, auth.RoleCareProvider, cqc, taskHomeScopes)
		r := e.do("POST", "/fhir", providerBundle(cqc, "1-46608820"+string(rune('1'+i)), "nursing-dementia"), "Authorization", "Bearer "+tok).
			mustStatus(t, http.StatusOK)
		org, loc, svc := refsOf(t, r)
		w.homes[i] = home{token: tok, org: org, loc: loc, svc: svc}
		for n, ref := range []string{org, loc, svc} {
			w.ids[strings.SplitN(ref, "/", 2)[1]] = []string{"ORG", "LOC", "SVC"}[n] + string(rune('1'+i)) + "-ID"
		}
		body := map[string]any{"asOf": time.Now().Add(-time.Hour).UTC().Format(time.RFC3339), "beds": []any{map[string]any{
			"type": "nursing-dementia", "maxCapacity": 30, "occupied": 29, "reserved": 0, "acceptingAdmissions": 1}}}
		e.do("PUT", "/api/v1/capacity/"+strings.TrimPrefix(loc, "Location/"), body, "Authorization", "Bearer "+tok,
			"Content-Type", "application/json").mustStatus(t, http.StatusOK)
	}
	r := e.do("POST", "/fhir", walkthrough(t)).mustStatus(t, http.StatusOK)
	for _, en := range r.json["entry"].([]any) {
		ref := strings.Split(str(en, "response", "location"), "/_history/")[0]
		typ, id, _ := strings.Cut(ref, "/")
		w.ids[id] = strings.ToUpper(typ) + "-ID"
		switch typ {
		case "ServiceRequest":
			w.sr = ref
		case "Patient":
			w.patient = ref
		case "Encounter":
			w.encounter = ref
		}
	}
	return w
}

// offer is the Task a trust sends to home i.
func (w *referralWorld) offer(i int, deadline time.Time) map[string]any {
	param := func(code string) map[string]any {
		return map[string]any{"coding": []any{map[string]any{"system": mappings.OfferParameterSystem, "code": code}}}
	}
	return map[string]any{"resourceType": "Task", "status": "requested", "intent": "order",
		"focus":       map[string]any{"reference": w.sr},
		"for":         map[string]any{"reference": w.patient},
		"owner":       map[string]any{"reference": w.homes[i].org},
		"requester":   map[string]any{"identifier": map[string]any{"system": mappings.ODSSystem, "value": "RXA"}},
		"restriction": map[string]any{"period": map[string]any{"end": deadline.UTC().Format(time.RFC3339)}},
		"input": []any{
			map[string]any{"type": param(mappings.OfferParamHealthcareService), "valueReference": map[string]any{"reference": w.homes[i].svc}},
			map[string]any{"type": param(mappings.OfferParamLocation), "valueReference": map[string]any{"reference": w.homes[i].loc}},
		}}
}

// send posts home i's offer as the trust and returns the created Task.
func (w *referralWorld) send(t *testing.T, i int) resp {
	t.Helper()
	r := w.e.do("POST", "/fhir/Task", w.offer(i, time.Now().Add(4*time.Hour)), "Authorization", "Bearer "+w.trust).
		mustStatus(t, http.StatusCreated)
	w.ids[str(r.json, "id")] = "TASK" + string(rune('1'+i)) + "-ID"
	return r
}

// answer is the Task task moved to status, as its owner would PUT it:
// accepted names the home's Location and the bed type it holds; rejected
// gives a reason.
func (w *referralWorld) answer(task map[string]any, i int, status string) map[string]any {
	out := map[string]any{}
	for k, v := range task {
		out[k] = v
	}
	out["status"] = status
	param := func(code string) map[string]any {
		return map[string]any{"coding": []any{map[string]any{"system": mappings.OfferParameterSystem, "code": code}}}
	}
	switch status {
	case "accepted":
		out["output"] = []any{
			map[string]any{"type": param(mappings.OfferParamLocation), "valueReference": map[string]any{"reference": w.homes[i].loc}},
			map[string]any{"type": param(mappings.OfferParamBedType), "valueCodeableConcept": map[string]any{
				"coding": []any{map[string]any{"system": mappings.BedTypeSystem, "code": "nursing-dementia"}}}},
		}
	case "rejected":
		out["statusReason"] = map[string]any{"coding": []any{map[string]any{"system": mappings.OfferRejectReasonSystem, "code": "no-vacancy"}}}
	}
	return out
}

func bearer(tok string) []string { return []string{"Authorization", "Bearer " + tok} }

// TestTaskRoutesGuarded: every Task route exists and the route table
// guards it by scope and role before the referral service is reached: an
// admin never touches offers, a care provider neither sends nor confirms,
// a trust without the Task scope is refused, and no token is 401.
func TestTaskRoutesGuarded(t *testing.T) {
	e := newEnv(t)
	admin := e.tokenFor("ops", auth.RoleAdmin, "DGADMIN", "system/AuditEvent.rs system/Task.rs")
	care := e.tokenFor("home", auth.RoleCareProvider, "1-000000001", taskHomeScopes)
	careAllTask := e.tokenFor("home-c", auth.RoleCareProvider, "1-000000001", taskHomeScopes+" system/Task.crus")
	noTask := e.tokenFor("trust-x", auth.RoleTrust, "RXA", clinicalScopes)
	task := `{"resourceType":"Task","status":"requested","intent":"order"}`
	taskTx := `{"resourceType":"Bundle","type":"transaction","entry":[{"resource":` + task + `,"request":{"method":"POST","url":"Task"}}]}`
	for _, tc := range []struct {
		name, method, path, token string
		body                      any
		status                    int
		code                      string
	}{
		{"admin searches", "GET", "/fhir/Task", admin, nil, 403, "forbidden"},
		{"admin reads", "GET", "/fhir/Task/x", admin, nil, 403, "forbidden"},
		{"admin reads a pack", "GET", "/fhir/Task/x/$referral-pack", admin, nil, 403, "forbidden"},
		{"provider sends", "POST", "/fhir/Task", careAllTask, task, 403, "forbidden"},
		{"provider confirms", "POST", "/fhir/Task/x/$confirm", careAllTask, nil, 403, "forbidden"},
		{"provider without create scope sends", "POST", "/fhir/Task", care, task, 403, "forbidden"},
		{"trust without Task scope searches", "GET", "/fhir/Task", noTask, nil, 403, "forbidden"},
		{"trust without Task scope sends", "POST", "/fhir/Task", noTask, task, 403, "forbidden"},
		{"trust without Task scope confirms", "POST", "/fhir/Task/x/$confirm", noTask, nil, 403, "forbidden"},
		{"trust without Task scope sends in a transaction", "POST", "/fhir", noTask, taskTx, 403, "forbidden"},
		{"provider sends in a transaction", "POST", "/fhir", careAllTask, taskTx, 403, "forbidden"},
		{"no token", "GET", "/fhir/Task", "", nil, 401, "login"},
		{"type history", "GET", "/fhir/Task/_history", care, nil, 405, "not-supported"},
		{"delete", "DELETE", "/fhir/Task/x", care, nil, 405, "not-supported"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			auth := []string{"Authorization", ""}
			if tc.token != "" {
				auth = bearer(tc.token)
			}
			r := e.do(tc.method, tc.path, tc.body, auth...).mustStatus(t, tc.status)
			if code, _ := r.issue(t); code != tc.code {
				t.Fatalf("issue code %q, want %q: %s", code, tc.code, r.body)
			}
		})
	}
}

// TestTaskConformance: the CapabilityStatement lists Task with what the
// routes serve, its search parameters, its profile and its two
// operations, and every OperationDefinition and CodeSystem it points at is
// served and valid R4.
func TestTaskConformance(t *testing.T) {
	e := newEnv(t)
	md := e.do("GET", "/fhir/metadata", nil, "Authorization", "").mustStatus(t, http.StatusOK)
	var task map[string]any
	for _, rs := range md.json["rest"].([]any)[0].(map[string]any)["resource"].([]any) {
		if str(rs, "type") == "Task" {
			task = rs.(map[string]any)
		}
	}
	if task == nil {
		t.Fatalf("no Task in the CapabilityStatement")
	}
	names := func(key, field string) []string {
		var out []string
		for _, x := range task[key].([]any) {
			out = append(out, str(x, field))
		}
		slices.Sort(out)
		return out
	}
	if got, want := names("interaction", "code"), []string{"create", "history-instance", "read", "search-type", "update", "vread"}; !slices.Equal(got, want) {
		t.Errorf("interactions %v, want %v", got, want)
	}
	if got, want := names("searchParam", "name"), []string{"_lastUpdated", "focus", "owner", "patient", "status"}; !slices.Equal(got, want) {
		t.Errorf("search params %v, want %v", got, want)
	}
	if got, want := names("operation", "name"), []string{"confirm", "referral-pack"}; !slices.Equal(got, want) {
		t.Errorf("operations %v, want %v", got, want)
	}
	if task["updateCreate"] != false || str(task, "profile") != mappings.TaskProfileURL {
		t.Errorf("updateCreate %v, profile %q", task["updateCreate"], str(task, "profile"))
	}
	for _, op := range task["operation"].([]any) {
		id := strings.TrimPrefix(str(op, "definition"), "https://fhir.discharge-gateway.example/OperationDefinition/")
		r := e.do("GET", "/fhir/OperationDefinition/"+id, nil, "Authorization", "").mustStatus(t, http.StatusOK)
		if str(r.json, "url") != str(op, "definition") || str(r.json, "code") != str(op, "name") {
			t.Errorf("%s: url %q code %q", id, str(r.json, "url"), str(r.json, "code"))
		}
		if _, err := fhir.Validate(r.body, "OperationDefinition", fhir.DefaultLimits); err != nil {
			t.Errorf("%s: not valid R4: %v", id, err)
		}
	}
	for _, id := range []string{"offer-reject-reason", "offer-business-status", "offer-parameter"} {
		r := e.do("GET", "/fhir/CodeSystem/"+id, nil).mustStatus(t, http.StatusOK)
		if _, err := fhir.Validate(r.body, "CodeSystem", fhir.DefaultLimits); err != nil {
			t.Errorf("%s: not valid R4: %v", id, err)
		}
	}
}

// TestReferralLoopOverHTTP walks the loop through the routes: offers to
// three homes, what each party sees, the answers with If-Match, the rules
// that refuse illegal moves (409 naming the rule, 412 on a stale version),
// the confirmation and what it does to the other offers.
func TestReferralLoopOverHTTP(t *testing.T) {
	w := newReferralWorld(t)
	e := w.e
	tasks := [3]resp{w.send(t, 0), w.send(t, 1), w.send(t, 2)}
	id := func(i int) string { return str(tasks[i].json, "id") }
	if tasks[0].header.Get("ETag") != `W/"1"` || !strings.Contains(tasks[0].header.Get("Location"), "/Task/"+id(0)+"/_history/1") {
		t.Fatalf("created Task headers: ETag %q Location %q", tasks[0].header.Get("ETag"), tasks[0].header.Get("Location"))
	}

	t.Run("who sees what", func(t *testing.T) {
		// A provider sees its own offers only, whatever owner it asks for.
		for i, h := range w.homes {
			r := e.do("GET", "/fhir/Task?status=requested", nil, bearer(h.token)...).mustStatus(t, http.StatusOK)
			if num(r.json, "total") != 1 || str(r.json, "entry", 0, "resource", "id") != id(i) {
				t.Errorf("home %d sees %s", i, r.body)
			}
			other := w.homes[(i+1)%3]
			r = e.do("GET", "/fhir/Task?owner="+other.org, nil, bearer(h.token)...).mustStatus(t, http.StatusOK)
			if num(r.json, "total") != 0 {
				t.Errorf("home %d sees %s's offers: %s", i, other.org, r.body)
			}
			e.do("GET", "/fhir/Task/"+id((i+1)%3), nil, bearer(h.token)...).mustStatus(t, http.StatusNotFound)
			e.do("GET", "/fhir/Task/"+id((i+1)%3)+"/$referral-pack", nil, bearer(h.token)...).mustStatus(t, http.StatusNotFound)
		}
		// The trust sees all three; the other trust none; a hub its member's.
		r := e.do("GET", "/fhir/Task?focus="+w.sr+"&_count=2", nil, bearer(w.trust)...).mustStatus(t, http.StatusOK)
		if num(r.json, "total") != 3 || len(r.json["entry"].([]any)) != 2 || !strings.Contains(string(r.body), `"next"`) {
			t.Errorf("trust's search: %s", r.body)
		}
		e.do("GET", "/fhir/Task/"+id(0), nil, bearer(w.otherTrust)...).mustStatus(t, http.StatusNotFound)
		if r := e.do("GET", "/fhir/Task", nil, bearer(w.otherTrust)...).mustStatus(t, http.StatusOK); num(r.json, "total") != 0 {
			t.Errorf("another trust sees %s", r.body)
		}
		e.do("GET", "/fhir/Task/"+id(0), nil, bearer(w.hub)...).mustStatus(t, http.StatusOK)
		e.do("GET", "/fhir/Task/"+id(0), nil, bearer(w.otherHub)...).mustStatus(t, http.StatusNotFound)
	})

	t.Run("unknown parameters warn, or refuse when strict", func(t *testing.T) {
		// As every search: the Tasks found without the parameter, and an
		// outcome entry naming it; with handling=strict a 400.
		r := e.do("GET", "/fhir/Task?focus="+w.sr+"&colour=blue", nil, bearer(w.trust)...).mustStatus(t, http.StatusOK)
		entries, _ := r.json["entry"].([]any)
		if num(r.json, "total") != 3 || len(entries) != 4 {
			t.Fatalf("search with an unknown parameter: %s", r.body)
		}
		last := entries[3].(map[string]any)
		if str(last, "search", "mode") != "outcome" || str(last, "resource", "issue", 0, "severity") != "warning" ||
			str(last, "resource", "issue", 0, "code") != "not-supported" || str(last, "resource", "issue", 0, "expression", 0) != "colour" {
			t.Errorf("outcome entry: %v", last)
		}
		if _, err := fhir.Validate(r.body, "Bundle", fhir.DefaultLimits); err != nil {
			t.Errorf("searchset with a warning not valid R4: %v", err)
		}
		strict := e.do("GET", "/fhir/Task?colour=blue", nil, append(bearer(w.trust), "Prefer", "handling=strict")...).
			mustStatus(t, http.StatusBadRequest)
		if code, _ := strict.issue(t); code != "not-supported" {
			t.Errorf("strict: %s", strict.body)
		}
	})

	t.Run("identity only after acceptance", func(t *testing.T) {
		pack := e.do("GET", "/fhir/Task/"+id(0)+"/$referral-pack", nil, bearer(w.homes[0].token)...).mustStatus(t, http.StatusOK)
		if _, err := fhir.Validate(pack.body, "Bundle", fhir.DefaultLimits); err != nil {
			t.Fatalf("pack not valid R4: %v", err)
		}
		if bytes.Contains(pack.body, []byte("9476719931")) || bytes.Contains(pack.body, []byte(mappings.NHSNumberSystem)) {
			t.Fatalf("the pack names the patient before acceptance: %s", pack.body)
		}
	})

	// Home 1 declines; home 0 accepts, first with a stale version.
	rej := e.do("PUT", "/fhir/Task/"+id(1), w.answer(tasks[1].json, 1, "rejected"), append(bearer(w.homes[1].token), "If-Match", `W/"1"`)...).
		mustStatus(t, http.StatusOK)
	if str(rej.json, "status") != "rejected" || rej.header.Get("ETag") != `W/"2"` {
		t.Fatalf("rejected: %s (ETag %s)", rej.body, rej.header.Get("ETag"))
	}
	stale := e.do("PUT", "/fhir/Task/"+id(1), w.answer(tasks[1].json, 1, "accepted"), append(bearer(w.homes[1].token), "If-Match", `W/"1"`)...).
		mustStatus(t, http.StatusPreconditionFailed)
	if code, _ := stale.issue(t); code != "conflict" {
		t.Errorf("stale If-Match: %s", stale.body)
	}
	acc := e.do("PUT", "/fhir/Task/"+id(0), w.answer(tasks[0].json, 0, "accepted"), append(bearer(w.homes[0].token), "If-Match", `W/"1"`)...).
		mustStatus(t, http.StatusOK)
	if str(acc.json, "status") != "accepted" {
		t.Fatalf("accepted: %s", acc.body)
	}

	t.Run("identity after acceptance", func(t *testing.T) {
		pack := e.do("GET", "/fhir/Task/"+id(0)+"/$referral-pack", nil, bearer(w.homes[0].token)...).mustStatus(t, http.StatusOK)
		if !bytes.Contains(pack.body, []byte("9476719931")) {
			t.Errorf("the accepting home's pack has no NHS number: %s", pack.body)
		}
	})

	t.Run("illegal moves", func(t *testing.T) {
		cur := func(i int, tok string) resp {
			return e.do("GET", "/fhir/Task/"+id(i), nil, bearer(tok)...).mustStatus(t, http.StatusOK)
		}
		rejected := cur(1, w.homes[1].token)
		for _, tc := range []struct {
			name   string
			do     func() resp
			status int
		}{
			{"accepting a rejected offer", func() resp {
				return e.do("PUT", "/fhir/Task/"+id(1), w.answer(rejected.json, 1, "accepted"),
					append(bearer(w.homes[1].token), "If-Match", rejected.header.Get("ETag"))...)
			}, http.StatusConflict},
			{"confirming a rejected offer", func() resp {
				return e.do("POST", "/fhir/Task/"+id(1)+"/$confirm", nil, bearer(w.trust)...)
			}, http.StatusConflict},
			{"confirming an unanswered offer", func() resp {
				return e.do("POST", "/fhir/Task/"+id(2)+"/$confirm", nil, bearer(w.trust)...)
			}, http.StatusConflict},
			{"a provider acting on another's offer", func() resp {
				return e.do("PUT", "/fhir/Task/"+id(2), w.answer(tasks[2].json, 2, "accepted"),
					append(bearer(w.homes[0].token), "If-Match", `W/"1"`)...)
			}, http.StatusNotFound},
			{"another trust confirming", func() resp {
				return e.do("POST", "/fhir/Task/"+id(0)+"/$confirm", nil, bearer(w.otherTrust)...)
			}, http.StatusNotFound},
		} {
			t.Run(tc.name, func(t *testing.T) {
				r := tc.do().mustStatus(t, tc.status)
				code, expr := r.issue(t)
				if tc.status == http.StatusConflict && (code != "conflict" || expr != "Task.status" ||
					str(r.json, "issue", 0, "details", "coding", 0, "system") != mappings.OfferRuleSystem ||
					str(r.json, "issue", 0, "details", "coding", 0, "code") != referral.RuleTaskMove) {
					t.Errorf("want issue conflict at Task.status naming rule %s of %s: %s", referral.RuleTaskMove, mappings.OfferRuleSystem, r.body)
				}
			})
		}
	})

	// The trust confirms home 0: its Task is in progress, the open one
	// (home 2) is cancelled as superseded, the rejected one is untouched.
	conf := e.do("POST", "/fhir/Task/"+id(0)+"/$confirm", nil, bearer(w.trust)...).mustStatus(t, http.StatusOK)
	if str(conf.json, "status") != "in-progress" {
		t.Fatalf("confirmed: %s", conf.body)
	}
	if r := e.do("GET", "/fhir/Task/"+id(2), nil, bearer(w.trust)...); str(r.json, "status") != "cancelled" ||
		str(r.json, "businessStatus", "coding", 0, "code") != "superseded" {
		t.Errorf("the other open offer after confirmation: %s", r.body)
	}
	if r := e.do("GET", "/fhir/Task/"+id(1), nil, bearer(w.trust)...); str(r.json, "status") != "rejected" {
		t.Errorf("the rejected offer after confirmation: %s", r.body)
	}
	// Every version is kept and readable.
	h := e.do("GET", "/fhir/Task/"+id(0)+"/_history", nil, bearer(w.trust)...).mustStatus(t, http.StatusOK)
	if num(h.json, "total") < 3 {
		t.Errorf("history of the confirmed Task: %s", h.body)
	}
	e.do("GET", "/fhir/Task/"+id(0)+"/_history/1", nil, bearer(w.homes[0].token)...).mustStatus(t, http.StatusOK)

	// Every interaction on the accepted offer is in the audit trail, the
	// refused ones too: its create, the reads, the answers, the packs, the
	// refusals and the confirmation, each naming Task/{id}.
	admin := e.tokenFor("ops", auth.RoleAdmin, "DGADMIN", "system/AuditEvent.rs")
	trail := e.do("GET", "/fhir/AuditEvent?entity=Task/"+id(0)+"&_count=100", nil, bearer(admin)...).mustStatus(t, http.StatusOK)
	subtypes := map[string]int{}
	for _, en := range trail.json["entry"].([]any) {
		subtypes[str(en, "resource", "subtype", 0, "code")]++
	}
	for _, want := range []string{"create", "read", "update", "operation", "operation-identified", "vread", "history-instance"} {
		if subtypes[want] == 0 {
			t.Errorf("no %s of Task/%s in the audit trail: %v", want, id(0), subtypes)
		}
	}
}

// TestHubSendsForMembers: a hub sends and confirms offers of a member
// trust's case and sees them; a hub of other trusts can neither send one
// for that case nor see the offer.
func TestHubSendsForMembers(t *testing.T) {
	w := newReferralWorld(t)
	offer := w.offer(0, time.Now().Add(time.Hour))
	offer["requester"] = map[string]any{"identifier": map[string]any{"system": mappings.ODSSystem, "value": "QXH"}}
	r := w.e.do("POST", "/fhir/Task", offer, bearer(w.hub)...).mustStatus(t, http.StatusCreated)
	id := str(r.json, "id")
	w.e.do("GET", "/fhir/Task/"+id, nil, bearer(w.trust)...).mustStatus(t, http.StatusOK)
	w.e.do("GET", "/fhir/Task/"+id, nil, bearer(w.homes[0].token)...).mustStatus(t, http.StatusOK)
	w.e.do("GET", "/fhir/Task/"+id, nil, bearer(w.otherHub)...).mustStatus(t, http.StatusNotFound)
	other := w.offer(1, time.Now().Add(time.Hour))
	delete(other, "requester")
	refused := w.e.do("POST", "/fhir/Task", other, bearer(w.otherHub)...)
	if refused.status < 400 || refused.status >= 500 {
		t.Fatalf("a non-member hub sent an offer of RXA's case: %d %s", refused.status, refused.body)
	}
	acc := w.e.do("PUT", "/fhir/Task/"+id, w.answer(r.json, 0, "accepted"), bearer(w.homes[0].token)...).mustStatus(t, http.StatusOK)
	if str(acc.json, "status") != "accepted" {
		t.Fatalf("accepted: %s", acc.body)
	}
	w.e.do("POST", "/fhir/Task/"+id+"/$confirm", nil, bearer(w.otherHub)...).mustStatus(t, http.StatusNotFound)
	conf := w.e.do("POST", "/fhir/Task/"+id+"/$confirm", nil, bearer(w.hub)...).mustStatus(t, http.StatusOK)
	if str(conf.json, "status") != "in-progress" {
		t.Fatalf("confirmed by the hub: %s", conf.body)
	}
}

// TestTaskTransactionSendsAll: a transaction Bundle of Task creates is
// sent whole by the referral service and answered as a
// transaction-response; a Bundle mixing Tasks with other resources is not.
func TestTaskTransactionSendsAll(t *testing.T) {
	w := newReferralWorld(t)
	deadline := time.Now().Add(time.Hour)
	entry := func(i int) map[string]any {
		return map[string]any{"resource": w.offer(i, deadline), "request": map[string]any{"method": "POST", "url": "Task"}}
	}
	r := w.e.do("POST", "/fhir", map[string]any{"resourceType": "Bundle", "type": "transaction",
		"entry": []any{entry(0), entry(1), entry(2)}}, bearer(w.trust)...).mustStatus(t, http.StatusOK)
	if str(r.json, "type") != "transaction-response" || len(r.json["entry"].([]any)) != 3 {
		t.Fatalf("response: %s", r.body)
	}
	for i := range w.homes {
		loc := str(r.json, "entry", i, "response", "location")
		if !strings.HasPrefix(loc, "Task/") || !strings.HasPrefix(str(r.json, "entry", i, "response", "status"), "201") {
			t.Fatalf("entry %d: %s", i, r.body)
		}
		got := w.e.do("GET", "/fhir/"+strings.Split(loc, "/_history/")[0], nil, bearer(w.homes[i].token)...).mustStatus(t, http.StatusOK)
		if str(got.json, "owner", "reference") != w.homes[i].org {
			t.Errorf("entry %d is owned by %s", i, str(got.json, "owner", "reference"))
		}
	}
	if _, err := fhir.Validate(r.body, "Bundle", fhir.DefaultLimits); err != nil {
		t.Errorf("not valid R4: %v", err)
	}

	// POST Task carrying another resource: the whole transaction is
	// refused at that entry's resourceType, and its Task is not sent.
	before := w.e.do("GET", "/fhir/Task", nil, bearer(w.homes[0].token)...).mustStatus(t, http.StatusOK)
	bad := w.e.do("POST", "/fhir", map[string]any{"resourceType": "Bundle", "type": "transaction",
		"entry": []any{entry(0), map[string]any{"resource": map[string]any{"resourceType": "Patient"},
			"request": map[string]any{"method": "POST", "url": "Task"}}}}, bearer(w.trust)...).mustStatus(t, http.StatusBadRequest)
	if str(bad.json, "resourceType") != "OperationOutcome" || str(bad.json, "issue", 0, "code") != "invalid" ||
		str(bad.json, "issue", 0, "expression", 0) != "Bundle.entry[1].resource.resourceType" {
		t.Fatalf("a Patient posted as a Task: %s", bad.body)
	}
	after := w.e.do("GET", "/fhir/Task", nil, bearer(w.homes[0].token)...).mustStatus(t, http.StatusOK)
	if n, was := num(after.json, "total"), num(before.json, "total"); n != was || was < 1 {
		t.Fatalf("home 0 sees %v Tasks, %v before the refused transaction (want the one sent above)", n, was)
	}
}

// TestTaskGolden pins the Task as accepted and the referral pack before
// and after acceptance, each valid R4; rewrite with
// `go test ./gateway -run TaskGolden -update` once a change is intended.
func TestTaskGolden(t *testing.T) {
	w := newReferralWorld(t)
	task := w.send(t, 0)
	id := str(task.json, "id")
	base := w.e.srv.URL + "/fhir"
	packBefore := w.e.do("GET", "/fhir/Task/"+id+"/$referral-pack", nil, bearer(w.homes[0].token)...).mustStatus(t, http.StatusOK)
	acc := w.e.do("PUT", "/fhir/Task/"+id, w.answer(task.json, 0, "accepted"), append(bearer(w.homes[0].token), "If-Match", `W/"1"`)...).
		mustStatus(t, http.StatusOK)
	packAfter := w.e.do("GET", "/fhir/Task/"+id+"/$referral-pack", nil, bearer(w.homes[0].token)...).mustStatus(t, http.StatusOK)
	for _, c := range []struct {
		name string
		r    resp
		typ  string
	}{
		{"task-accepted", acc, "Task"}, {"referral-pack-before-acceptance", packBefore, "Bundle"},
		{"referral-pack-after-acceptance", packAfter, "Bundle"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if _, err := fhir.Validate(c.r.body, c.typ, fhir.DefaultLimits); err != nil {
				t.Fatalf("not valid R4: %v", err)
			}
			got := normalise(t, c.r.body, base, w.ids)
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

// TestOfferRulesPublished: every rule the referral service cites in a
// refusal is a code of the published offer-rule CodeSystem, whose system
// the gateway puts beside it in the OperationOutcome.
func TestOfferRulesPublished(t *testing.T) {
	var published []string
	for _, c := range mappings.OfferRules() {
		published = append(published, c.Code)
	}
	for _, rule := range []string{referral.RuleTaskMove, referral.RuleHoldBookable, referral.RuleTaskContent} {
		if !slices.Contains(published, rule) {
			t.Errorf("rule %s is not in %s (%v)", rule, mappings.OfferRuleSystem, published)
		}
	}
}
