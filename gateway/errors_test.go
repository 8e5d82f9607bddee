package gateway_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/dischargegateway/gateway/gateway"
)

func TestBadInputGetsPreciseOutcome(t *testing.T) {
	e := newEnv(t, func(c *gateway.Config) { c.BodyLimit = 64 << 10 })
	encounter := func(mut func(m map[string]any)) map[string]any {
		m := map[string]any{"resourceType": "Encounter", "status": "in-progress",
			"class":   map[string]any{"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "IMP"},
			"subject": map[string]any{"reference": "Patient/nope"}}
		mut(m)
		return m
	}
	tests := []struct {
		name, method, path string
		body               any
		headers            []string
		status             int
		code, expression   string
	}{
		{"missing status", "POST", "/fhir/Encounter", encounter(func(m map[string]any) { delete(m, "status") }), nil,
			400, "required", "Encounter.status"},
		{"missing class", "POST", "/fhir/Encounter", encounter(func(m map[string]any) { delete(m, "class") }), nil,
			400, "required", "Encounter.class"},
		{"status outside required binding", "POST", "/fhir/Encounter", encounter(func(m map[string]any) { m["status"] = "sleeping" }), nil,
			400, "code-invalid", "Encounter.status"},
		{"unknown element", "POST", "/fhir/Patient", `{"resourceType":"Patient","favouriteColour":"blue"}`, nil,
			400, "structure", "Patient.favouriteColour"},
		{"bad date", "POST", "/fhir/Patient", `{"resourceType":"Patient","birthDate":"02/03/1941"}`, nil,
			400, "value", "Patient.birthDate"},
		{"bad NHS number", "POST", "/fhir/Patient",
			`{"resourceType":"Patient","identifier":[{"system":"https://fhir.nhs.uk/Id/nhs-number","value":"9476719932"}]}`, nil,
			400, "value", "Patient.identifier[0].value"},
		{"wrong resourceType", "POST", "/fhir/Patient", `{"resourceType":"Encounter"}`, nil,
			400, "invalid", "resourceType"},
		{"malformed JSON", "POST", "/fhir/Patient", `{"resourceType":"Patient",`, nil,
			400, "structure", ""},
		{"unresolved subject", "POST", "/fhir/Encounter", encounter(func(map[string]any) {}), nil,
			422, "not-found", "Encounter.subject.reference"},
		{"oversize body", "POST", "/fhir/Patient", `{"resourceType":"Patient","text":{"status":"generated","div":"` + strings.Repeat("x", 70<<10) + `"}}`, nil,
			413, "too-long", "Patient"},
		{"wrong content type", "POST", "/fhir/Patient", `<Patient/>`, []string{"Content-Type", "application/fhir+xml"},
			415, "not-supported", "Patient"},
		{"xml accept", "GET", "/fhir/metadata", nil, []string{"Accept", "application/fhir+xml"},
			406, "not-supported", ""},
		{"xml _format", "GET", "/fhir/metadata?_format=xml", nil, nil,
			406, "not-supported", "_format"},
		{"unknown route", "GET", "/fhir/Spaceship/1", nil, nil,
			404, "not-found", ""},
		{"method not allowed", "DELETE", "/fhir/Patient/1", nil, nil,
			405, "not-supported", ""},
		{"missing resource", "GET", "/fhir/Patient/does-not-exist", nil, nil,
			404, "not-found", "Patient"},
		{"bundle of the wrong type", "POST", "/fhir", `{"resourceType":"Bundle","type":"collection"}`, nil,
			400, "value", "Bundle.type"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do(tc.method, tc.path, tc.body, tc.headers...)
			if r.status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.status, tc.status, r.body)
			}
			if !r.hasIssue(tc.code, tc.expression) {
				t.Fatalf("no issue %s at %q: %s", tc.code, tc.expression, r.body)
			}
			if ct := r.header.Get("Content-Type"); !strings.Contains(ct, "json") {
				t.Fatalf("Content-Type %q", ct)
			}
		})
	}
	t.Run("bad NHS number carries INVALID_CHECK_DIGIT", func(t *testing.T) {
		r := e.do("POST", "/fhir/Patient",
			`{"resourceType":"Patient","identifier":[{"system":"https://fhir.nhs.uk/Id/nhs-number","value":"9476719932"}]}`)
		if !strings.Contains(string(r.body), "INVALID_CHECK_DIGIT") {
			t.Fatalf("%s", r.body)
		}
		if strings.Contains(string(r.body), "9476719932") {
			t.Fatalf("the outcome echoes the NHS number: %s", r.body)
		}
	})
	t.Run("_format overrides Accept", func(t *testing.T) {
		r := e.do("GET", "/fhir/metadata?_format=json", nil, "Accept", "application/xml").mustStatus(t, 200)
		if !strings.HasPrefix(r.header.Get("Content-Type"), "application/fhir+json") {
			t.Fatalf("%q", r.header.Get("Content-Type"))
		}
		r = e.do("GET", "/fhir/metadata", nil, "Accept", "application/json").mustStatus(t, 200)
		if !strings.HasPrefix(r.header.Get("Content-Type"), "application/json") {
			t.Fatalf("%q", r.header.Get("Content-Type"))
		}
	})
	t.Run("nothing was stored", func(t *testing.T) {
		for _, typ := range []string{"Patient", "Encounter"} {
			if s := e.do("GET", "/fhir/"+typ, nil); num(s.json, "total") != 0 {
				t.Fatalf("%s total %v", typ, s.json["total"])
			}
		}
	})
}

