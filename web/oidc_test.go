package web_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/labstack/echo/v4"

	"github.com/dischargegateway/gateway/adapters/rediscache"
	"github.com/dischargegateway/gateway/gateway"
	"github.com/dischargegateway/gateway/web"
)

// idp is an OpenID provider of the test's own: discovery, keys, and a
// token endpoint that checks the PKCE verifier against the challenge of
// the authorization request and signs an ID token with its nonce.
type idp struct {
	srv  *httptest.Server
	key  *rsa.PrivateKey
	mu   sync.Mutex
	auth url.Values // the last authorization request's parameters
	// claims are the ID token's org and role; nonce overrides the nonce.
	claims map[string]any
	nonce  string
}

func newIDP(t *testing.T) *idp {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	p := &idp{key: key}
	mux := http.NewServeMux()
	mux.HandleFunc("/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]any{"issuer": p.srv.URL, "authorization_endpoint": p.srv.URL + "/authorize",
			"token_endpoint": p.srv.URL + "/token", "jwks_uri": p.srv.URL + "/jwks", "id_token_signing_alg_values_supported": []string{"RS256"},
			"response_types_supported": []string{"code"}, "subject_types_supported": []string{"public"}})
	})
	mux.HandleFunc("/jwks", func(w http.ResponseWriter, r *http.Request) {
		b64 := base64.RawURLEncoding.EncodeToString
		_ = json.NewEncoder(w).Encode(map[string]any{"keys": []any{map[string]any{"kty": "RSA", "kid": "k1", "alg": "RS256", "use": "sig",
			"n": b64(key.N.Bytes()), "e": b64(big.NewInt(int64(key.E)).Bytes())}}})
	})
	mux.HandleFunc("/token", func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		p.mu.Lock()
		defer p.mu.Unlock()
		sum := sha256.Sum256([]byte(r.PostForm.Get("code_verifier")))
		if r.PostForm.Get("grant_type") != "authorization_code" || r.PostForm.Get("code") != "the-code" || p.auth == nil ||
			p.auth.Get("code_challenge_method") != "S256" || base64.RawURLEncoding.EncodeToString(sum[:]) != p.auth.Get("code_challenge") {
			w.WriteHeader(http.StatusBadRequest)
			_ = json.NewEncoder(w).Encode(map[string]string{"error": "invalid_grant"})
			return
		}
		nonce := p.auth.Get("nonce")
		if p.nonce != "" {
			nonce = p.nonce
		}
		claims := jwt.MapClaims{"iss": p.srv.URL, "aud": "dashboard", "sub": "person-42", "nonce": nonce,
			"iat": time.Now().Unix(), "exp": time.Now().Add(time.Minute).Unix(), "name": "Florence"}
		for k, v := range p.claims {
			claims[k] = v
		}
		tok := jwt.NewWithClaims(jwt.SigningMethodRS256, claims)
		tok.Header["kid"] = "k1"
		idt, _ := tok.SignedString(key)
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"access_token": "at", "token_type": "Bearer", "expires_in": 60, "id_token": idt})
	})
	p.srv = httptest.NewServer(mux)
	t.Cleanup(p.srv.Close)
	return p
}

// TestOIDCSignIn: the code flow with PKCE signs a person in as their
// organisation; a wrong state, a wrong nonce and an unregistered
// organisation are refused.
func TestOIDCSignIn(t *testing.T) {
	p := newIDP(t)
	conn, err := rediscache.Open(context.Background(), rediscache.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	cfg := web.DefaultConfig()
	cfg.InsecureCookies = true
	e := echo.New()
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)
	cfg.OIDC = &web.OIDCConfig{Issuer: p.srv.URL, ClientID: "dashboard", ClientSecret: "s", RedirectURL: srv.URL + "/sign-in/callback"}
	audit := &auditLog{}
	web.New(cfg, web.Deps{Cases: fakeCases{}, Referrals: fakeReferrals{}, Placement: fakePlacement{}, Capacity: &fakeCapacity{},
		Sessions: rediscache.NewSessions(conn.Client), Audit: audit, Organisations: orgs, Status: gateway.StatusOf, Logger: discardLogger()}).Mount(e)
	ev := &env{srv: srv, audit: audit}

	start := func(t *testing.T) (*http.Client, url.Values) {
		c := ev.client(t)
		r := ev.get(t, c, "/sign-in/oidc")
		if r.status != http.StatusFound {
			t.Fatalf("start: %d %s", r.status, r.body)
		}
		u, err := url.Parse(r.header.Get("Location"))
		if err != nil || u.Host != mustURL(t, p.srv.URL).Host {
			t.Fatalf("redirect %q", r.header.Get("Location"))
		}
		q := u.Query()
		for _, k := range []string{"state", "nonce", "code_challenge"} {
			if q.Get(k) == "" {
				t.Fatalf("no %s in %s", k, u)
			}
		}
		p.mu.Lock()
		p.auth = q
		p.mu.Unlock()
		return c, q
	}
	callback := func(t *testing.T, c *http.Client, state string) page {
		return ev.get(t, c, "/sign-in/callback?"+url.Values{"code": {"the-code"}, "state": {state}}.Encode())
	}
	set := func(claims map[string]any, nonce string) {
		p.mu.Lock()
		p.claims, p.nonce = claims, nonce
		p.mu.Unlock()
	}

	t.Run("signs in as the organisation", func(t *testing.T) {
		set(map[string]any{"org": "QXH", "role": "hub"}, "")
		c, q := start(t)
		if r := callback(t, c, q.Get("state")); r.status != http.StatusSeeOther {
			t.Fatalf("callback: %d %s", r.status, r.body)
		}
		must(t, ev.get(t, c, "/worklist"), http.StatusOK, "Florence", "Worklist")
		got := audit.all()
		if a := got[len(got)-1]; a.ClientID != "web:person-42" || a.Org != "QXH" {
			t.Fatalf("audit %+v", a)
		}
	})
	t.Run("wrong state", func(t *testing.T) {
		set(map[string]any{"org": "QXH", "role": "hub"}, "")
		c, q := start(t)
		must(t, callback(t, c, q.Get("state")+"x"), http.StatusForbidden)
		if r := ev.get(t, c, "/worklist"); r.status != http.StatusSeeOther {
			t.Fatalf("signed in after a wrong state: %d", r.status)
		}
	})
	t.Run("wrong nonce", func(t *testing.T) {
		set(map[string]any{"org": "QXH", "role": "hub"}, "replayed")
		c, q := start(t)
		must(t, callback(t, c, q.Get("state")), http.StatusForbidden)
	})
	t.Run("organisation not registered for the role", func(t *testing.T) {
		for _, claims := range []map[string]any{{"org": "QXH", "role": "trust"}, {"org": "ZZZ", "role": "hub"}, {"org": "DGADMIN", "role": "admin"}, {}} {
			set(claims, "")
			c, q := start(t)
			must(t, callback(t, c, q.Get("state")), http.StatusForbidden, "not registered")
		}
	})
	t.Run("no demo sign-in without the demo registry", func(t *testing.T) {
		c := ev.client(t)
		signin := ev.get(t, c, "/sign-in")
		must(t, signin, http.StatusOK, "Sign in with your NHS account")
		if strings.Contains(signin.body, "Demo sign-in") {
			t.Fatal("the demo sign-in is offered without the demo registry")
		}
		if r := ev.post(t, c, "/sign-in/demo", url.Values{"organisation": {"hub"}}); r.status < 400 {
			t.Fatalf("demo sign-in: %d", r.status)
		}
	})
}
