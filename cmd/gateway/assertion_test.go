package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dischargegateway/gateway/auth"
)

// TestClientAssertionEndToEnd is the production path an integrator takes:
// sign an assertion with the client's own private key, exchange it at the
// token endpoint of a running gateway, and call the FHIR API with the
// access token. Demo clients stand in for a registered EPR.
func TestClientAssertionEndToEnd(t *testing.T) {
	base, stop, done, _ := startRun(t, map[string]string{"GATEWAY_DEMO_WORLD": "off"})
	defer func() { stop(); <-done }()
	keys := filepath.Join("..", "..", "configs", "demo", "keys")
	tokenURL := base + "/oauth2/token"
	noEnv := func(string) string { return "" }

	for _, tc := range []struct {
		name, client, key string
		extra             []string
		wantErr           bool
		wantScope         string
	}{
		{name: "EC P-384 key (ES384)", client: "demo-trust-rxa", key: "DEMO-ONLY-demo-trust-rxa.pem"},
		{name: "RSA key (RS256)", client: "demo-trust-rxb", key: "DEMO-ONLY-demo-trust-rxb.pem"},
		{name: "narrower scope", client: "demo-trust-rxa", key: "DEMO-ONLY-demo-trust-rxa.pem",
			extra: []string{"--scope", "system/Patient.rs"}, wantScope: "system/Patient.rs"},
		{name: "another client's key", client: "demo-trust-rxa", key: "DEMO-ONLY-demo-trust-rxb.pem", wantErr: true},
		{name: "a kid the client does not have", client: "demo-trust-rxa", key: "DEMO-ONLY-demo-trust-rxa.pem",
			extra: []string{"--kid", "nope"}, wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			args := append([]string{"client-assertion", "--client", tc.client, "--key", filepath.Join(keys, tc.key),
				"--token-url", tokenURL, "--fetch"}, tc.extra...)
			err := run(context.Background(), args, noEnv, &stdout, &stderr, nil)
			if tc.wantErr {
				if err == nil || !strings.Contains(stderr.String(), "invalid_client") {
					t.Fatalf("want invalid_client, got %v\n%s", err, stderr.String())
				}
				return
			}
			if err != nil {
				t.Fatalf("%v\n%s", err, stderr.String())
			}
			var tok struct {
				AccessToken string `json:"access_token"`
				TokenType   string `json:"token_type"`
				ExpiresIn   int    `json:"expires_in"`
				Scope       string `json:"scope"`
			}
			if err := json.Unmarshal(stdout.Bytes(), &tok); err != nil || tok.AccessToken == "" || !strings.EqualFold(tok.TokenType, "bearer") {
				t.Fatalf("token response %s (%v)", stdout.String(), err)
			}
			if tc.wantScope != "" && tok.Scope != tc.wantScope {
				t.Errorf("scope %q, want %q", tok.Scope, tc.wantScope)
			}
			req, _ := http.NewRequest("GET", base+"/fhir/Patient", nil)
			req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != 200 {
				t.Fatalf("GET /fhir/Patient with the access token: %d", res.StatusCode)
			}
		})
	}
}

// TestClientAssertionClaims checks the printed assertion without a
// gateway: iss = sub = client, aud = token URL, a jti, exp at most five
// minutes ahead, the kid in the header; and keys the gateway would refuse
// are refused before signing.
func TestClientAssertionClaims(t *testing.T) {
	key := filepath.Join("..", "..", "configs", "demo", "keys", "DEMO-ONLY-demo-hub.pem")
	var out bytes.Buffer
	err := run(context.Background(), []string{"client-assertion", "--client", "demo-hub", "--key", key, "--kid", "k1"},
		func(k string) string {
			return map[string]string{"GATEWAY_BASE_URL": "https://gw.example.nhs.uk/fhir"}[k]
		}, &out, &out, nil)
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(strings.TrimSpace(out.String()), ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWS: %s", out.String())
	}
	var hdr struct{ Alg, Kid string }
	var claims struct {
		Iss, Sub, Jti string
		Aud           []string
		Iat, Exp      int64
	}
	for i, v := range []any{&hdr, &claims} {
		b, err := base64.RawURLEncoding.DecodeString(parts[i])
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, v); err != nil {
			t.Fatal(err)
		}
	}
	if hdr.Alg != "ES384" || hdr.Kid != "k1" {
		t.Errorf("header %+v", hdr)
	}
	if claims.Iss != "demo-hub" || claims.Sub != "demo-hub" || claims.Jti == "" ||
		len(claims.Aud) != 1 || claims.Aud[0] != "https://gw.example.nhs.uk/oauth2/token" {
		t.Errorf("claims %+v", claims)
	}
	if life := time.Duration(claims.Exp-claims.Iat) * time.Second; life <= 0 || life > 5*time.Minute {
		t.Errorf("exp is %s after iat", life)
	}

	// A P-256 key is not one the gateway takes for clients (ES384 only).
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.MarshalPKCS8PrivateKey(p256)
	bad := filepath.Join(t.TempDir(), "p256.pem")
	if err := os.WriteFile(bad, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	err = run(context.Background(), []string{"client-assertion", "--client", "x", "--key", bad}, func(string) string { return "" }, &out, &out, nil)
	if err == nil || !strings.Contains(err.Error(), "P-384") {
		t.Fatalf("want a refusal naming P-384, got %v", err)
	}
}

// TestClientAssertionPrintJWKS: the JWK Set printed for a private key is
// what the registry takes, and for each demo client it names the very key
// registered for it (same RFC 7638 thumbprint), so an integrator can send
// its output to the operator as it is.
func TestClientAssertionPrintJWKS(t *testing.T) {
	reg, err := auth.LoadRegistry(filepath.Join("..", "..", "configs", "demo", "clients.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"demo-trust-rxa", "demo-trust-rxb"} {
		t.Run(id, func(t *testing.T) {
			var out bytes.Buffer
			key := filepath.Join("..", "..", "configs", "demo", "keys", "DEMO-ONLY-"+id+".pem")
			if err := run(context.Background(), []string{"client-assertion", "--key", key, "--print-jwks"}, func(string) string { return "" }, &out, &out, nil); err != nil {
				t.Fatal(err)
			}
			if strings.Contains(out.String(), `"d"`) {
				t.Fatalf("private member in the public JWK Set: %s", out.String())
			}
			keys, err := auth.ParseJWKS(out.Bytes())
			if err != nil || len(keys) != 1 {
				t.Fatalf("%v\n%s", err, out.String())
			}
			c, _ := reg.Client(id)
			if keys[0].KID != keys[0].Thumbprint || len(c.Keys) == 0 || c.Keys[0].Thumbprint != keys[0].Thumbprint || c.Keys[0].Alg != keys[0].Alg {
				t.Errorf("printed key %+v, registered %+v", keys[0], c.Keys)
			}
		})
	}
}
