package auth_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dischargegateway/gateway/auth"
)

func TestDemoAndExampleRegistries(t *testing.T) {
	reg := demoRegistry(t)
	if !reg.Demo() || len(reg.Clients()) != 7 {
		t.Fatalf("demo registry: demo %v, %d clients", reg.Demo(), len(reg.Clients()))
	}
	roles := map[auth.Role]int{}
	for _, c := range reg.Clients() {
		roles[c.Role]++
		if !c.Demo || len(c.Keys) == 0 || c.OrgSystem == "" {
			t.Errorf("%s: %+v", c.ID, c)
		}
	}
	if roles[auth.RoleTrust] != 2 || roles[auth.RoleHub] != 1 || roles[auth.RoleCareProvider] != 2 || roles[auth.RoleAdmin] != 1 || roles[auth.RoleSystem] != 1 {
		t.Fatalf("roles %v", roles)
	}
	hub, _ := reg.Client("demo-hub")
	if strings.Join(hub.Members, ",") != "RXA,RXB" {
		t.Fatalf("hub members %v", hub.Members)
	}
	if ch, _ := reg.Client("demo-care-home-1"); ch.OrgSystem != auth.SystemCQC {
		t.Fatalf("care provider system %q", ch.OrgSystem)
	}
	ex, err := auth.LoadRegistry(filepath.Join("..", "configs", "clients.example.json"))
	if err != nil || ex.Demo() || len(ex.Clients()) != 2 {
		t.Fatalf("example registry: %v", err)
	}
	if _, ok := ex.Client("gm-hub"); !ok {
		t.Fatal("the example's jwksFile client did not load")
	}
	// The trusts the registries name: trust clients' organisations and
	// hubs' members, each once, sorted (the hub itself is no trust).
	if got := strings.Join(reg.Trusts(), ","); got != "RXA,RXB" {
		t.Fatalf("demo trusts %s", got)
	}
	if got := strings.Join(ex.Trusts(), ","); got != "RXX" {
		t.Fatalf("example trusts %s", got)
	}
}

// jwk makes a public JWK map for an EC P-384 key.
func ecJWK(t *testing.T) map[string]any {
	t.Helper()
	k, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	raw, _ := k.PublicKey.Bytes()
	return map[string]any{"kty": "EC", "crv": "P-384", "x": base64.RawURLEncoding.EncodeToString(raw[1:49]),
		"y": base64.RawURLEncoding.EncodeToString(raw[49:]), "use": "sig", "alg": "ES384"}
}

func edit(m map[string]any, kv ...any) map[string]any {
	out := map[string]any{}
	for k, v := range m {
		out[k] = v
	}
	for i := 0; i < len(kv); i += 2 {
		if kv[i+1] == nil {
			delete(out, kv[i].(string))
		} else {
			out[kv[i].(string)] = kv[i+1]
		}
	}
	return out
}

