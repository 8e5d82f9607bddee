package gateway

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/labstack/echo/v4"

	"github.com/dischargegateway/gateway/adapters/rediscache"
	"github.com/dischargegateway/gateway/adapters/sqlstore"
	"github.com/dischargegateway/gateway/auth"
	"github.com/dischargegateway/gateway/internal/redistest"
)

// These benchmarks give the security figures with same-run baselines: the
// auth middleware (token verification, scope check, Redis rate-limit
// counter) against the same handler without it, and token issuance through
// POST /oauth2/token (assertion verification, jti check in Redis, signing).

func benchSecurity(b *testing.B) (*Server, *auth.Issuer) {
	rs := redistest.Start(b)
	c, err := rediscache.Open(context.Background(), rediscache.Config{URL: rs.URL()})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })
	keys, _ := auth.GenerateKeySet()
	iss := &auth.Issuer{Keys: keys, Issuer: "urn:bench", Audience: "urn:bench", TTL: time.Hour}
	reg, err := auth.LoadRegistry(filepath.Join("..", "configs", "demo", "clients.json"))
	if err != nil {
		b.Fatal(err)
	}
	rec, err := sqlstore.Open(context.Background(), "", b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { rec.Close() })
	s := New(DefaultConfig(), Deps{Store: rec, Logger: slog.New(slog.NewJSONHandler(io.Discard, nil)),
		Security: Security{Issuer: iss, Verifier: &auth.Verifier{Registry: reg, Replay: rediscache.NewReplay(c.Client)},
			Limiter: rediscache.NewRateLimit(c.Client, 1<<30, time.Minute)}})
	return s, iss
}

func benchEcho(mw ...echo.MiddlewareFunc) *echo.Echo {
	e := echo.New()
	e.GET("/fhir/Patient", func(c echo.Context) error { return c.Blob(200, fhirJSON, []byte(`{}`)) }, mw...)
	return e
}

func runGET(b *testing.B, h http.Handler, auth string) {
	for i := 0; i < b.N; i++ {
		req := httptest.NewRequest("GET", "/fhir/Patient", nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != 200 {
			b.Fatal(rec.Code, rec.Body.String())
		}
	}
}

func BenchmarkAuthBaselineNoAuth(b *testing.B) {
	runGET(b, benchEcho(), "")
}

func BenchmarkAuthMiddleware(b *testing.B) {
	s, iss := benchSecurity(b)
	sc, _ := auth.ParseScopes("system/Patient.rs")
	tok, _, _ := iss.Issue(&auth.Client{ID: "bench", Role: auth.RoleTrust, Org: "RXA"}, sc)
	b.ResetTimer()
	runGET(b, benchEcho(s.authenticate, s.requireScope("Patient", 's')), "Bearer "+tok)
}

func BenchmarkTokenEndpoint(b *testing.B) {
	s, _ := benchSecurity(b)
	raw, _ := os.ReadFile(filepath.Join("..", "configs", "demo", "keys", "DEMO-ONLY-demo-trust-rxa.pem"))
	block, _ := pem.Decode(raw)
	key, _ := x509.ParsePKCS8PrivateKey(block.Bytes)
	forms := make([]string, b.N)
	for i := range forms {
		a, _ := jwt.NewWithClaims(jwt.SigningMethodES384, jwt.MapClaims{"iss": "demo-trust-rxa", "sub": "demo-trust-rxa",
			"aud": "http://example.com/oauth2/token", "exp": time.Now().Add(4 * time.Minute).Unix(), "jti": fmt.Sprintf("b%d-%d", i, time.Now().UnixNano())}).SignedString(key)
		forms[i] = url.Values{"grant_type": {"client_credentials"}, "client_assertion_type": {auth.AssertionType}, "client_assertion": {a}}.Encode()
	}
	h := s.Handler()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		req := httptest.NewRequest("POST", "/oauth2/token", strings.NewReader(forms[i]))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != 200 {
			b.Fatal(rec.Code, rec.Body.String())
		}
	}
}