func TestRequestAndCorrelationIDs(t *testing.T) {
	e := newEnv(t)
	r := e.do("GET", "/fhir/metadata", nil, "X-Request-Id", "req-123", "X-Correlation-Id", "corr-456")
	if r.header.Get("X-Request-Id") != "req-123" || r.header.Get("X-Correlation-Id") != "corr-456" {
		t.Fatalf("not echoed: %v", r.header)
	}
	r = e.do("GET", "/fhir/metadata", nil)
	if len(r.header.Get("X-Request-Id")) != 36 || len(r.header.Get("X-Correlation-Id")) != 36 {
		t.Fatalf("not generated: %v", r.header)
	}
	r = e.do("GET", "/fhir/metadata", nil, "X-Request-Id", "bad id\twith spaces")
	if strings.Contains(r.header.Get("X-Request-Id"), " ") {
		t.Fatalf("unsafe id echoed: %q", r.header.Get("X-Request-Id"))
	}
}

// TestRecordDownThenBack: with the system of record down (its PostgreSQL
// killed, as a crash), reads and writes are 503 transient with
// Retry-After and nothing internal in the body, /readyz fails while
// /healthz does not, and once the database is back the gateway recovers
// by itself.
func TestRecordDownThenBack(t *testing.T) {
	e := newEnvOwnPostgres(t)
	e.do("GET", "/readyz", nil).mustStatus(t, http.StatusOK)
	e.pg.Kill()

	r := e.do("POST", "/fhir/Patient", fixture(t, "patient.json")).mustStatus(t, http.StatusServiceUnavailable)
	if code, _ := r.issue(t); code != "transient" {
		t.Fatalf("code %q", code)
	}
	if r.header.Get("Retry-After") == "" {
		t.Fatal("no Retry-After")
	}
	if strings.Contains(string(r.body), "127.0.0.1") || strings.Contains(string(r.body), "dial") {
		t.Fatalf("5xx leaks internals: %s", r.body)
	}
	e.do("GET", "/fhir/Patient/x", nil).mustStatus(t, http.StatusServiceUnavailable)
	e.do("GET", "/readyz", nil).mustStatus(t, http.StatusServiceUnavailable)
	e.do("GET", "/healthz", nil).mustStatus(t, http.StatusOK)

	e.pg.Restart()
	deadline := time.Now().Add(10 * time.Second)
	for e.do("GET", "/readyz", nil).status != http.StatusOK {
		if time.Now().After(deadline) {
			t.Fatal("gateway did not recover after the database came back")
		}
		time.Sleep(100 * time.Millisecond)
	}
	e.do("POST", "/fhir/Patient", fixture(t, "patient.json")).mustStatus(t, http.StatusCreated)
}

