package auth_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dischargegateway/gateway/auth"
	"github.com/dischargegateway/gateway/discharge"
)

func TestScopes(t *testing.T) {
	tests := []struct {
		in      string
		typ     string
		op      byte
		allowed bool
	}{
		{"system/Encounter.cruds", "Encounter", 'u', true},
		{"system/Encounter.rs", "Encounter", 'c', false},
		{"system/*.rs", "ServiceRequest", 's', true},
		{"system/Patient.read", "Patient", 's', true},
		{"system/Patient.read", "Patient", 'u', false},
		{"system/Patient.write", "Patient", 'u', true},
		{"system/Patient.*", "Patient", 'd', true},
	}
	for _, tc := range tests {
		s, err := auth.ParseScopes(tc.in)
		if err != nil {
			t.Fatalf("%s: %v", tc.in, err)
		}
		if s.Allows(tc.typ, tc.op) != tc.allowed {
			t.Errorf("%s allows %c on %s: want %v", tc.in, tc.op, tc.typ, tc.allowed)
		}
	}
	for _, bad := range []string{"user/Patient.read", "system/Patient", "system/Patient.sr", "system/Patient.xyz", "patient/*.rs"} {
		if _, err := auth.ParseScopes(bad); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
	want, _ := auth.ParseScopes("system/Patient.cruds system/Encounter.rs")
	allowed, _ := auth.ParseScopes("system/Patient.rs system/ServiceRequest.cruds")
	if got := want.Intersect(allowed).String(); got != "system/Patient.rs" {
		t.Fatalf("intersect %q", got)
	}
	c := &auth.Client{ID: "x", Scopes: []string{"system/Patient.rs"}}
	if _, err := auth.Grant(c, "system/Encounter.cruds"); discharge.ErrorKind(err) != discharge.KindUnauthorized {
		t.Fatalf("grant outside allowed: %v", err)
	}
	if g, err := auth.Grant(c, ""); err != nil || g.String() != "system/Patient.rs" {
		t.Fatalf("default grant %v %v", g, err)
	}
}

func TestParseBearer(t *testing.T) {
	for h, ok := range map[string]bool{"Bearer abc.def-ghi_jkl": true, "bearer abc": true, "Bearer   abc": true,
		"": false, "Bearer": false, "Bearer ": false, "Basic abc": false, "Bearer abc def": false, "Bearer\tabc": false,
		"Bearer abc\x00": false, "Bearer ab\"c": false} {
		_, err := auth.ParseBearer(h)
		if (err == nil) != ok {
			t.Errorf("%q: err %v", h, err)
		}
	}
}

func TestKeyRotation(t *testing.T) {
	old, _ := auth.GenerateKeySet()
	now := time.Now()
	iss := &auth.Issuer{Keys: old, Issuer: "urn:t", Audience: "urn:t", Now: func() time.Time { return now }}
	c := &auth.Client{ID: "c", Role: auth.RoleTrust, Org: "RXA"}
	sc, _ := auth.ParseScopes("system/Patient.rs")
	tok, _, err := iss.Issue(c, sc)
	if err != nil {
		t.Fatal(err)
	}
	newKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	rotated := old.With(newKey)
	iss.Keys = rotated
	if _, err := iss.VerifyAccess(tok); err != nil {
		t.Fatalf("token signed by the previous key must verify after rotation: %v", err)
	}
	tok2, _, _ := iss.Issue(c, sc)
	iss.Keys = rotated.Without(old.CurrentKID())
	if _, err := iss.VerifyAccess(tok); err == nil {
		t.Fatal("token of a retired key still verifies")
	}
	if p, err := iss.VerifyAccess(tok2); err != nil || p.Org != "RXA" || !p.Scopes.Allows("Patient", 'r') {
		t.Fatalf("new token: %+v %v", p, err)
	}
	if jwks := string(rotated.JWKS()); strings.Contains(jwks, `"d"`) || strings.Count(jwks, `"kid"`) != 2 {
		t.Fatalf("jwks %s", jwks)
	}
}

func TestRegistryValidation(t *testing.T) {
	reg, err := auth.LoadRegistry(filepath.Join("..", "configs", "demo", "clients.json"))
	if err != nil || !reg.Demo() || len(reg.Clients()) != 6 {
		t.Fatalf("demo registry: %v", err)
	}
	hub, _ := reg.Client("demo-hub")
	if hub.Role != auth.RoleHub || len(hub.Members) != 2 {
		t.Fatalf("hub %+v", hub)
	}
	ex, err := auth.LoadRegistry(filepath.Join("..", "configs", "clients.example.json"))
	if err != nil || ex.Demo() {
		t.Fatalf("example registry: %v", err)
	}
	dir := t.TempDir()
	for name, body := range map[string]string{
		"no-keys":     `{"clients":[{"clientId":"a","organization":"RXA","role":"trust","scopes":["system/Patient.rs"]}]}`,
		"bad-role":    `{"clients":[{"clientId":"a","organization":"RXA","role":"king","jwks":{"keys":[]}}]}`,
		"hub-members": `{"clients":[{"clientId":"a","organization":"QXH","role":"hub","jwks":{"keys":[]}}]}`,
		"private-key": `{"clients":[{"clientId":"a","organization":"RXA","role":"trust","jwks":{"keys":[{"kty":"EC","crv":"P-384","x":"AA","y":"AA","d":"AA"}]}}]}`,
		"small-rsa":   `{"clients":[{"clientId":"a","organization":"RXA","role":"trust","jwks":{"keys":[{"kty":"RSA","n":"AQAB","e":"AQAB"}]}}]}`,
		"duplicate":   `{"clients":[{"clientId":"a","organization":"RXA","role":"admin"},{"clientId":"a","organization":"RXA","role":"admin"}]}`,
	} {
		p := filepath.Join(dir, name+".json")
		_ = os.WriteFile(p, []byte(body), 0o600)
		if _, err := auth.LoadRegistry(p); err == nil {
			t.Errorf("%s accepted", name)
		}
	}
}

func BenchmarkIssue(b *testing.B) {
	ks, _ := auth.GenerateKeySet()
	iss := &auth.Issuer{Keys: ks, Issuer: "urn:t", Audience: "urn:t"}
	c := &auth.Client{ID: "c", Role: auth.RoleTrust, Org: "RXA"}
	sc, _ := auth.ParseScopes("system/Patient.cruds system/Encounter.cruds system/ServiceRequest.cruds")
	for i := 0; i < b.N; i++ {
		if _, _, err := iss.Issue(c, sc); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifyAccess(b *testing.B) {
	ks, _ := auth.GenerateKeySet()
	iss := &auth.Issuer{Keys: ks, Issuer: "urn:t", Audience: "urn:t"}
	sc, _ := auth.ParseScopes("system/Patient.cruds")
	tok, _, _ := iss.Issue(&auth.Client{ID: "c", Role: auth.RoleTrust, Org: "RXA"}, sc)
	for i := 0; i < b.N; i++ {
		if _, err := iss.VerifyAccess(tok); err != nil {
			b.Fatal(err)
		}
	}
}
