package gateway_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/dischargegateway/gateway/adapters/capacitycsv"
	"github.com/dischargegateway/gateway/adapters/cqccsv"
	"github.com/dischargegateway/gateway/adapters/geocode"
	"github.com/dischargegateway/gateway/adapters/rediscache"
	"github.com/dischargegateway/gateway/adapters/sqlstore"
	"github.com/dischargegateway/gateway/auth"
	"github.com/dischargegateway/gateway/capacity"
	"github.com/dischargegateway/gateway/cases"
	"github.com/dischargegateway/gateway/gateway"
	"github.com/dischargegateway/gateway/internal/redistest"
	"github.com/dischargegateway/gateway/mappings"
	"github.com/dischargegateway/gateway/placement"
)

// The placement benchmarks time one $placement-options request through the
// whole handler chain (ServeHTTP, Redis over loopback) on the fixture
// directory of the golden test, warm cache. Their same-run baseline is
// BenchmarkPlacementBaselineEcho: a bare Echo handler writing a Bundle of
// the same bytes, so the ratio shows placement's own cost.

// placementBench serves a gateway holding the fixture directory, its
// capacity and the walkthrough case, and returns the handler and the
// stored ServiceRequest's path ("ServiceRequest/{id}").
func placementBench(b *testing.B) (http.Handler, string) {
	b.Helper()
	return placementBenchWith(b, true)
}

// placementBenchWith is placementBench with the referral loop's record
// wired (as deployed: holds read per request, answers cached, the case's
// shortlist checked) or not (placement as it was before the loop).
func placementBenchWith(b *testing.B, referrals bool) (http.Handler, string) {
	b.Helper()
	rs := redistest.Start(b)
	client, err := rediscache.Open(context.Background(), rediscache.Config{URL: rs.URL(), Timeout: 2 * time.Second})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = client.Close() })
	tr, err := mappings.LoadTranslator(os.DirFS(filepath.Join("..", "configs", "conceptmaps")))
	if err != nil {
		b.Fatal(err)
	}
	geo, err := geocode.LoadFiles(filepath.Join("..", "configs", "geo", "uk-outcode-centroids.csv"), "")
	if err != nil {
		b.Fatal(err)
	}
	keys, _ := auth.GenerateKeySet()
	issuer := &auth.Issuer{Keys: keys, Issuer: "urn:bench", Audience: "urn:bench", TTL: time.Hour}
	rec := openRecord(b)
	var refs placement.Referrals
	var seen []placement.Observer
	if referrals {
		refs = sqlstore.NewReferral(rec)
		// The shortlisted event placement wrote itself before it had
		// observers, so the figures compare the same work.
		seen = []placement.Observer{cases.NewShortlistObserver(sqlstore.NewReferral(rec), 0)}
	}
	g := gateway.New(gateway.DefaultConfig(), gateway.Deps{Store: rec, Translator: tr, ReferralRecord: refs, PlacementObservers: seen,
		Capacity:       capacity.NewRecorded(sqlstore.NewCapacity(rec), rediscache.NewCapacityStore(client.Client), nil),
		Geocoder:       geo,
		ParseDirectory: cqccsv.Parse, ParseCapacity: capacitycsv.Parse,
		Logger: slog.New(slog.NewJSONHandler(io.Discard, nil)),
		Security: gateway.Security{Issuer: issuer, Audit: sqlstore.NewAudit(rec),
			Limiter: rediscache.NewRateLimit(client.Client, 1<<30, time.Minute)}})
	h := g.Handler()
	token := func(role auth.Role, org, sys, scopes string) string {
		sc, _ := auth.ParseScopes(scopes)
		tok, _, err := issuer.Issue(&auth.Client{ID: "bench-" + org, Role: role, Org: org, OrgSystem: sys}, sc)
		if err != nil {
			b.Fatal(err)
		}
		return "Bearer " + tok
	}
	home := token(auth.RoleCareProvider, "1-000000001", cqcProvider, directoryScopes)
	benchToken = token(auth.RoleTrust, "RXA", "https://fhir.nhs.uk/Id/ods-organization-code", clinicalScopes)
	do := func(method, path, ctype, auth string, body []byte, want int) []byte {
		req, _ := http.NewRequest(method, path, strings.NewReader(string(body)))
		req.Header.Set("Content-Type", ctype)
		req.Header.Set("Authorization", auth)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != want {
			b.Fatalf("%s %s: %d %s", method, path, rec.Code, rec.Body.String())
		}
		return rec.Body.Bytes()
	}
	do("POST", "/api/v1/directory/import", "text/csv", home, []byte(placementCSV), http.StatusOK)
	for i, accepting := range []int{2, 1, 3, 3, 3} {
		body, _ := json.Marshal(map[string]any{"asOf": time.Now().Add(-time.Hour).UTC().Format(time.RFC3339), "beds": []any{map[string]any{
			"type": "nursing-dementia", "maxCapacity": 30, "occupied": 30 - accepting, "reserved": 0, "acceptingAdmissions": accepting}}})
		do("PUT", fmt.Sprintf("/api/v1/capacity/cqc-1-10000000%d", i+1), "application/json", home, body, http.StatusOK)
	}
	bundle, err := os.ReadFile(filepath.Join("..", "mappings", "testdata", "walkthrough-bundle.json"))
	if err != nil {
		b.Fatal(err)
	}
	var out struct {
		Entry []struct {
			Response struct {
				Location string `json:"location"`
			} `json:"response"`
		} `json:"entry"`
	}
	if err := json.Unmarshal(do("POST", "/fhir", "application/fhir+json", benchToken, bundle, http.StatusOK), &out); err != nil {
		b.Fatal(err)
	}
	for _, en := range out.Entry {
		if strings.HasPrefix(en.Response.Location, "ServiceRequest/") {
			return h, strings.Split(en.Response.Location, "/_history/")[0]
		}
	}
	b.Fatal("the walkthrough bundle stored no ServiceRequest")
	return nil, ""
}

