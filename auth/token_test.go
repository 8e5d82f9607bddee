package auth_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/dischargegateway/gateway/auth"
	"github.com/dischargegateway/gateway/discharge"
)

const gatewayURL = "https://gateway.example.nhs.uk"

func newIssuer(t testing.TB) *auth.Issuer {
	t.Helper()
	ks, err := auth.GenerateKeySet()
	if err != nil {
		t.Fatal(err)
	}
	return &auth.Issuer{Keys: ks, Issuer: gatewayURL, Audience: gatewayURL + "/fhir", Now: func() time.Time { return t0 }}
}

var (
	trustRXA = &auth.Client{ID: "demo-trust-rxa", Org: "RXA", OrgSystem: auth.SystemODS, Role: auth.RoleTrust}
	hubQXH   = &auth.Client{ID: "demo-hub", Org: "QXH", OrgSystem: auth.SystemODS, Role: auth.RoleHub, Members: []string{"RXA", "RXB"}}
)

func scopes(t testing.TB, s string) auth.Scopes {
	t.Helper()
	sc, err := auth.ParseScopes(s)
	if err != nil {
		t.Fatal(err)
	}
	return sc
}

func TestIssueAndVerify(t *testing.T) {
	iss := newIssuer(t)
	tok, exp, err := iss.Issue(hubQXH, scopes(t, "system/Patient.rs"))
	if err != nil || exp != 300 {
		t.Fatalf("%d %v", exp, err)
	}
	// The header names the current key and ES256.
	h, _ := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[0])
	var header map[string]any
	_ = json.Unmarshal(h, &header)
	if header["alg"] != "ES256" || header["kid"] != iss.Keys.CurrentKID() {
		t.Fatalf("header %v", header)
	}
	p, err := iss.VerifyAccess(tok)
	if err != nil {
		t.Fatal(err)
	}
	if p.ClientID != "demo-hub" || p.Org != "QXH" || p.Role != auth.RoleHub || strings.Join(p.Members, ",") != "RXA,RXB" ||
		!p.Scopes.Allows("Patient", 'r') || p.Scopes.Allows("Patient", 'c') || !p.Expires.Equal(t0.Add(5*time.Minute)) {
		t.Fatalf("%+v", p)
	}
	// Every claim the brief names is there, and jti differs per token.
	var claims map[string]any
	c, _ := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[1])
	_ = json.Unmarshal(c, &claims)
	for _, k := range []string{"iss", "sub", "aud", "iat", "nbf", "exp", "jti", "scope", "org", "org_system", "role", "members"} {
		if _, ok := claims[k]; !ok {
			t.Errorf("claim %s missing", k)
		}
	}
	tok2, _, _ := iss.Issue(hubQXH, scopes(t, "system/Patient.rs"))
	var claims2 map[string]any
	c2, _ := base64.RawURLEncoding.DecodeString(strings.Split(tok2, ".")[1])
	_ = json.Unmarshal(c2, &claims2)
	if claims["jti"] == claims2["jti"] {
		t.Fatal("jti repeated")
	}
	// A trust's token carries no members even if its Client has some.
	odd := *trustRXA
	odd.Members = []string{"RXB"}
	tt, _, _ := iss.Issue(&odd, scopes(t, "system/Patient.rs"))
	if p, _ := iss.VerifyAccess(tt); len(p.Members) != 0 || p.CanSee("RXB") {
		t.Fatalf("trust token carries members: %+v", p)
	}
}

