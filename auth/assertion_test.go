package auth_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/dischargegateway/gateway/auth"
	"github.com/dischargegateway/gateway/discharge"
)

const tokenURL = "https://gateway.example.nhs.uk/oauth2/token"

var t0 = time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)

func newVerifier(t testing.TB) *auth.Verifier {
	t.Helper()
	now := func() time.Time { return t0 }
	return &auth.Verifier{Registry: demoRegistry(t), TokenURL: tokenURL, Replay: &auth.MemoryReplay{Now: now}, Now: now}
}

// claim builds an assertion's claims; edit then sign it.
type claim = jwt.MapClaims

var jtiSeq atomic.Int64

func good(client string) claim {
	return claim{"iss": client, "sub": client, "aud": tokenURL, "exp": t0.Add(4 * time.Minute).Unix(),
		"iat": t0.Unix(), "jti": fmt.Sprintf("jti-%d", jtiSeq.Add(1))}
}

func with(c claim, k string, v any) claim {
	out := claim{}
	for kk, vv := range c {
		out[kk] = vv
	}
	if v == nil {
		delete(out, k)
	} else {
		out[k] = v
	}
	return out
}

func sign(t testing.TB, m jwt.SigningMethod, key any, c claim, header map[string]any) string {
	t.Helper()
	tok := jwt.NewWithClaims(m, c)
	for k, v := range header {
		tok.Header[k] = v
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func b64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

func TestVerifyAssertion(t *testing.T) {
	rxa := demoKey(t, "demo-trust-rxa").(*ecdsa.PrivateKey)
	rxb := demoKey(t, "demo-trust-rxb").(*rsa.PrivateKey)
	otherEC, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	pubDER, _ := x509.MarshalPKIXPublicKey(&rxa.PublicKey)
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})
	reg := demoRegistry(t)
	rxaClient, _ := reg.Client("demo-trust-rxa")
	rxaKID := rxaClient.Keys[0].KID
	es := jwt.SigningMethodES384
	rs := jwt.SigningMethodRS256
	unsigned := func(header string, c claim) string {
		body, _ := json.Marshal(c)
		return b64(header) + "." + base64.RawURLEncoding.EncodeToString(body) + "."
	}

	tests := []struct {
		name      string
		assertion func() string
		typ       string // client_assertion_type; default auth.AssertionType
		detail    string // "" when the client must be authenticated
		client    string
	}{
		{name: "ES384 valid", assertion: func() string { return sign(t, es, rxa, good("demo-trust-rxa"), nil) }, client: "demo-trust-rxa"},
		{name: "RS256 valid", assertion: func() string { return sign(t, rs, rxb, good("demo-trust-rxb"), nil) }, client: "demo-trust-rxb"},
		{name: "kid names the key", assertion: func() string {
			return sign(t, es, rxa, good("demo-trust-rxa"), map[string]any{"kid": rxaKID})
		}, client: "demo-trust-rxa"},
		{name: "aud array containing the token URL", assertion: func() string {
			return sign(t, es, rxa, with(good("demo-trust-rxa"), "aud", []string{"https://other.example", tokenURL}), nil)
		}, client: "demo-trust-rxa"},
		{name: "exp exactly 5 minutes ahead", assertion: func() string {
			return sign(t, es, rxa, with(good("demo-trust-rxa"), "exp", t0.Add(5*time.Minute).Unix()), nil)
		}, client: "demo-trust-rxa"},
		{name: "exp 20s past, inside the clock skew", assertion: func() string {
			return sign(t, es, rxa, with(good("demo-trust-rxa"), "exp", t0.Add(-20*time.Second).Unix()), nil)
		}, client: "demo-trust-rxa"},

		{name: "expired", assertion: func() string {
			return sign(t, es, rxa, with(good("demo-trust-rxa"), "exp", t0.Add(-2*time.Minute).Unix()), nil)
		}, detail: "invalid_client"},
		{name: "exp more than 5 minutes ahead", assertion: func() string {
			return sign(t, es, rxa, with(good("demo-trust-rxa"), "exp", t0.Add(6*time.Minute).Unix()), nil)
		}, detail: "invalid_client"},
		{name: "exp a year ahead", assertion: func() string {
			return sign(t, es, rxa, with(good("demo-trust-rxa"), "exp", t0.AddDate(1, 0, 0).Unix()), nil)
		}, detail: "invalid_client"},
		{name: "exp missing", assertion: func() string { return sign(t, es, rxa, with(good("demo-trust-rxa"), "exp", nil), nil) }, detail: "invalid_client"},
		{name: "exp not a number", assertion: func() string { return sign(t, es, rxa, with(good("demo-trust-rxa"), "exp", "soon"), nil) }, detail: "invalid_request"},
		{name: "nbf in the future", assertion: func() string {
			return sign(t, es, rxa, with(good("demo-trust-rxa"), "nbf", t0.Add(2*time.Minute).Unix()), nil)
		}, detail: "invalid_client"},
		{name: "iat in the future", assertion: func() string {
			return sign(t, es, rxa, with(good("demo-trust-rxa"), "iat", t0.Add(2*time.Minute).Unix()), nil)
		}, detail: "invalid_client"},
		{name: "wrong aud", assertion: func() string {
			return sign(t, es, rxa, with(good("demo-trust-rxa"), "aud", "https://elsewhere.example/oauth2/token"), nil)
		}, detail: "invalid_client"},
		{name: "aud with a trailing slash", assertion: func() string {
			return sign(t, es, rxa, with(good("demo-trust-rxa"), "aud", tokenURL+"/"), nil)
		}, detail: "invalid_client"},
		{name: "aud missing", assertion: func() string { return sign(t, es, rxa, with(good("demo-trust-rxa"), "aud", nil), nil) }, detail: "invalid_client"},
		{name: "signed by another key", assertion: func() string { return sign(t, es, otherEC, good("demo-trust-rxa"), nil) }, detail: "invalid_client"},
		{name: "signed by another client's key", assertion: func() string {
			return sign(t, es, demoKey(t, "demo-hub"), good("demo-trust-rxa"), nil)
		}, detail: "invalid_client"},
		{name: "RS256 for a client with only an EC key", assertion: func() string { return sign(t, rs, rxb, good("demo-trust-rxa"), nil) }, detail: "invalid_client"},
		{name: "ES256 not allowed", assertion: func() string {
			return sign(t, jwt.SigningMethodES256, p256, good("demo-trust-rxa"), nil)
		}, detail: "invalid_client"},
		{name: "RS512 not allowed", assertion: func() string {
			return sign(t, jwt.SigningMethodRS512, rxb, good("demo-trust-rxb"), nil)
		}, detail: "invalid_client"},
		{name: "alg none", assertion: func() string {
			return unsigned(`{"alg":"none","typ":"JWT"}`, good("demo-trust-rxa"))
		}, detail: "invalid_client"},
		{name: "alg None in other case", assertion: func() string {
			return unsigned(`{"alg":"None","typ":"JWT"}`, good("demo-trust-rxa"))
		}, detail: "invalid_client"},
		{name: "HS256 keyed with the client's public key PEM", assertion: func() string {
			return sign(t, jwt.SigningMethodHS256, pubPEM, good("demo-trust-rxa"), nil)
		}, detail: "invalid_client"},
		{name: "HS256 keyed with the client's public key DER", assertion: func() string {
			return sign(t, jwt.SigningMethodHS256, pubDER, good("demo-trust-rxa"), nil)
		}, detail: "invalid_client"},
		{name: "HS384 keyed with the RSA modulus", assertion: func() string {
			return sign(t, jwt.SigningMethodHS384, rxb.PublicKey.N.Bytes(), good("demo-trust-rxb"), nil)
		}, detail: "invalid_client"},
		{name: "jti missing", assertion: func() string { return sign(t, es, rxa, with(good("demo-trust-rxa"), "jti", nil), nil) }, detail: "invalid_client"},
		{name: "jti empty", assertion: func() string { return sign(t, es, rxa, with(good("demo-trust-rxa"), "jti", ""), nil) }, detail: "invalid_client"},
		{name: "jti too long", assertion: func() string {
			return sign(t, es, rxa, with(good("demo-trust-rxa"), "jti", strings.Repeat("j", 300)), nil)
		}, detail: "invalid_client"},
		{name: "iss differs from sub", assertion: func() string {
			return sign(t, es, rxa, with(good("demo-trust-rxa"), "sub", "demo-hub"), nil)
		}, detail: "invalid_client"},
		{name: "sub missing", assertion: func() string { return sign(t, es, rxa, with(good("demo-trust-rxa"), "sub", nil), nil) }, detail: "invalid_client"},
		{name: "iss missing", assertion: func() string { return sign(t, es, rxa, with(good("demo-trust-rxa"), "iss", nil), nil) }, detail: "invalid_client"},
		{name: "unknown client", assertion: func() string { return sign(t, es, otherEC, good("nobody"), nil) }, detail: "invalid_client"},
		{name: "kid naming an unknown key", assertion: func() string {
			return sign(t, es, rxa, good("demo-trust-rxa"), map[string]any{"kid": "not-a-key"})
		}, detail: "invalid_client"},
		{name: "kid naming another client's key", assertion: func() string {
			hub, _ := reg.Client("demo-hub")
			return sign(t, es, rxa, good("demo-trust-rxa"), map[string]any{"kid": hub.Keys[0].KID})
		}, detail: "invalid_client"},
		{name: "crit header", assertion: func() string {
			return sign(t, es, rxa, good("demo-trust-rxa"), map[string]any{"crit": []string{"b64"}, "b64": false})
		}, detail: "invalid_client"},
		{name: "jwk header carrying the attacker's key", assertion: func() string {
			return sign(t, es, otherEC, good("demo-trust-rxa"), map[string]any{"jwk": map[string]any{"kty": "EC"}})
		}, detail: "invalid_client"},
		{name: "kid not a string", assertion: func() string {
			return sign(t, es, rxa, good("demo-trust-rxa"), map[string]any{"kid": 7})
		}, detail: "invalid_client"},

		{name: "oversized", assertion: func() string {
			return sign(t, es, rxa, with(good("demo-trust-rxa"), "pad", strings.Repeat("x", 9000)), nil)
		}, detail: "invalid_request"},
		{name: "empty", assertion: func() string { return "" }, detail: "invalid_request"},
		{name: "two parts", assertion: func() string { return "eyJhbGciOiJFUzM4NCJ9.eyJpc3MiOiJ4In0" }, detail: "invalid_request"},
		{name: "four parts", assertion: func() string { return sign(t, es, rxa, good("demo-trust-rxa"), nil) + ".x" }, detail: "invalid_request"},
		{name: "bad base64 header", assertion: func() string { return "!!!." + b64(`{}`) + ".sig" }, detail: "invalid_request"},
		{name: "padded base64", assertion: func() string {
			s := strings.Split(sign(t, es, rxa, good("demo-trust-rxa"), nil), ".")
			return s[0] + "==." + s[1] + "." + s[2]
		}, detail: "invalid_request"},
		{name: "header not JSON", assertion: func() string { return b64("ES384") + "." + b64(`{}`) + ".c2ln" }, detail: "invalid_request"},
		{name: "payload not JSON", assertion: func() string {
			return b64(`{"alg":"ES384","typ":"JWT"}`) + "." + b64(`{"iss":`) + ".c2ln"
		}, detail: "invalid_request"},
		{name: "signature not base64", assertion: func() string {
			s := strings.Split(sign(t, es, rxa, good("demo-trust-rxa"), nil), ".")
			return s[0] + "." + s[1] + ".%%%"
		}, detail: "invalid_request"},
		{name: "wrong assertion type", typ: "urn:ietf:params:oauth:grant-type:jwt-bearer",
			assertion: func() string { return sign(t, es, rxa, good("demo-trust-rxa"), nil) }, detail: "invalid_request"},
		{name: "no assertion type", typ: "-",
			assertion: func() string { return sign(t, es, rxa, good("demo-trust-rxa"), nil) }, detail: "invalid_request"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := newVerifier(t)
			typ := tc.typ
			switch typ {
			case "":
				typ = auth.AssertionType
			case "-":
				typ = ""
			}
			a := tc.assertion()
			c, err := v.VerifyAssertion(context.Background(), typ, a)
			if tc.detail == "" {
				if err != nil || c == nil || c.ID != tc.client {
					t.Fatalf("want client %s, got %v, %v", tc.client, c, err)
				}
				return
			}
			if c != nil {
				t.Fatalf("authenticated %s", c.ID)
			}
			de := wantAuthErr(t, err, discharge.KindUnauthorized, tc.detail)
			// Nothing the caller is told may echo the assertion.
			if parts := strings.Split(a, "."); len(a) > 0 {
				for _, p := range parts {
					if len(p) > 8 && (strings.Contains(de.Issues[0].Message, p) || strings.Contains(err.Error(), p)) {
						t.Fatalf("the error echoes the assertion: %v", err)
					}
				}
			}
		})
	}
}

