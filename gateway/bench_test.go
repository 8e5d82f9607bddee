package gateway_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/dischargegateway/gateway/adapters/rediscache"
	"github.com/dischargegateway/gateway/adapters/sqlstore"
	"github.com/dischargegateway/gateway/auth"
	"github.com/dischargegateway/gateway/gateway"
	"github.com/dischargegateway/gateway/internal/redistest"
	"github.com/dischargegateway/gateway/mappings"
)

// The benchmarks measure the gateway's create, read and search against a
// baseline measured in the same run: a bare Echo handler that only reads and
// decodes the same JSON and writes it back. Every request goes through the
// full handler chain (middleware, validation, Redis over loopback) by
// ServeHTTP, without a network client, so the ratio shows the gateway's own
// cost. scripts/bench.sh runs them and writes the figures to a file.

// benchToken authorises benchmark requests (set by benchGateway).
var benchToken string

func benchGateway(b *testing.B) http.Handler {
	b.Helper()
	rs := redistest.Start(b)
	client, err := rediscache.Open(context.Background(), rediscache.Config{URL: rs.URL(), Timeout: 2 * time.Second})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = client.Close() })
	rec := openRecord(b)
	tr, err := mappings.LoadTranslator(os.DirFS(filepath.Join("..", "configs", "conceptmaps")))
	if err != nil {
		b.Fatal(err)
	}
	keys, _ := auth.GenerateKeySet()
	issuer := &auth.Issuer{Keys: keys, Issuer: "urn:bench", Audience: "urn:bench", TTL: time.Hour}
	g := gateway.New(gateway.DefaultConfig(), gateway.Deps{Store: rec, Translator: tr,
		Logger: slog.New(slog.NewJSONHandler(io.Discard, nil)),
		Security: gateway.Security{Issuer: issuer, Audit: sqlstore.NewAudit(rec),
			Limiter: rediscache.NewRateLimit(client.Client, 1<<30, time.Minute)},
		Messages: rec})
	sc, _ := auth.ParseScopes(clinicalScopes)
	tok, _, _ := issuer.Issue(&auth.Client{ID: "bench", Role: auth.RoleTrust, Org: "RXA"}, sc)
	benchToken = "Bearer " + tok
	return g.Handler()
}

func benchBody(b *testing.B) []byte {
	raw, err := os.ReadFile(filepath.Join("testdata", "patient.json"))
	if err != nil {
		b.Fatal(err)
	}
	return raw
}

func serve(b *testing.B, h http.Handler, method, path string, body []byte, want int) *httptest.ResponseRecorder {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req := httptest.NewRequest(method, path, rd)
	if body != nil {
		req.Header.Set("Content-Type", "application/fhir+json")
	}
	req.Header.Set("Authorization", benchToken)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != want {
		b.Fatalf("%s %s: %d %s", method, path, rec.Code, rec.Body.String())
	}
	return rec
}

// BenchmarkBaselineEchoDecode is the same-run baseline: Echo reads the body,
// decodes it as JSON, encodes it and replies, with no validation or store.
func BenchmarkBaselineEchoDecode(b *testing.B) {
	e := echo.New()
	e.POST("/fhir/Patient", func(c echo.Context) error {
		raw, err := io.ReadAll(c.Request().Body)
		if err != nil {
			return err
		}
		var m map[string]any
		if err := json.Unmarshal(raw, &m); err != nil {
			return err
		}
		out, _ := json.Marshal(m)
		return c.Blob(http.StatusCreated, "application/fhir+json", out)
	})
	body := benchBody(b)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		serve(b, e, "POST", "/fhir/Patient", body, http.StatusCreated)
	}
}

func BenchmarkCreatePatient(b *testing.B) {
	h := benchGateway(b)
	body := benchBody(b)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		serve(b, h, "POST", "/fhir/Patient", body, http.StatusCreated)
	}
}

func BenchmarkReadPatient(b *testing.B) {
	h := benchGateway(b)
	rec := serve(b, h, "POST", "/fhir/Patient", benchBody(b), http.StatusCreated)
	var m map[string]any
	_ = json.Unmarshal(rec.Body.Bytes(), &m)
	path := "/fhir/Patient/" + m["id"].(string)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		serve(b, h, "GET", path, nil, http.StatusOK)
	}
}

// BenchmarkSearchPatientIdentifier searches one identifier among 1,000
// Patients, returning one match.
func BenchmarkSearchPatientIdentifier(b *testing.B) {
	h := benchGateway(b)
	var m map[string]any
	_ = json.Unmarshal(benchBody(b), &m)
	for i := 0; i < 1000; i++ {
		m["identifier"] = []any{map[string]any{"system": "https://trust.example/mrn", "value": fmt.Sprintf("MRN%05d", i)}}
		body, _ := json.Marshal(m)
		serve(b, h, "POST", "/fhir/Patient", body, http.StatusCreated)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		serve(b, h, "GET", fmt.Sprintf("/fhir/Patient?identifier=https://trust.example/mrn|MRN%05d", i%1000), nil, http.StatusOK)
	}
}