func TestIssueRefuses(t *testing.T) {
	sc := scopes(t, "system/Patient.rs")
	for name, tc := range map[string]struct {
		edit   func(*auth.Issuer)
		client *auth.Client
		sc     auth.Scopes
	}{
		"no scopes":  {client: trustRXA},
		"no client":  {sc: sc},
		"no issuer":  {edit: func(i *auth.Issuer) { i.Issuer = "" }, client: trustRXA, sc: sc},
		"no aud":     {edit: func(i *auth.Issuer) { i.Audience = "" }, client: trustRXA, sc: sc},
		"no keys":    {edit: func(i *auth.Issuer) { i.Keys = nil }, client: trustRXA, sc: sc},
		"empty keys": {edit: func(i *auth.Issuer) { i.Keys = i.Keys.Without(i.Keys.CurrentKID()) }, client: trustRXA, sc: sc},
	} {
		t.Run(name, func(t *testing.T) {
			iss := newIssuer(t)
			if tc.edit != nil {
				tc.edit(iss)
			}
			if _, _, err := iss.Issue(tc.client, tc.sc); discharge.ErrorKind(err) != discharge.KindInternal {
				t.Fatalf("want internal, got %v", err)
			}
		})
	}
}

// resign re-signs tok's payload, edited, with key under header.
func resign(t *testing.T, tok string, m jwt.SigningMethod, key any, header map[string]any, edit func(map[string]any)) string {
	t.Helper()
	var claims jwt.MapClaims
	c, _ := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[1])
	_ = json.Unmarshal(c, &claims)
	if edit != nil {
		edit(claims)
	}
	return sign(t, m, key, claims, header)
}

func TestVerifyAccessHostile(t *testing.T) {
	iss := newIssuer(t)
	sc := scopes(t, "system/Patient.rs")
	good, _, _ := iss.Issue(trustRXA, sc)
	kid := iss.Keys.CurrentKID()
	foreign := newIssuer(t)
	foreignTok, _, _ := foreign.Issue(trustRXA, sc)
	otherKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	jwks := iss.Keys.JWKS()
	parts := strings.Split(good, ".")
	tamper := func(edit func(map[string]any)) string {
		var claims map[string]any
		c, _ := base64.RawURLEncoding.DecodeString(parts[1])
		_ = json.Unmarshal(c, &claims)
		edit(claims)
		b, _ := json.Marshal(claims)
		return parts[0] + "." + base64.RawURLEncoding.EncodeToString(b) + "." + parts[2]
	}
	pubDER, _ := x509.MarshalPKIXPublicKey(otherKey.Public())
	// A token the gateway's own key signed with a role it never issues.
	oddRole := func() string {
		odd := *trustRXA
		odd.Role = "superuser"
		tok, _, err := iss.Issue(&odd, sc)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}

	tests := []struct {
		name  string
		token func() string
		iss   func(*auth.Issuer)
	}{
		{name: "expired", token: func() string { return good }, iss: func(i *auth.Issuer) {
			i.Now = func() time.Time { return t0.Add(6 * time.Minute) }
		}},
		{name: "not yet valid (nbf)", token: func() string { return good }, iss: func(i *auth.Issuer) {
			i.Now = func() time.Time { return t0.Add(-time.Minute) }
		}},
		{name: "wrong aud", token: func() string { return good }, iss: func(i *auth.Issuer) { i.Audience = "https://other.example/fhir" }},
		{name: "wrong iss", token: func() string { return good }, iss: func(i *auth.Issuer) { i.Issuer = "https://other.example" }},
		{name: "signed by an unknown key", token: func() string { return foreignTok }},
		{name: "unknown key, our kid", token: func() string {
			return resign(t, good, jwt.SigningMethodES256, otherKey, map[string]any{"kid": kid}, nil)
		}},
		{name: "no kid", token: func() string {
			return resign(t, good, jwt.SigningMethodES256, otherKey, nil, nil)
		}},
		{name: "alg none", token: func() string {
			return base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","kid":"`+kid+`"}`)) + "." + parts[1] + "."
		}},
		{name: "HS256 keyed with our published JWKS", token: func() string {
			return resign(t, good, jwt.SigningMethodHS256, jwks, map[string]any{"kid": kid}, nil)
		}},
		{name: "HS256 keyed with a public key", token: func() string {
			return resign(t, good, jwt.SigningMethodHS256, pubDER, map[string]any{"kid": kid}, nil)
		}},
		{name: "ES384 with our kid", token: func() string {
			return resign(t, good, jwt.SigningMethodES384, p384, map[string]any{"kid": kid}, nil)
		}},
		{name: "tampered role", token: func() string { return tamper(func(c map[string]any) { c["role"] = "admin" }) }},
		{name: "tampered org", token: func() string { return tamper(func(c map[string]any) { c["org"] = "RXB" }) }},
		{name: "tampered scope", token: func() string { return tamper(func(c map[string]any) { c["scope"] = "system/*.cruds" }) }},
		{name: "tampered exp", token: func() string {
			return tamper(func(c map[string]any) { c["exp"] = t0.Add(time.Hour).Unix() })
		}, iss: func(i *auth.Issuer) { i.Now = func() time.Time { return t0.Add(10 * time.Minute) } }},
		{name: "signature stripped", token: func() string { return parts[0] + "." + parts[1] + "." }},
		{name: "signature truncated", token: func() string { return good[:len(good)-4] }},
		{name: "not a JWT", token: func() string { return "abc" }},
		{name: "empty", token: func() string { return "" }},
		{name: "huge", token: func() string { return good + strings.Repeat("A", auth.MaxAccessTokenBytes) }},
		{name: "validly signed, unknown role", token: oddRole},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := *iss
			if tc.iss != nil {
				tc.iss(&v)
			}
			p, err := v.VerifyAccess(tc.token())
			if p != nil {
				t.Fatalf("accepted: %+v", p)
			}
			wantAuthErr(t, err, discharge.KindUnauthorized, "invalid_token")
		})
	}
	t.Run("crit header, signed with our own key", func(t *testing.T) {
		priv, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		v := *iss
		v.Keys = (&auth.KeySet{}).With(priv)
		tok, _, _ := v.Issue(trustRXA, sc)
		if _, err := v.VerifyAccess(tok); err != nil {
			t.Fatal(err)
		}
		crit := resign(t, tok, jwt.SigningMethodES256, priv, map[string]any{"kid": v.Keys.CurrentKID(), "crit": []string{"exp"}}, nil)
		_, err := v.VerifyAccess(crit)
		wantAuthErr(t, err, discharge.KindUnauthorized, "invalid_token")
	})
	t.Run("within clock skew after exp", func(t *testing.T) {
		v := *iss
		v.Now = func() time.Time { return t0.Add(5*time.Minute + 20*time.Second) }
		if _, err := v.VerifyAccess(good); err != nil {
			t.Fatal(err)
		}
	})
}