func TestVerifyAssertionReplay(t *testing.T) {
	rxa := demoKey(t, "demo-trust-rxa")
	t.Run("same jti twice", func(t *testing.T) {
		v := newVerifier(t)
		a := sign(t, jwt.SigningMethodES384, rxa, good("demo-trust-rxa"), nil)
		if _, err := v.VerifyAssertion(context.Background(), auth.AssertionType, a); err != nil {
			t.Fatal(err)
		}
		_, err := v.VerifyAssertion(context.Background(), auth.AssertionType, a)
		wantAuthErr(t, err, discharge.KindUnauthorized, "invalid_client")
		// A new assertion with a used jti is a replay too.
		jti := with(good("demo-trust-rxa"), "jti", "fixed")
		if _, err := v.VerifyAssertion(context.Background(), auth.AssertionType, sign(t, jwt.SigningMethodES384, rxa, jti, nil)); err != nil {
			t.Fatal(err)
		}
		_, err = v.VerifyAssertion(context.Background(), auth.AssertionType, sign(t, jwt.SigningMethodES384, rxa, jti, nil))
		wantAuthErr(t, err, discharge.KindUnauthorized, "invalid_client")
	})
	t.Run("jti is per client", func(t *testing.T) {
		v := newVerifier(t)
		a := sign(t, jwt.SigningMethodES384, rxa, with(good("demo-trust-rxa"), "jti", "shared"), nil)
		h := sign(t, jwt.SigningMethodES384, demoKey(t, "demo-hub"), with(good("demo-hub"), "jti", "shared"), nil)
		for _, s := range []string{a, h} {
			if _, err := v.VerifyAssertion(context.Background(), auth.AssertionType, s); err != nil {
				t.Fatal(err)
			}
		}
	})
	t.Run("concurrent replays: exactly one wins", func(t *testing.T) {
		v := newVerifier(t)
		a := sign(t, jwt.SigningMethodES384, rxa, good("demo-trust-rxa"), nil)
		var ok atomic.Int32
		var wg sync.WaitGroup
		for range 32 {
			wg.Go(func() {
				if _, err := v.VerifyAssertion(context.Background(), auth.AssertionType, a); err == nil {
					ok.Add(1)
				}
			})
		}
		wg.Wait()
		if ok.Load() != 1 {
			t.Fatalf("%d of 32 concurrent uses accepted", ok.Load())
		}
	})
	t.Run("jti usable again once expired", func(t *testing.T) {
		now := t0
		m := &auth.MemoryReplay{Now: func() time.Time { return now }}
		if fresh, _ := m.Remember(context.Background(), "c", "j", now.Add(time.Minute)); !fresh {
			t.Fatal("first use not fresh")
		}
		if fresh, _ := m.Remember(context.Background(), "c", "j", now.Add(time.Minute)); fresh {
			t.Fatal("replay fresh")
		}
		now = now.Add(2 * time.Minute)
		if fresh, _ := m.Remember(context.Background(), "c", "j", now.Add(time.Minute)); !fresh {
			t.Fatal("expired jti not fresh")
		}
	})
}

