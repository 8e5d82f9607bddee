package gateway_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/dischargegateway/gateway/auth"
)

func demoKey(t *testing.T, client string) crypto.Signer {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "configs", "demo", "keys", "DEMO-ONLY-"+client+".pem"))
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(raw)
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return k.(crypto.Signer)
}

type assertion struct {
	client, sub, aud string
	exp              time.Duration
	jti              string
	method           jwt.SigningMethod
	key              any
	header           map[string]any
}

func (e *env) sign(t *testing.T, a assertion) string {
	t.Helper()
	if a.sub == "" {
		a.sub = a.client
	}
	if a.aud == "" {
		a.aud = e.srv.URL + "/oauth2/token"
	}
	if a.exp == 0 {
		a.exp = 4 * time.Minute
	}
	claims := jwt.MapClaims{"iss": a.client, "sub": a.sub, "aud": a.aud, "exp": time.Now().Add(a.exp).Unix()}
	if a.jti != "-" {
		if a.jti == "" {
			a.jti = fmt.Sprintf("jti-%d", time.Now().UnixNano())
		}
		claims["jti"] = a.jti
	}
	if a.method == nil {
		a.method = jwt.SigningMethodES384
		if a.client == "demo-trust-rxb" {
			a.method = jwt.SigningMethodRS256
		}
	}
	if a.key == nil {
		a.key = demoKey(t, a.client)
	}
	tok := jwt.NewWithClaims(a.method, claims)
	for k, v := range a.header {
		tok.Header[k] = v
	}
	s, err := tok.SignedString(a.key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func (e *env) tokenRequest(t *testing.T, form url.Values) resp {
	t.Helper()
	req, _ := http.NewRequest("POST", e.srv.URL+"/oauth2/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	r := resp{status: res.StatusCode, header: res.Header, body: raw}
	_ = json.Unmarshal(raw, &r.json)
	return r
}

func grantForm(assertion, scope string) url.Values {
	f := url.Values{"grant_type": {"client_credentials"}, "client_assertion": {assertion},
		"client_assertion_type": {auth.AssertionType}}
	if scope != "" {
		f.Set("scope", scope)
	}
	return f
}

// oauthCode is the RFC 6749 section 5.2 error code of a token endpoint
// error response.
func oauthCode(r resp) string { return str(r.json, "error") }

// isOAuthError checks the shape RFC 6749 section 5.2 requires of a token
// endpoint error: JSON with error and error_description, not cached, and
// nothing else.
func isOAuthError(t *testing.T, r resp) {
	t.Helper()
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("content type %q: %s", ct, r.body)
	}
	if r.header.Get("Cache-Control") != "no-store" || r.header.Get("Pragma") != "no-cache" {
		t.Fatalf("cacheable error: %v", r.header)
	}
	if str(r.json, "error_description") == "" || r.json["resourceType"] != nil || r.json["access_token"] != nil || len(r.json) != 2 {
		t.Fatalf("not an OAuth error body: %s", r.body)
	}
	if (r.status == http.StatusUnauthorized) != (r.header.Get("WWW-Authenticate") != "") {
		t.Fatalf("status %d with WWW-Authenticate %q", r.status, r.header.Get("WWW-Authenticate"))
	}
}

func TestTokenEndpoint(t *testing.T) {
	e := newEnv(t)
	t.Run("ES384 assertion gets a working token", func(t *testing.T) {
		r := e.tokenRequest(t, grantForm(e.sign(t, assertion{client: "demo-trust-rxa"}), "system/Patient.rs"))
		r.mustStatus(t, http.StatusOK)
		if str(r.json, "token_type") != "bearer" || str(r.json, "scope") != "system/Patient.rs" || r.header.Get("Cache-Control") != "no-store" {
			t.Fatalf("%s", r.body)
		}
		got := e.do("GET", "/fhir/Patient", nil, "Authorization", "Bearer "+str(r.json, "access_token"))
		got.mustStatus(t, http.StatusOK)
		// The narrower scope holds: no create.
		denied := e.do("POST", "/fhir/Patient", fixture(t, "patient.json"), "Authorization", "Bearer "+str(r.json, "access_token"))
		denied.mustStatus(t, http.StatusForbidden)
	})
	t.Run("RS256 assertion", func(t *testing.T) {
		e.tokenRequest(t, grantForm(e.sign(t, assertion{client: "demo-trust-rxb"}), "")).mustStatus(t, http.StatusOK)
	})
	other, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	pub, _ := x509.MarshalPKIXPublicKey(&demoKey(t, "demo-trust-rxa").(*ecdsa.PrivateKey).PublicKey)
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub})
	noneTok := func() string {
		h := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`))
		c, _ := json.Marshal(map[string]any{"iss": "demo-trust-rxa", "sub": "demo-trust-rxa", "aud": e.srv.URL + "/oauth2/token",
			"exp": time.Now().Add(time.Minute).Unix(), "jti": "none-1"})
		return h + "." + base64.RawURLEncoding.EncodeToString(c) + "."
	}
	hostile := []struct {
		name   string
		form   url.Values
		status int
		detail string
	}{
		{"expired", grantForm(e.sign(t, assertion{client: "demo-trust-rxa", exp: -2 * time.Minute}), ""), 401, "invalid_client"},
		{"exp too far ahead", grantForm(e.sign(t, assertion{client: "demo-trust-rxa", exp: 30 * time.Minute}), ""), 401, "invalid_client"},
		{"wrong aud", grantForm(e.sign(t, assertion{client: "demo-trust-rxa", aud: "https://elsewhere.example/token"}), ""), 401, "invalid_client"},
		{"bad signature", grantForm(e.sign(t, assertion{client: "demo-trust-rxa", key: other}), ""), 401, "invalid_client"},
		{"alg none", grantForm(noneTok(), ""), 401, "invalid_client"},
		{"HS256 with the public key as secret", grantForm(e.sign(t, assertion{client: "demo-trust-rxa", method: jwt.SigningMethodHS256, key: pubPEM}), ""), 401, "invalid_client"},
		{"iss differs from sub", grantForm(e.sign(t, assertion{client: "demo-trust-rxa", sub: "demo-hub"}), ""), 401, "invalid_client"},
		{"unknown client", grantForm(e.sign(t, assertion{client: "nobody", key: other}), ""), 401, "invalid_client"},
		{"missing jti", grantForm(e.sign(t, assertion{client: "demo-trust-rxa", jti: "-"}), ""), 401, "invalid_client"},
		{"unknown kid", grantForm(e.sign(t, assertion{client: "demo-trust-rxa", header: map[string]any{"kid": "not-a-key"}}), ""), 401, "invalid_client"},
		{"oversized assertion", grantForm(strings.Repeat("a", 9000), ""), 400, "invalid_request"},
		{"malformed assertion", grantForm("not.a.jwt!", ""), 400, "invalid_request"},
		{"wrong assertion type", url.Values{"grant_type": {"client_credentials"}, "client_assertion": {"x"}, "client_assertion_type": {"password"}}, 400, "invalid_request"},
		{"wrong grant type", url.Values{"grant_type": {"password"}}, 400, "unsupported_grant_type"},
		{"missing grant type", url.Values{"client_assertion_type": {auth.AssertionType}, "client_assertion": {e.sign(t, assertion{client: "demo-trust-rxa"})}}, 400, "invalid_request"},
		{"empty grant type", url.Values{"grant_type": {""}}, 400, "invalid_request"},
		{"repeated grant type", url.Values{"grant_type": {"client_credentials", "client_credentials"}}, 400, "invalid_request"},
		{"missing assertion type", url.Values{"grant_type": {"client_credentials"}, "client_assertion": {"x"}}, 400, "invalid_request"},
		{"missing assertion", url.Values{"grant_type": {"client_credentials"}, "client_assertion_type": {auth.AssertionType}}, 400, "invalid_request"},
		{"unknown scope", grantForm(e.sign(t, assertion{client: "demo-trust-rxa"}), "system/Nonsense.rs"), 400, "invalid_scope"},
		{"malformed scope", grantForm(e.sign(t, assertion{client: "demo-trust-rxa"}), "user/Patient.rs"), 400, "invalid_scope"},
		{"scope not allowed", grantForm(e.sign(t, assertion{client: "demo-care-home-1"}), "system/Patient.rs"), 400, "invalid_scope"},
	}
	for _, tc := range hostile {
		t.Run(tc.name, func(t *testing.T) {
			r := e.tokenRequest(t, tc.form)
			if r.status != tc.status || oauthCode(r) != tc.detail {
				t.Fatalf("status %d error %q, want %d %q: %s", r.status, oauthCode(r), tc.status, tc.detail, r.body)
			}
			isOAuthError(t, r)
		})
	}
	t.Run("replayed jti", func(t *testing.T) {
		a := e.sign(t, assertion{client: "demo-trust-rxa", jti: "once-only"})
		e.tokenRequest(t, grantForm(a, "")).mustStatus(t, http.StatusOK)
		r := e.tokenRequest(t, grantForm(a, ""))
		if r.status != 401 || oauthCode(r) != "invalid_client" {
			t.Fatalf("replay: %d %s", r.status, r.body)
		}
		isOAuthError(t, r)
	})
	t.Run("malformed requests", func(t *testing.T) {
		for _, tc := range []struct {
			name, method, ctype, body string
			status                    int
		}{
			{"not a form", "POST", "application/json", `{"grant_type":"client_credentials"}`, 400},
			{"no content type", "POST", "", "grant_type=client_credentials", 400},
			{"empty body", "POST", "application/x-www-form-urlencoded", "", 400},
			{"bad percent escape", "POST", "application/x-www-form-urlencoded", "grant_type=client_credentials&scope=%zz", 400},
			{"GET", "GET", "", "", 405},
		} {
			t.Run(tc.name, func(t *testing.T) {
				req, _ := http.NewRequest(tc.method, e.srv.URL+"/oauth2/token", strings.NewReader(tc.body))
				if tc.ctype != "" {
					req.Header.Set("Content-Type", tc.ctype)
				}
				res, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				defer res.Body.Close()
				raw, _ := io.ReadAll(res.Body)
				r := resp{status: res.StatusCode, header: res.Header, body: raw}
				_ = json.Unmarshal(raw, &r.json)
				if r.status != tc.status || oauthCode(r) != "invalid_request" {
					t.Fatalf("status %d error %q: %s", r.status, oauthCode(r), r.body)
				}
				isOAuthError(t, r)
			})
		}
	})
	t.Run("discovery", func(t *testing.T) {
		sc := e.do("GET", "/.well-known/smart-configuration", nil, "Authorization", "").mustStatus(t, 200)
		if str(sc.json, "token_endpoint") != e.srv.URL+"/oauth2/token" {
			t.Fatalf("%s", sc.body)
		}
		jwks := e.do("GET", "/.well-known/jwks.json", nil, "Authorization", "").mustStatus(t, 200)
		if strings.Contains(string(jwks.body), `"d"`) || str(jwks.json, "keys", 0, "kid") == "" {
			t.Fatalf("jwks: %s", jwks.body)
		}
	})
}

func TestBearerTokens(t *testing.T) {
	e := newEnv(t)
	good := e.token
	expired := func() string {
		iss := *e.issuer
		iss.Now = func() time.Time { return time.Now().Add(-2 * time.Hour) }
		sc, _ := auth.ParseScopes(clinicalScopes)
		tok, _, _ := iss.Issue(&auth.Client{ID: "trust-a", Role: auth.RoleTrust, Org: "RXA"}, sc)
		return tok
	}()
	foreignKeys, _ := auth.GenerateKeySet()
	foreign := func() string {
		iss := *e.issuer
		iss.Keys = foreignKeys
		sc, _ := auth.ParseScopes(clinicalScopes)
		tok, _, _ := iss.Issue(&auth.Client{ID: "trust-a", Role: auth.RoleTrust, Org: "RXA"}, sc)
		return tok
	}()
	wrongAud := func() string {
		iss := *e.issuer
		iss.Audience = "urn:other-gateway"
		sc, _ := auth.ParseScopes(clinicalScopes)
		tok, _, _ := iss.Issue(&auth.Client{ID: "trust-a", Role: auth.RoleTrust, Org: "RXA"}, sc)
		return tok
	}()
	parts := strings.Split(good, ".")
	noneTok := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + parts[1] + "."
	tampered := parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"trust-a","org":"RXB","role":"trust","scope":"system/*.cruds","iss":"urn:test","aud":["urn:test"],"exp":9999999999}`)) + "." + parts[2]
	tests := []struct {
		name, header string
		status       int
	}{
		{"no token", "", 401},
		{"expired", "Bearer " + expired, 401},
		{"signed by an unknown key", "Bearer " + foreign, 401},
		{"wrong audience", "Bearer " + wrongAud, 401},
		{"alg none", "Bearer " + noneTok, 401},
		{"tampered payload", "Bearer " + tampered, 401},
		{"basic scheme", "Basic " + good, 401},
		{"tab instead of space", "Bearer\t" + good, 401},
		{"trailing garbage", "Bearer " + good + " extra", 401},
		{"lower-case scheme", "bearer " + good, 200},
		{"two spaces", "Bearer  " + good, 200},
		{"upper-case scheme", "BEARER " + good, 200},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do("GET", "/fhir/Patient", nil, "Authorization", tc.header)
			if r.status != tc.status {
				t.Fatalf("status %d: %s", r.status, r.body)
			}
			if tc.status == 401 {
				if !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Bearer") {
					t.Fatalf("WWW-Authenticate %q", r.header.Get("WWW-Authenticate"))
				}
				if code, _ := r.issue(t); code != "login" {
					t.Fatalf("code %q", code)
				}
			}
		})
	}
	t.Run("open endpoints", func(t *testing.T) {
		for _, p := range []string{"/fhir/metadata", "/healthz", "/readyz", "/.well-known/smart-configuration", "/.well-known/jwks.json"} {
			e.do("GET", p, nil, "Authorization", "").mustStatus(t, 200)
		}
		for _, p := range []string{"/fhir/Encounter", "/fhir/CodeSystem", "/fhir/ConceptMap", "/api/v1/cases/x", "/fhir/AuditEvent"} {
			e.do("GET", p, nil, "Authorization", "").mustStatus(t, 401)
		}
	})
	t.Run("missing scope is 403 and writes nothing", func(t *testing.T) {
		ro := e.tokenFor("trust-a", auth.RoleTrust, "RXA", "system/Patient.rs")
		r := e.do("POST", "/fhir/Encounter", `{}`, "Authorization", "Bearer "+ro).mustStatus(t, 403)
		if code, _ := r.issue(t); code != "forbidden" {
			t.Fatalf("%s", r.body)
		}
		if s := e.do("GET", "/fhir/Encounter", nil); num(s.json, "total") != 0 {
			t.Fatal("written")
		}
	})
}