func TestKeyRotation(t *testing.T) {
	iss := newIssuer(t)
	old := iss.Keys
	tok, _, err := iss.Issue(trustRXA, scopes(t, "system/Patient.rs"))
	if err != nil {
		t.Fatal(err)
	}
	newKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	iss.Keys = old.With(newKey)
	if iss.Keys.CurrentKID() == old.CurrentKID() || len(iss.Keys.KIDs()) != 2 {
		t.Fatal("the new key does not sign")
	}
	if _, err := iss.VerifyAccess(tok); err != nil {
		t.Fatalf("a token of the previous key must verify after rotation: %v", err)
	}
	tok2, _, _ := iss.Issue(trustRXA, scopes(t, "system/Patient.rs"))
	iss.Keys = iss.Keys.Without(old.CurrentKID())
	_, err = iss.VerifyAccess(tok)
	wantAuthErr(t, err, discharge.KindUnauthorized, "invalid_token")
	if p, err := iss.VerifyAccess(tok2); err != nil || p.Org != "RXA" {
		t.Fatalf("new token: %+v %v", p, err)
	}
}

func TestCanSee(t *testing.T) {
	p := func(role auth.Role, org string, members ...string) *auth.Principal {
		return &auth.Principal{ClientID: "c", Role: role, Org: org, Members: members}
	}
	tests := []struct {
		name string
		p    *auth.Principal
		org  string
		want bool
	}{
		{"trust own", p(auth.RoleTrust, "RXA"), "RXA", true},
		{"trust other", p(auth.RoleTrust, "RXA"), "RXB", false},
		{"trust empty org", p(auth.RoleTrust, "RXA"), "", false},
		{"hub member", p(auth.RoleHub, "QXH", "RXA", "RXB"), "RXB", true},
		{"hub non-member", p(auth.RoleHub, "QXH", "RXA"), "RXC", false},
		{"hub own org is not a member", p(auth.RoleHub, "QXH", "RXA"), "QXH", false},
		{"care provider", p(auth.RoleCareProvider, "1-000000001"), "1-000000001", false},
		{"admin sees no patient data", p(auth.RoleAdmin, "DGADMIN"), "RXA", false},
		{"admin own org", p(auth.RoleAdmin, "DGADMIN"), "DGADMIN", false},
		{"unknown role", p("superuser", "RXA"), "RXA", false},
		{"nil principal", nil, "RXA", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.p.CanSee(tc.org); got != tc.want {
				t.Fatalf("got %v", got)
			}
		})
	}
}