// TestRedisDownThenBack: Redis is the capacity cache, the rate limiter and
// the replay cache, not the record. While it is down a request that needs
// it is 503 transient with Retry-After (never a 500, nothing internal in
// the body); once it is back the gateway recovers by itself, and a record
// acknowledged before the outage is still there.
func TestRedisDownThenBack(t *testing.T) {
	e := newEnv(t)
	if e.redis == nil {
		t.Skip("kills a standalone server; on a cluster, a killed master is the soak's fault scenario (scripts/soak.sh FAULT=1)")
	}
	before := e.do("POST", "/fhir/Patient", fixture(t, "patient.json")).mustStatus(t, http.StatusCreated)
	var sr string
	for _, en := range e.do("POST", "/fhir", walkthrough(t)).mustStatus(t, http.StatusOK).json["entry"].([]any) {
		if loc := str(en, "response", "location"); strings.HasPrefix(loc, "ServiceRequest/") {
			sr = strings.Split(loc, "/_history/")[0]
		}
	}
	e.redis.Kill()

	// Redis holds nothing of the record, and the rate limiter counts in
	// process while it is down: the record is served as before.
	during := e.do("POST", "/fhir/Patient", fixture(t, "patient.json")).mustStatus(t, http.StatusCreated)
	e.do("GET", "/fhir/Patient/"+str(before.json, "id"), nil).mustStatus(t, http.StatusOK)
	e.do("GET", "/fhir/Patient?_count=0", nil).mustStatus(t, http.StatusOK)
	// What needs the cache answers 503 transient with Retry-After, or
	// (placement) an answer that says capacity is unknown; never a 500,
	// never internals.
	for _, r := range []resp{
		e.do("GET", "/fhir/"+sr+"/$placement-options", nil),
		e.do("GET", "/api/v1/capacity/summary?postcode=M14%204AB&radiusKm=10", nil),
	} {
		switch r.status {
		case http.StatusOK:
		case http.StatusServiceUnavailable:
			if code, _ := r.issue(t); code != "transient" {
				t.Fatalf("code %q", code)
			}
			if r.header.Get("Retry-After") == "" {
				t.Fatal("no Retry-After")
			}
		default:
			t.Fatalf("status %d while Redis is down: %s", r.status, r.body)
		}
		if strings.Contains(string(r.body), "127.0.0.1") || strings.Contains(string(r.body), "dial") {
			t.Fatalf("answer leaks internals: %s", r.body)
		}
	}
	if s := e.do("GET", "/readyz", nil).status; s != http.StatusOK && s != http.StatusServiceUnavailable {
		t.Fatalf("/readyz %d while Redis is down", s)
	}
	e.do("GET", "/healthz", nil).mustStatus(t, http.StatusOK)

	e.redis.Restart()
	deadline := time.Now().Add(10 * time.Second)
	for e.do("GET", "/fhir/"+sr+"/$placement-options", nil).status != http.StatusOK {
		if time.Now().After(deadline) {
			t.Fatal("placement did not recover after Redis came back")
		}
		time.Sleep(100 * time.Millisecond)
	}
	e.do("GET", "/readyz", nil).mustStatus(t, http.StatusOK)
	e.do("GET", "/fhir/Patient/"+str(during.json, "id"), nil).mustStatus(t, http.StatusOK)
	e.do("POST", "/fhir/Patient", fixture(t, "patient.json")).mustStatus(t, http.StatusCreated)
}

func TestLogsCarryNoPatientData(t *testing.T) {
	// Its own PostgreSQL: the record failing must not make the logs leak
	// either.
	e := newEnvOwnPostgres(t)
	e.do("POST", "/fhir", fixture(t, "bundle.json")).mustStatus(t, http.StatusOK)
	e.do("GET", "/fhir/Patient?identifier=https://fhir.nhs.uk/Id/nhs-number|9476719931", nil).mustStatus(t, 200)
	e.do("POST", "/fhir/Patient", `{"resourceType":"Patient","identifier":[{"system":"https://fhir.nhs.uk/Id/nhs-number","value":"9476719932"}],"name":[{"family":"Testpatient"}]}`)
	e.pg.Kill()
	e.do("GET", "/fhir/Patient?identifier=https://fhir.nhs.uk/Id/nhs-number|9476719931", nil).mustStatus(t, http.StatusServiceUnavailable)
	e.do("POST", "/fhir/Patient", `{"resourceType":"Patient","identifier":[{"system":"https://fhir.nhs.uk/Id/nhs-number","value":"9476719932"}],"name":[{"family":"Testpatient"}]}`)
	if e.redis != nil { // nor Redis failing
		e.redis.Kill()
		e.do("GET", "/fhir/Patient?identifier=https://fhir.nhs.uk/Id/nhs-number|9476719931", nil)
	}
	logs := e.logs.String()
	if !strings.Contains(logs, `"route"`) {
		t.Fatalf("no access log captured: %q", logs)
	}
	for _, secret := range []string{"9476719931", "9476719932", "Testpatient", "1941-03-02", "M14 4AB", "Ada"} {
		if strings.Contains(logs, secret) {
			t.Fatalf("logs contain %q", secret)
		}
	}
}