func TestTenantIsolation(t *testing.T) {
	e := newEnv(t)
	tokA := e.token
	tokB := e.tokenFor("trust-b", auth.RoleTrust, "RXB", clinicalScopes)
	hub := e.tokenFor("hub", auth.RoleHub, "QXH", "system/Patient.rs system/Encounter.rs system/ServiceRequest.rs", "RXA", "RXB")
	outsideHub := e.tokenFor("hub-2", auth.RoleHub, "QXZ", "system/Patient.rs system/Encounter.rs system/ServiceRequest.rs", "RXC")
	care := e.tokenFor("care", auth.RoleCareProvider, "1-000000001", "system/Patient.rs system/Encounter.rs")
	as := func(tok string) []string { return []string{"Authorization", "Bearer " + tok} }

	ra := e.do("POST", "/fhir", walkthrough(t), as(tokA)...).mustStatus(t, 200)
	var patA, encA string
	for _, en := range ra.json["entry"].([]any) {
		loc := strings.Split(str(en, "response", "location"), "/_history/")[0]
		switch {
		case strings.HasPrefix(loc, "Patient/"):
			patA = loc
		case strings.HasPrefix(loc, "Encounter/"):
			encA = loc
		}
	}
	e.do("POST", "/fhir", fixture(t, "bundle.json"), as(tokB)...).mustStatus(t, 200)

	t.Run("another trust cannot read, search or see the case", func(t *testing.T) {
		r := e.do("GET", "/fhir/"+encA, nil, as(tokB)...).mustStatus(t, 404)
		if code, _ := r.issue(t); code != "not-found" {
			t.Fatalf("%s", r.body)
		}
		e.do("GET", "/fhir/"+encA+"/_history/1", nil, as(tokB)...).mustStatus(t, 404)
		e.do("GET", "/api/v1/cases/"+strings.TrimPrefix(encA, "Encounter/"), nil, as(tokB)...).mustStatus(t, 404)
		s := e.do("GET", "/fhir/Patient?identifier=https://fhir.nhs.uk/Id/nhs-number|9476719931", nil, as(tokB)...).mustStatus(t, 200)
		if num(s.json, "total") != 1 { // B's own patient with the same NHS number, not A's
			t.Fatalf("B sees %v", s.json["total"])
		}
		if str(s.json, "entry", 0, "resource", "id") == strings.TrimPrefix(patA, "Patient/") {
			t.Fatal("B's search returned A's patient")
		}
	})
	t.Run("another trust's transaction cannot reference A's data", func(t *testing.T) {
		b := map[string]any{"resourceType": "Bundle", "type": "transaction", "entry": []any{map[string]any{
			"resource": map[string]any{"resourceType": "ServiceRequest", "status": "active", "intent": "order",
				"subject": map[string]any{"reference": patA}},
			"request": map[string]any{"method": "POST", "url": "ServiceRequest"}}}}
		r := e.do("POST", "/fhir", b, as(tokB)...)
		if r.status != 422 || !r.hasIssue("not-found", "Bundle.entry[0].resource.subject.reference") {
			t.Fatalf("%d %s", r.status, r.body)
		}
	})
	t.Run("another trust's update never touches A's resource", func(t *testing.T) {
		before := e.do("GET", "/fhir/"+encA, nil, as(tokA)...).mustStatus(t, 200)
		var doc map[string]any
		_ = json.Unmarshal(before.body, &doc)
		doc["status"] = "cancelled"
		e.do("PUT", "/fhir/"+encA, doc, as(tokB)...)
		after := e.do("GET", "/fhir/"+encA, nil, as(tokA)...).mustStatus(t, 200)
		if str(after.json, "status") != str(before.json, "status") || after.header.Get("ETag") != before.header.Get("ETag") {
			t.Fatalf("A's Encounter changed: %s", after.body)
		}
	})
	t.Run("hub sees its members, writes nothing", func(t *testing.T) {
		e.do("GET", "/fhir/"+encA, nil, as(hub)...).mustStatus(t, 200)
		s := e.do("GET", "/fhir/Patient?identifier=https://fhir.nhs.uk/Id/nhs-number|9476719931", nil, as(hub)...).mustStatus(t, 200)
		if num(s.json, "total") != 2 || len(s.json["entry"].([]any)) != 2 {
			t.Fatalf("hub search: %s", s.body)
		}
		e.do("POST", "/fhir/Patient", fixture(t, "patient.json"), as(hub)...).mustStatus(t, 403)
		e.do("GET", "/fhir/"+encA, nil, as(outsideHub)...).mustStatus(t, 404)
	})
	t.Run("care provider reads no patient data", func(t *testing.T) {
		e.do("GET", "/fhir/"+encA, nil, as(care)...).mustStatus(t, 404)
		s := e.do("GET", "/fhir/Encounter", nil, as(care)...).mustStatus(t, 200)
		if num(s.json, "total") != 0 {
			t.Fatalf("care provider sees %v", s.json["total"])
		}
	})
}

