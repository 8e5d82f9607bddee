package gateway_test

import (
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/dischargegateway/gateway/auth"
	"github.com/dischargegateway/gateway/gateway"
)

// auditTrail reads the whole audit trail as the admin, following next
// links, and returns the entity references per request id.
func (e *env) auditTrail(t *testing.T, admin, query string) (map[string][]string, resp) {
	t.Helper()
	byRequest := map[string][]string{}
	var first resp
	next := "/fhir/AuditEvent?_count=100" + query
	for pages := 0; next != ""; pages++ {
		if pages > 100 {
			t.Fatal("the next links do not end")
		}
		r := e.do("GET", next, nil, "Authorization", "Bearer "+admin).mustStatus(t, http.StatusOK)
		if pages == 0 {
			first = r
		}
		next = ""
		for _, l := range r.json["link"].([]any) {
			if str(l, "relation") == "next" {
				next = strings.TrimPrefix(str(l, "url"), e.srv.URL)
			}
		}
		entries, _ := r.json["entry"].([]any)
		for _, en := range entries {
			if str(en, "search", "mode") != "match" {
				continue
			}
			ents := en.(map[string]any)["resource"].(map[string]any)["entity"].([]any)
			rid := str(ents[1], "what", "identifier", "value")
			byRequest[rid] = append(byRequest[rid], str(ents[0], "what", "reference"))
		}
	}
	return byRequest, first
}

// Every audit entry names its FHIR resource: "Type/id" for an instance,
// "Type" for a type-level call. The test calls every route the gateway
// serves (so a new audited route is checked without being listed here) and
// requires an entry for every patient-data route.
func TestEveryAuditEntryNamesItsResource(t *testing.T) {
	e := newEnv(t)
	admin := e.tokenFor("ops", auth.RoleAdmin, "DGADMIN", "system/AuditEvent.rs")
	tx := e.do("POST", "/fhir", walkthrough(t), "X-Request-Id", "walkthrough").mustStatus(t, http.StatusOK)
	ids := map[string]string{}
	for _, typ := range []string{"Patient", "Encounter", "ServiceRequest"} {
		ids[typ] = createdID(t, tx, typ)
	}
	refShape := regexp.MustCompile(`^[A-Z][A-Za-z]+(/[A-Za-z0-9.-]{1,64})?$`)
	type call struct{ method, path, typ, id, rid string }
	var calls []call
	// Routes from a gateway of the same build: the route table does not
	// depend on the collaborators.
	for i, rt := range gateway.New(gateway.DefaultConfig(), gateway.Deps{}).Echo().Routes() {
		if rt.Method == "echo_route_not_found" || !strings.HasPrefix(rt.Path, "/fhir") && !strings.HasPrefix(rt.Path, "/api/v1/cases") {
			continue
		}
		typ := strings.SplitN(strings.TrimPrefix(rt.Path, "/fhir/"), "/", 2)[0]
		if strings.HasPrefix(rt.Path, "/api/v1/cases") {
			typ = "Encounter"
		}
		id := ""
		path := rt.Path
		if strings.Contains(path, ":id") {
			id = ids[typ]
			if id == "" {
				id = "some-id"
			}
			path = strings.ReplaceAll(path, ":id", id)
		}
		path = regexp.MustCompile(`:[a-zA-Z]+`).ReplaceAllString(path, "1")
		rid := fmt.Sprintf("route-%d", i)
		var body any
		if rt.Method == http.MethodPost || rt.Method == http.MethodPut {
			body = `{}`
		}
		e.do(rt.Method, path, body, "X-Request-Id", rid)
		calls = append(calls, call{rt.Method, path, typ, id, rid})
	}
	trail, _ := e.auditTrail(t, admin, "")

	for _, ref := range trail["walkthrough"] {
		if typ, id, _ := strings.Cut(ref, "/"); ids[typ] != id {
			t.Errorf("transaction entry names %q", ref)
		}
	}
	if len(trail["walkthrough"]) != 3 {
		t.Errorf("transaction recorded %v", trail["walkthrough"])
	}
	patientData := 0
	for _, c := range calls {
		refs := trail[c.rid]
		if ids[c.typ] != "" { // Patient, Encounter, ServiceRequest, and the case
			patientData++
			if len(refs) == 0 {
				t.Errorf("%s %s: patient data, not audited", c.method, c.path)
			}
		}
		for _, ref := range refs {
			want := c.typ
			if c.id != "" {
				want += "/" + c.id
			}
			if !refShape.MatchString(ref) || ref != want {
				t.Errorf("%s %s: audit entity %q, want %q", c.method, c.path, ref, want)
			}
		}
	}
	if patientData < 15 {
		t.Fatalf("only %d patient-data routes called: the route walk is broken", patientData)
	}

	// An audit search by the Encounter finds the case read, which shows the
	// patient's NHS number.
	e.do("GET", "/api/v1/cases/"+ids["Encounter"], nil, "X-Request-Id", "case-read").mustStatus(t, http.StatusOK)
	byEnc, _ := e.auditTrail(t, admin, "&entity=Encounter/"+ids["Encounter"])
	if len(byEnc["case-read"]) != 1 {
		t.Fatalf("the case read is not found by entity=Encounter/%s: %v", ids["Encounter"], byEnc)
	}
}