func TestParseBearer(t *testing.T) {
	tests := []struct {
		header, token, detail string
		ok                    bool
	}{
		{"Bearer abc.def-ghi_jkl", "abc.def-ghi_jkl", "", true},
		{"bearer abc", "abc", "", true},
		{"BEARER abc", "abc", "", true},
		{"bEaReR abc", "abc", "", true},
		{"Bearer   abc", "abc", "", true},
		{"Bearer a+b/c~d==", "a+b/c~d==", "", true},
		{"", "", "", false},
		{"Bearer", "", "invalid_request", false},
		{"Bearer ", "", "invalid_request", false},
		{"Bearer    ", "", "invalid_request", false},
		{" Bearer abc", "", "invalid_request", false},
		{"Bearer abc ", "", "invalid_request", false},
		{"Bearer\tabc", "", "invalid_request", false},
		{"Bearer \tabc", "", "invalid_request", false},
		{"Bearer abc def", "", "invalid_request", false},
		{"Bearer abc,def", "", "invalid_request", false},
		{"Basic abc", "", "invalid_request", false},
		{"Bearerabc", "", "invalid_request", false},
		{"Bearer: abc", "", "invalid_request", false},
		{"DPoP abc", "", "invalid_request", false},
		{"Bearer abc\x00", "", "invalid_request", false},
		{"Bearer abc\r\nX: y", "", "invalid_request", false},
		{"Bearer ab\"c", "", "invalid_request", false},
		{"Bearer a=b", "", "invalid_request", false},
		{"Bearer ===", "", "invalid_request", false},
		{"Bearer abç", "", "invalid_request", false},
		{"Bearer " + strings.Repeat("a", auth.MaxAccessTokenBytes+1), "", "invalid_request", false},
	}
	for _, tc := range tests {
		t.Run(tc.header, func(t *testing.T) {
			tok, err := auth.ParseBearer(tc.header)
			if tc.ok {
				if err != nil || tok != tc.token {
					t.Fatalf("%q %v", tok, err)
				}
				return
			}
			wantAuthErr(t, err, discharge.KindUnauthorized, tc.detail)
		})
	}
}

func FuzzParseBearer(f *testing.F) {
	for _, s := range []string{"Bearer abc", "bearer  a.b.c", "Basic x", "Bearer a==", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, h string) {
		tok, err := auth.ParseBearer(h)
		if err != nil {
			return
		}
		if tok == "" || strings.ContainsAny(tok, " \t\r\n\x00,\"") || !strings.HasSuffix(h, tok) {
			t.Fatalf("%q gave %q", h, tok)
		}
	})
}

func FuzzVerifyAccess(f *testing.F) {
	iss := newIssuer(f)
	tok, _, _ := iss.Issue(trustRXA, scopes(f, "system/Patient.rs"))
	f.Add(tok)
	f.Add("a.b.c")
	f.Fuzz(func(t *testing.T, s string) {
		p, err := iss.VerifyAccess(s)
		if err == nil && (p.ClientID != trustRXA.ID || p.Org != trustRXA.Org || p.Role != trustRXA.Role) {
			t.Fatalf("accepted a token the issuer did not sign: %q %+v", s, p)
		}
	})
}
