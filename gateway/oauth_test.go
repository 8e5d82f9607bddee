package gateway_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dischargegateway/gateway/auth"
	"github.com/dischargegateway/gateway/gateway"
)

// TestDiscoveryTokenEndpoint: the SMART configuration and the
// CapabilityStatement's oauth-uris name the token endpoint by an absolute
// URL, from the configured base or else the request, and list every scope
// a client can be given.
func TestDiscoveryTokenEndpoint(t *testing.T) {
	oauthToken := func(r resp) string {
		for _, ext := range r.json["rest"].([]any)[0].(map[string]any)["security"].(map[string]any)["extension"].([]any) {
			x := ext.(map[string]any)
			if x["url"] != "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris" {
				continue
			}
			for _, sub := range x["extension"].([]any) {
				if s := sub.(map[string]any); s["url"] == "token" {
					v, _ := s["valueUri"].(string)
					return v
				}
			}
		}
		return ""
	}
	for name, base := range map[string]string{"derived": "", "configured": "https://gw.example.nhs.uk/fhir"} {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, func(c *gateway.Config) { c.BaseURL = base })
			want := e.srv.URL + "/oauth2/token"
			if base != "" {
				want = "https://gw.example.nhs.uk/oauth2/token"
			}
			sc := e.do("GET", "/.well-known/smart-configuration", nil, "Authorization", "").mustStatus(t, http.StatusOK)
			if got := str(sc.json, "token_endpoint"); got != want {
				t.Fatalf("smart-configuration token_endpoint %q, want %q", got, want)
			}
			for i := 0; i < 2; i++ { // the second from the cached statement
				cs := e.do("GET", "/fhir/metadata", nil, "Authorization", "").mustStatus(t, http.StatusOK)
				if got := oauthToken(cs); got != want {
					t.Fatalf("oauth-uris token %q, want %q", got, want)
				}
				if u, err := url.Parse(oauthToken(cs)); err != nil || !u.IsAbs() {
					t.Fatalf("not absolute: %q", oauthToken(cs))
				}
			}
			var listed []string
			for _, v := range sc.json["scopes_supported"].([]any) {
				listed = append(listed, v.(string))
			}
			if !slices.Equal(listed, auth.SupportedScopes()) || !slices.Contains(listed, "system/MeasureReport.cruds") {
				t.Fatalf("scopes_supported %v, want %v", listed, auth.SupportedScopes())
			}
		})
	}
}

// TestScopesSupportedCoverRoutes: a client holding every scope in
// scopes_supported is refused by no route for want of a scope, in one role
// or another (roles limit what each may do). A route guarded by a scope
// that auth's table lacks, so no client can be given it, fails here.
func TestScopesSupportedCoverRoutes(t *testing.T) {
	e := newEnv(t)
	// The wildcard would allow any type: leave it out, so each type's own
	// scope is what lets the request through.
	var typed []string
	for _, sc := range auth.SupportedScopes() {
		if !strings.HasPrefix(sc, "system/*.") {
			typed = append(typed, sc)
		}
	}
	all := strings.Join(typed, " ")
	tokens := []string{
		e.tokenFor("all-trust", auth.RoleTrust, "RXA", all),
		e.tokenFor("all-hub", auth.RoleHub, "HUB", all, "RXA"),
		e.tokenFor("all-care", auth.RoleCareProvider, "1-000000001", all),
		e.tokenFor("all-admin", auth.RoleAdmin, "OPS", all),
	}
	g := gateway.New(gateway.DefaultConfig(), gateway.Deps{})
	for _, rt := range g.Echo().Routes() {
		if !strings.HasPrefix(rt.Path, "/fhir") && !strings.HasPrefix(rt.Path, "/api/") {
			continue
		}
		var segs []string
		for _, seg := range strings.Split(rt.Path, "/") {
			if strings.HasPrefix(seg, ":") {
				seg = "x"
			}
			segs = append(segs, seg)
		}
		path := strings.Join(segs, "/")
		t.Run(rt.Method+" "+rt.Path, func(t *testing.T) {
			var body any
			if rt.Method == http.MethodPost || rt.Method == http.MethodPut {
				body = "{}"
			}
			var statuses []int
			for _, tok := range tokens {
				r := e.do(rt.Method, path, body, "Authorization", "Bearer "+tok)
				if r.status != http.StatusForbidden {
					return
				}
				statuses = append(statuses, r.status)
			}
			t.Fatalf("every role holding every supported scope is refused: %v", statuses)
		})
	}
}

// limiterFunc is a hand-written fake auth.RateLimiter.
type limiterFunc func(key string) bool

func (f limiterFunc) Allow(_ context.Context, key string) (bool, time.Duration, error) {
	if f(key) {
		return true, 0, nil
	}
	return false, 1500 * time.Millisecond, nil
}

// TestTokenRateLimit: the token endpoint counts each request against the
// remote address before any work, and against the client once its
// assertion verifies; over either, 429 with Retry-After and an OAuth error.
func TestTokenRateLimit(t *testing.T) {
	keys, err := auth.GenerateKeySet()
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu     sync.Mutex // the fake runs on the server's goroutines
		seen   []string
		refuse string
	)
	g := gateway.New(gateway.DefaultConfig(), gateway.Deps{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Security: gateway.Security{
		Verifier: &auth.Verifier{Registry: testRegistry(t), Replay: &auth.MemoryReplay{}},
		Issuer:   &auth.Issuer{Keys: keys, Issuer: "urn:test", Audience: "urn:test"},
		Limiter: limiterFunc(func(key string) bool {
			mu.Lock()
			defer mu.Unlock()
			seen = append(seen, key)
			return key != refuse
		}),
	}})
	hs := httptest.NewServer(g.Handler())
	defer hs.Close()
	e := &env{t: t, srv: hs}
	for _, tc := range []struct {
		name, refuse string
		form         url.Values
		keys         []string
	}{
		{"address", "token-addr 127.0.0.1", grantForm(e.sign(t, assertion{client: "demo-trust-rxa"}), ""), []string{"token-addr 127.0.0.1"}},
		{"client", "token-client demo-trust-rxa", grantForm(e.sign(t, assertion{client: "demo-trust-rxa"}), ""), []string{"token-addr 127.0.0.1", "token-client demo-trust-rxa"}},
		// A forged assertion naming a client never spends that client's budget.
		{"forged", "", grantForm(e.sign(t, assertion{client: "demo-trust-rxa", key: demoKey(t, "demo-hub")}), ""), []string{"token-addr 127.0.0.1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mu.Lock()
			seen, refuse = nil, tc.refuse
			mu.Unlock()
			r := e.tokenRequest(t, tc.form)
			mu.Lock()
			got := slices.Clone(seen)
			mu.Unlock()
			if !slices.Equal(got, tc.keys) {
				t.Fatalf("counted %q, want %q", got, tc.keys)
			}
			if tc.refuse == "" {
				return
			}
			if r.status != http.StatusTooManyRequests || oauthCode(r) != "invalid_request" || r.header.Get("Retry-After") != "2" {
				t.Fatalf("status %d error %q Retry-After %q: %s", r.status, oauthCode(r), r.header.Get("Retry-After"), r.body)
			}
			isOAuthError(t, r)
		})
	}
}