func TestAuditTrail(t *testing.T) {
	e := newEnv(t)
	admin := e.tokenFor("ops", auth.RoleAdmin, "DGADMIN", "system/AuditEvent.rs")
	r := e.do("POST", "/fhir/Patient", fixture(t, "patient.json")).mustStatus(t, 201)
	id := str(r.json, "id")
	e.do("GET", "/fhir/Patient/"+id, nil, "X-Request-Id", "audit-read-1").mustStatus(t, 200)
	e.do("GET", "/fhir/Patient/nope", nil).mustStatus(t, 404)

	e.do("GET", "/fhir/AuditEvent", nil).mustStatus(t, 403) // a trust is not admin
	defer func() {
		if t.Failed() {
			t.Log(e.logs.String())
		}
	}()
	s := e.do("GET", "/fhir/AuditEvent?entity=Patient/"+id, nil, "Authorization", "Bearer "+admin).mustStatus(t, 200)
	if num(s.json, "total") != 2 {
		t.Fatalf("entries for the patient: %s", s.body)
	}
	body := string(s.body)
	for _, want := range []string{`"action":"R"`, `"action":"C"`, "audit-read-1", "trust-a", `"recorded"`} {
		if !strings.Contains(body, want) {
			t.Fatalf("audit lacks %s: %s", want, body)
		}
	}
	for _, secret := range []string{"9476719931", "Testpatient", "1941-03-02"} {
		if strings.Contains(body, secret) {
			t.Fatalf("audit carries %s", secret)
		}
	}
	miss := e.do("GET", "/fhir/AuditEvent?agent=trust-a&entity=Patient/nope", nil, "Authorization", "Bearer "+admin).mustStatus(t, 200)
	if num(miss.json, "total") != 1 || !strings.Contains(string(miss.body), `"outcome":"4"`) {
		t.Fatalf("failed read not audited: %s", miss.body)
	}
	none := e.do("GET", "/fhir/AuditEvent?agent=someone-else", nil, "Authorization", "Bearer "+admin).mustStatus(t, 200)
	if num(none.json, "total") != 0 {
		t.Fatalf("%s", none.body)
	}
	future := e.do("GET", "/fhir/AuditEvent?date=ge2999-01-01", nil, "Authorization", "Bearer "+admin).mustStatus(t, 200)
	if num(future.json, "total") != 0 {
		t.Fatalf("%s", future.body)
	}
}

func TestRateLimit(t *testing.T) {
	e := newEnvLimited(t, 3)
	for i := 0; i < 3; i++ {
		e.do("GET", "/fhir/Patient", nil).mustStatus(t, 200)
	}
	r := e.do("GET", "/fhir/Patient", nil).mustStatus(t, http.StatusTooManyRequests)
	if code, _ := r.issue(t); code != "throttled" || r.header.Get("Retry-After") == "" {
		t.Fatalf("%s %v", r.body, r.header)
	}
	// Another client has its own budget.
	other := e.tokenFor("trust-b", auth.RoleTrust, "RXB", clinicalScopes)
	e.do("GET", "/fhir/Patient", nil, "Authorization", "Bearer "+other).mustStatus(t, 200)
}