// fakeReplay is a ReplayCache whose behaviour each test sets.
type fakeReplay struct {
	remember func(ctx context.Context, clientID, jti string, until time.Time) (bool, error)
	calls    atomic.Int32
}

func (f *fakeReplay) Remember(ctx context.Context, clientID, jti string, until time.Time) (bool, error) {
	f.calls.Add(1)
	return f.remember(ctx, clientID, jti, until)
}

func TestVerifyAssertionReplayCache(t *testing.T) {
	rxa := demoKey(t, "demo-trust-rxa")
	t.Run("cache down is unavailable, not the client's fault", func(t *testing.T) {
		v := newVerifier(t)
		v.Replay = &fakeReplay{remember: func(context.Context, string, string, time.Time) (bool, error) {
			return false, errors.New("dial tcp: connection refused")
		}}
		_, err := v.VerifyAssertion(context.Background(), auth.AssertionType, sign(t, jwt.SigningMethodES384, rxa, good("demo-trust-rxa"), nil))
		if discharge.ErrorKind(err) != discharge.KindUnavailable {
			t.Fatalf("want unavailable, got %v", err)
		}
	})
	t.Run("a forged assertion never reaches the cache", func(t *testing.T) {
		v := newVerifier(t)
		f := &fakeReplay{remember: func(context.Context, string, string, time.Time) (bool, error) { return true, nil }}
		v.Replay = f
		other, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
		_, err := v.VerifyAssertion(context.Background(), auth.AssertionType, sign(t, jwt.SigningMethodES384, other, good("demo-trust-rxa"), nil))
		wantAuthErr(t, err, discharge.KindUnauthorized, "invalid_client")
		if f.calls.Load() != 0 {
			t.Fatal("the replay cache was consulted for a forged assertion")
		}
	})
	t.Run("remembered until exp plus skew", func(t *testing.T) {
		v := newVerifier(t)
		var got time.Time
		v.Replay = &fakeReplay{remember: func(_ context.Context, _, _ string, until time.Time) (bool, error) {
			got = until
			return true, nil
		}}
		c := good("demo-trust-rxa")
		if _, err := v.VerifyAssertion(context.Background(), auth.AssertionType, sign(t, jwt.SigningMethodES384, rxa, c, nil)); err != nil {
			t.Fatal(err)
		}
		if want := time.Unix(c["exp"].(int64), 0).Add(auth.ClockSkew); !got.Equal(want) {
			t.Fatalf("until %v, want %v", got, want)
		}
	})
}