// total counts every match, and the next and previous links page through
// all of them with the filters kept.
func TestAuditSearchTotalAndPaging(t *testing.T) {
	e := newEnv(t)
	admin := e.tokenFor("ops", auth.RoleAdmin, "DGADMIN", "system/AuditEvent.rs")
	pat := e.do("POST", "/fhir/Patient", fixture(t, "patient.json")).mustStatus(t, http.StatusCreated)
	id := str(pat.json, "id")
	const reads = 23
	for i := 0; i < reads; i++ {
		e.do("GET", "/fhir/Patient/"+id, nil).mustStatus(t, http.StatusOK)
	}
	e.do("GET", "/fhir/Patient", nil).mustStatus(t, http.StatusOK) // another entity

	r := e.do("GET", "/fhir/AuditEvent?entity=Patient/"+id+"&_count=5", nil, "Authorization", "Bearer "+admin).mustStatus(t, http.StatusOK)
	if num(r.json, "total") != reads+1 { // the reads and the create
		t.Fatalf("total %v, want %d: %s", r.json["total"], reads+1, r.body)
	}
	links := map[string]string{}
	for _, l := range r.json["link"].([]any) {
		links[str(l, "relation")] = str(l, "url")
	}
	if !strings.Contains(links["next"], "_offset=5") || !strings.Contains(links["next"], "entity=Patient%2F"+id) || links["previous"] != "" {
		t.Fatalf("links %v", links)
	}
	seen := map[string]bool{}
	trail, first := e.auditTrail(t, admin, "&entity=Patient/"+id)
	if num(first.json, "total") != reads+1 {
		t.Fatalf("total %v with _count=100", first.json["total"])
	}
	n := 0
	for rid, refs := range trail {
		for _, ref := range refs {
			n++
			if ref != "Patient/"+id {
				t.Fatalf("request %s: %s does not match the filter", rid, ref)
			}
		}
	}
	if n != reads+1 {
		t.Fatalf("pages held %d entries, want %d", n, reads+1)
	}
	// Page two has a previous link, and AuditEvent ids are stable across
	// pages.
	p2 := e.do("GET", strings.TrimPrefix(links["next"], e.srv.URL), nil, "Authorization", "Bearer "+admin).mustStatus(t, http.StatusOK)
	hasPrev := false
	for _, l := range p2.json["link"].([]any) {
		hasPrev = hasPrev || str(l, "relation") == "previous"
	}
	if !hasPrev || num(p2.json, "total") != reads+1 {
		t.Fatalf("page two: %s", p2.body)
	}
	for _, page := range []resp{r, p2} {
		for _, en := range page.json["entry"].([]any) {
			rid := str(en, "resource", "id")
			if seen[rid] {
				t.Fatalf("AuditEvent %s on two pages", rid)
			}
			seen[rid] = true
		}
	}
	all := e.do("GET", "/fhir/AuditEvent?_count=0", nil, "Authorization", "Bearer "+admin).mustStatus(t, http.StatusOK)
	if num(all.json, "total") < reads+2 {
		t.Fatalf("total of everything %v", all.json["total"])
	}
	e.do("GET", "/fhir/AuditEvent?_count=x", nil, "Authorization", "Bearer "+admin).mustStatus(t, http.StatusBadRequest)
	e.do("GET", "/fhir/AuditEvent?_offset=-1", nil, "Authorization", "Bearer "+admin).mustStatus(t, http.StatusBadRequest)
}