func TestLoadRegistry(t *testing.T) {
	key := ecJWK(t)
	rxb := demoRegistry(t)
	rsaClient, _ := rxb.Client("demo-trust-rxb")
	_ = rsaClient
	var demoFile struct {
		Clients []struct {
			ID   string `json:"clientId"`
			JWKS struct {
				Keys []map[string]any `json:"keys"`
			} `json:"jwks"`
		} `json:"clients"`
	}
	raw, _ := os.ReadFile(filepath.Join(demoDir, "clients.json"))
	_ = json.Unmarshal(raw, &demoFile)
	var rsaKey map[string]any
	for _, c := range demoFile.Clients {
		if c.ID == "demo-trust-rxb" {
			rsaKey = c.JWKS.Keys[0]
		}
	}
	client := func(kv ...any) map[string]any {
		c := map[string]any{"clientId": "a", "organization": "RXA", "role": "trust",
			"scopes": []string{"system/Patient.rs"}, "jwks": map[string]any{"keys": []any{key}}}
		return edit(c, kv...)
	}
	keys := func(k ...any) map[string]any { return map[string]any{"keys": k} }
	short := edit(key, "x", base64.RawURLEncoding.EncodeToString([]byte{1, 2, 3}))
	offCurve := edit(key, "y", key["x"])

	tests := []struct {
		name    string
		clients []any
		ok      bool
	}{
		{"valid EC", []any{client()}, true},
		{"valid RSA", []any{client("jwks", keys(rsaKey))}, true},
		{"kid defaults to the thumbprint", []any{client("jwks", keys(edit(key, "kid", nil, "alg", nil, "use", nil)))}, true},
		{"valid hub", []any{client("role", "hub", "memberTrusts", []string{"RXA", "RXB"})}, true},
		{"comments", []any{client("_comment", "x", "_description", "y")}, true},

		{"no keys", []any{client("jwks", nil)}, false},
		{"empty key set", []any{client("jwks", keys())}, false},
		{"unknown role", []any{client("role", "king")}, false},
		{"role missing", []any{client("role", nil)}, false},
		{"hub without members", []any{client("role", "hub")}, false},
		{"hub with a repeated member", []any{client("role", "hub", "memberTrusts", []string{"RXA", "RXA"})}, false},
		{"trust with members", []any{client("memberTrusts", []string{"RXB"})}, false},
		{"valid system client", []any{client("role", "system", "organization", "QXY", "memberTrusts", []string{"RXA", "RXB"},
			"scopes", []string{"system/MeasureReport.rs", "system/CodeSystem.rs"})}, true},
		{"system client without members", []any{client("role", "system", "scopes", []string{"system/MeasureReport.rs"})}, false},
		{"system client with a patient scope", []any{client("role", "system", "memberTrusts", []string{"RXA"},
			"scopes", []string{"system/MeasureReport.rs", "system/Patient.rs"})}, false},
		{"system client with a wildcard", []any{client("role", "system", "memberTrusts", []string{"RXA"}, "scopes", []string{"system/*.rs"})}, false},
		{"system client writing reports", []any{client("role", "system", "memberTrusts", []string{"RXA"}, "scopes", []string{"system/MeasureReport.crs"})}, false},
		{"no client id", []any{client("clientId", "")}, false},
		{"client id with a space", []any{client("clientId", "a b")}, false},
		{"no organization", []any{client("organization", nil)}, false},
		{"repeated client id", []any{client(), client()}, false},
		{"unknown member (typo)", []any{client("memberTrust", []string{"RXB"})}, false},
		{"bad scope", []any{client("scopes", []string{"user/Patient.rs"})}, false},
		{"every grantable scope", []any{client("scopes", auth.SupportedScopes())}, true},
		{"scope on a type the gateway does not guard", []any{client("scopes", []string{"system/Patients.rs"})}, false},
		{"write on read-only terminology", []any{client("scopes", []string{"system/CodeSystem.cruds"})}, false},
		{"wildcard write", []any{client("scopes", []string{"system/*.cruds"})}, false},
		{"jwks and jwksFile", []any{client("jwksFile", "x.json")}, false},
		{"missing jwksFile", []any{client("jwks", nil, "jwksFile", "nope.json")}, false},
		{"private d", []any{client("jwks", keys(edit(key, "d", "AA")))}, false},
		{"private p on RSA", []any{client("jwks", keys(edit(rsaKey, "p", "AA")))}, false},
		{"symmetric k", []any{client("jwks", keys(map[string]any{"kty": "oct", "k": "c2VjcmV0"}))}, false},
		{"oct key", []any{client("jwks", keys(map[string]any{"kty": "oct"}))}, false},
		{"small RSA", []any{client("jwks", keys(edit(rsaKey, "n", base64.RawURLEncoding.EncodeToString(make([]byte, 128)))))}, false},
		{"RSA e = 1", []any{client("jwks", keys(edit(rsaKey, "e", "AQ")))}, false},
		{"RSA alg mismatch", []any{client("jwks", keys(edit(rsaKey, "alg", "RS512")))}, false},
		{"EC P-256", []any{client("jwks", keys(edit(key, "crv", "P-256")))}, false},
		{"EC alg mismatch", []any{client("jwks", keys(edit(key, "alg", "ES256")))}, false},
		{"EC short coordinate", []any{client("jwks", keys(short))}, false},
		{"EC point off the curve", []any{client("jwks", keys(offCurve))}, false},
		{"EC padded base64", []any{client("jwks", keys(edit(key, "x", key["x"].(string)+"=")))}, false},
		{"use enc", []any{client("jwks", keys(edit(key, "use", "enc")))}, false},
		{"kid not a string", []any{client("jwks", keys(edit(key, "kid", 5)))}, false},
		{"repeated kid", []any{client("jwks", keys(edit(key, "kid", "k"), edit(ecJWK(t), "kid", "k")))}, false},
	}
	dir := t.TempDir()
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			body, _ := json.Marshal(map[string]any{"clients": tc.clients})
			p := filepath.Join(dir, "r"+string(rune('a'+i%26))+".json")
			if err := os.WriteFile(p, body, 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := auth.LoadRegistry(p)
			if (err == nil) != tc.ok {
				t.Fatalf("ok %v, err %v", tc.ok, err)
			}
		})
	}
	t.Run("unknown top-level member", func(t *testing.T) {
		p := filepath.Join(dir, "top.json")
		_ = os.WriteFile(p, []byte(`{"client":[]}`), 0o600)
		if _, err := auth.LoadRegistry(p); err == nil {
			t.Fatal("accepted")
		}
	})
	t.Run("jwksFile relative to the registry's folder", func(t *testing.T) {
		sub := filepath.Join(dir, "nested", "conf")
		_ = os.MkdirAll(filepath.Join(sub, "keys"), 0o700)
		set, _ := json.Marshal(keys(key))
		_ = os.WriteFile(filepath.Join(sub, "keys", "a.jwks.json"), set, 0o600)
		body, _ := json.Marshal(map[string]any{"clients": []any{client("jwks", nil, "jwksFile", "keys/a.jwks.json")}})
		p := filepath.Join(sub, "clients.json")
		_ = os.WriteFile(p, body, 0o600)
		reg, err := auth.LoadRegistry(p)
		if err != nil {
			t.Fatal(err)
		}
		if c, ok := reg.Client("a"); !ok || len(c.Keys) != 1 || c.Keys[0].KID != c.Keys[0].Thumbprint {
			t.Fatalf("%+v", c)
		}
	})
}

func FuzzParseJWKS(f *testing.F) {
	raw, _ := os.ReadFile(filepath.Join(demoDir, "jwks-example.json"))
	f.Add(raw)
	f.Add([]byte(`{"keys":[{"kty":"EC","crv":"P-384","x":"AA","y":"AA"}]}`))
	f.Add([]byte(`{"keys":[{"kty":"RSA","n":"AQAB","e":"AQAB"}]}`))
	f.Fuzz(func(t *testing.T, in []byte) {
		keys, err := auth.ParseJWKS(in)
		if err != nil {
			return
		}
		for _, k := range keys {
			if k.Key == nil || k.KID == "" || (k.Alg != "RS256" && k.Alg != "ES384") {
				t.Fatalf("accepted a half-made key %+v", k)
			}
		}
	})
}