func TestVerifierMisconfigured(t *testing.T) {
	a := sign(t, jwt.SigningMethodES384, demoKey(t, "demo-trust-rxa"), good("demo-trust-rxa"), nil)
	for name, edit := range map[string]func(*auth.Verifier){
		"no token URL":    func(v *auth.Verifier) { v.TokenURL = "" },
		"no replay cache": func(v *auth.Verifier) { v.Replay = nil },
		"no registry":     func(v *auth.Verifier) { v.Registry = nil },
	} {
		t.Run(name, func(t *testing.T) {
			v := newVerifier(t)
			edit(v)
			if _, err := v.VerifyAssertion(context.Background(), auth.AssertionType, a); discharge.ErrorKind(err) != discharge.KindInternal {
				t.Fatalf("want internal, got %v", err)
			}
		})
	}
	t.Run("smaller size limit", func(t *testing.T) {
		v := newVerifier(t)
		v.MaxAssertionBytes = 100
		_, err := v.VerifyAssertion(context.Background(), auth.AssertionType, a)
		wantAuthErr(t, err, discharge.KindUnauthorized, "invalid_request")
	})
}

// TestDemoClientsSign proves every committed demo private key matches its
// client's registered public key, so a newcomer's assertions verify.
func TestDemoClientsSign(t *testing.T) {
	reg := demoRegistry(t)
	for _, c := range reg.Clients() {
		t.Run(c.ID, func(t *testing.T) {
			key := demoKey(t, c.ID)
			m := jwt.SigningMethod(jwt.SigningMethodES384)
			if _, ok := key.(*rsa.PrivateKey); ok {
				m = jwt.SigningMethodRS256
			}
			v := newVerifier(t)
			got, err := v.VerifyAssertion(context.Background(), auth.AssertionType,
				sign(t, m, key, good(c.ID), map[string]any{"kid": c.Keys[0].KID}))
			if err != nil || got.ID != c.ID {
				t.Fatalf("%v %v", got, err)
			}
		})
	}
}

func FuzzVerifyAssertion(f *testing.F) {
	rxa := demoKey(f, "demo-trust-rxa")
	f.Add(sign(f, jwt.SigningMethodES384, rxa, good("demo-trust-rxa"), nil))
	f.Add("a.b.c")
	f.Add(b64(`{"alg":"none"}`) + "." + b64(`{"iss":"demo-trust-rxa"}`) + ".")
	f.Fuzz(func(t *testing.T, s string) {
		v := newVerifier(t)
		c, err := v.VerifyAssertion(context.Background(), auth.AssertionType, s)
		if err == nil && c.ID != "demo-trust-rxa" {
			t.Fatalf("authenticated %s from %q", c.ID, s)
		}
		if err != nil && discharge.ErrorKind(err) != discharge.KindUnauthorized {
			t.Fatalf("kind %v", err)
		}
	})
}