func benchPlacement(b *testing.B, query string) { benchPlacementWith(b, query, true) }

func benchPlacementWith(b *testing.B, query string, referrals bool) {
	h, sr := placementBenchWith(b, referrals)
	path := "/fhir/" + sr + "/$placement-options" + query
	serve(b, h, "GET", path, nil, http.StatusOK) // warm the placement cache
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		serve(b, h, "GET", path, nil, http.StatusOK)
	}
}

// BenchmarkPlacementOptions is the default request: two matches, three
// includes, an outcome.
func BenchmarkPlacementOptions(b *testing.B) { benchPlacement(b, "") }

// BenchmarkPlacementOptionsNoReferrals is BenchmarkPlacementOptions
// without the referral loop's record: the same-run measure of what reading
// the holds (one query) and checking the case's shortlist (one read) cost.
func BenchmarkPlacementOptionsNoReferrals(b *testing.B) { benchPlacementWith(b, "", false) }

// BenchmarkPlacementOptionsExplain adds the nearest exclusions.
func BenchmarkPlacementOptionsExplain(b *testing.B) { benchPlacement(b, "?explain=true") }

// BenchmarkPlacementBaselineEcho is the placement benchmarks' same-run
// baseline: Echo answering the same GET with the same Bundle bytes, held
// in memory.
func BenchmarkPlacementBaselineEcho(b *testing.B) {
	h, sr := placementBench(b)
	path := "/fhir/" + sr + "/$placement-options?explain=true"
	body := serve(b, h, "GET", path, nil, http.StatusOK).Body.Bytes()
	e := echo.New()
	e.GET("/fhir/ServiceRequest/:id/$placement-options", func(c echo.Context) error {
		return c.Blob(http.StatusOK, "application/fhir+json", body)
	})
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		serve(b, e, "GET", path, nil, http.StatusOK)
	}
}

// BenchmarkPlacementWhatIf is the type-level request: the walkthrough's
// ServiceRequest and Patient sent inline in a Parameters body, validated,
// mapped and placed, nothing read from the record.
func BenchmarkPlacementWhatIf(b *testing.B) {
	h, _ := placementBench(b)
	raw, err := os.ReadFile(filepath.Join("..", "mappings", "testdata", "walkthrough-bundle.json"))
	if err != nil {
		b.Fatal(err)
	}
	var bundle struct {
		Entry []struct {
			Resource map[string]any `json:"resource"`
		} `json:"entry"`
	}
	if err := json.Unmarshal(raw, &bundle); err != nil {
		b.Fatal(err)
	}
	var ps []any
	for _, en := range bundle.Entry {
		switch r := en.Resource; r["resourceType"] {
		case "ServiceRequest":
			r["subject"] = map[string]any{"reference": "Patient/inline"}
			delete(r, "encounter")
			ps = append(ps, map[string]any{"name": "serviceRequest", "resource": r})
		case "Patient":
			ps = append(ps, map[string]any{"name": "patient", "resource": r})
		}
	}
	body, _ := json.Marshal(map[string]any{"resourceType": "Parameters", "parameter": ps})
	const path = "/fhir/ServiceRequest/$placement-options"
	serve(b, h, "POST", path, body, http.StatusOK) // warm the placement cache
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		serve(b, h, "POST", path, body, http.StatusOK)
	}
}
