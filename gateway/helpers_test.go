package gateway_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dischargegateway/gateway/adapters/capacitycsv"
	"github.com/dischargegateway/gateway/adapters/cqccsv"
	"github.com/dischargegateway/gateway/adapters/geocode"
	"github.com/dischargegateway/gateway/adapters/rediscache"
	"github.com/dischargegateway/gateway/adapters/sqlstore"
	"github.com/dischargegateway/gateway/auth"
	"github.com/dischargegateway/gateway/capacity"
	"github.com/dischargegateway/gateway/fhir"
	"github.com/dischargegateway/gateway/gateway"
	"github.com/dischargegateway/gateway/internal/pgtest"
	"github.com/dischargegateway/gateway/internal/redistest"
	"github.com/dischargegateway/gateway/internal/wiring"
	"github.com/dischargegateway/gateway/mappings"
	"github.com/dischargegateway/gateway/referral"
	"github.com/dischargegateway/gateway/subscription"
)

// env is one gateway over its own stores: the system of record in SQL
// (openRecord: SQLite, or PostgreSQL with GATEWAY_TEST_STORE=postgres) and
// its own real redis-server (the capacity cache, rate limits, the replay
// cache).
type env struct {
	t      *testing.T
	redis  *redistest.Server // nil on a cluster or Sentinel (REDISTEST_MODE)
	srv    *httptest.Server
	logs   *syncBuffer
	issuer *auth.Issuer
	conn   *rediscache.Conn
	record *sqlstore.Store
	pg     *pgtest.Server // the env's own PostgreSQL, which it may kill; nil on the shared one or SQLite
	token  string         // sent unless a request names its own Authorization
	clock  *testClock
}

// testClock is the gateway's clock in tests: real time plus an offset a
// test can move forward.
type testClock struct {
	mu     sync.Mutex
	offset time.Duration
}

func (c *testClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

func (c *testClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.offset += d
}

func testGeocoder(t *testing.T) *geocode.Table {
	t.Helper()
	g, err := geocode.LoadFiles(filepath.Join("..", "configs", "geo", "uk-outcode-centroids.csv"), "")
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// clinicalScopes is what a trust client is given in tests.
const clinicalScopes = "system/Patient.cruds system/Encounter.cruds system/ServiceRequest.cruds system/CodeSystem.rs system/ConceptMap.rs system/MeasureReport.rs " +
	"system/Organization.rs system/Location.rs system/HealthcareService.rs"

// directoryScopes is what a care provider client is given in tests.
const directoryScopes = "system/Organization.cruds system/Location.cruds system/HealthcareService.cruds system/MeasureReport.cruds"

// cqcProvider is the identifier system of care providers' organisations.
const cqcProvider = "https://cqc.org.uk/provider-id"

// tokenFor mints an access token for a client of the given role and org.
func (e *env) tokenFor(id string, role auth.Role, org string, scopes string, members ...string) string {
	e.t.Helper()
	sc, err := auth.ParseScopes(scopes)
	if err != nil {
		e.t.Fatal(err)
	}
	sys := "https://fhir.nhs.uk/Id/ods-organization-code"
	if role == auth.RoleCareProvider {
		sys = cqcProvider
	}
	tok, _, err := e.issuer.Issue(&auth.Client{ID: id, Role: role, Org: org, OrgSystem: sys, Members: members}, sc)
	if err != nil {
		e.t.Fatal(err)
	}
	return tok
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func newEnv(t *testing.T, mutate ...func(*gateway.Config)) *env {
	t.Helper()
	return newEnvLimited(t, 100000, mutate...)
}

// newEnvLimited is newEnv with a rate limit of limit requests per client
// per minute.
func newEnvLimited(t *testing.T, limit int, mutate ...func(*gateway.Config)) *env {
	t.Helper()
	return newEnvFull(t, limit, nil, mutate...)
}

// newEnvFull is newEnvLimited whose gateway reaches the record through
// wrap (when not nil): fault injection over a real store.
func newEnvFull(t *testing.T, limit int, wrap func(fhir.Store) fhir.Store, mutate ...func(*gateway.Config)) *env {
	t.Helper()
	return newEnvWith(t, envOptions{limit: limit, wrap: wrap}, mutate...)
}

// newEnvOwnPostgres is newEnv on a PostgreSQL of the test's own (e.pg),
// whatever GATEWAY_TEST_STORE says: a test of a record outage kills it.
func newEnvOwnPostgres(t *testing.T, mutate ...func(*gateway.Config)) *env {
	t.Helper()
	pg, rec := openOwnPostgres(t)
	e := newEnvWith(t, envOptions{limit: 100000, record: rec}, mutate...)
	e.pg = pg
	return e
}

// envOptions are how an env differs from newEnv's.
type envOptions struct {
	limit  int                         // requests per client per minute
	wrap   func(fhir.Store) fhir.Store // nil: the record as it is
	record *sqlstore.Store             // nil: openRecord
	// audit wraps the audit trail (fault injection over the real one);
	// listen wraps the server's listener. Either may be nil.
	audit  func(auth.AuditLog) auth.AuditLog
	listen func(net.Listener) net.Listener
}

func newEnvWith(t *testing.T, o envOptions, mutate ...func(*gateway.Config)) *env {
	t.Helper()
	target := redistest.Open(t)
	client, err := rediscache.Open(context.Background(), rediscache.Config{URL: target.URL, Addrs: target.Addrs,
		SentinelMaster: target.SentinelMaster, Timeout: 500 * time.Millisecond, Traces: true, Metrics: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.Close() })
	rec := o.record
	if rec == nil {
		rec = openRecord(t)
	}
	cfg := gateway.DefaultConfig()
	cfg.RequestTimeout = 3 * time.Second
	for _, m := range mutate {
		m(&cfg)
	}
	logs := &syncBuffer{}
	clock := &testClock{}
	keys, err := auth.GenerateKeySet()
	if err != nil {
		t.Fatal(err)
	}
	issuer := &auth.Issuer{Keys: keys, Issuer: "urn:test", Audience: "urn:test", TTL: time.Hour}
	log := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	d := testDeps(t, rec, client, issuer, o.limit, log, func() time.Time { return clock.now() })
	if o.wrap != nil {
		d.Store = o.wrap(d.Store)
	}
	if o.audit != nil {
		d.Security.Audit = o.audit(d.Security.Audit)
	}
	g := gateway.New(cfg, d)
	hs := httptest.NewUnstartedServer(g.Handler())
	if o.listen != nil {
		hs.Listener = o.listen(hs.Listener)
	}
	hs.Start()
	t.Cleanup(hs.Close)
	e := &env{t: t, redis: target.Server, srv: hs, logs: logs, issuer: issuer, conn: client, record: rec, clock: clock}
	e.token = e.tokenFor("trust-a", auth.RoleTrust, "RXA", clinicalScopes)
	return e
}

// testDeps wires a gateway as cmd/gateway does: the record, the audit
// trail and the capacity postings in SQL; the capacity cache, the replay
// cache and the rate limiter (limit requests per client per minute) in
// Redis; the test client registry, issuer and clock (now nil: real time).
func testDeps(t *testing.T, rec *sqlstore.Store, conn *rediscache.Conn, issuer *auth.Issuer, limit int,
	log *slog.Logger, now func() time.Time) gateway.Deps {
	t.Helper()
	tr, err := mappings.LoadTranslator(os.DirFS(filepath.Join("..", "configs", "conceptmaps")))
	if err != nil {
		t.Fatal(err)
	}
	audit := sqlstore.NewAudit(rec)
	return gateway.Deps{
		Referrals: referral.New(sqlstore.NewReferral(rec), referral.Options{Now: now, Audit: audit, Log: log}),
		// Subscriptions may name the test receivers on 127.0.0.1.
		Subscriptions: subscription.New(sqlstore.NewSubscriptions(rec), subscription.Config{
			Endpoints: subscription.EndpointPolicy{AllowHosts: []string{"127.0.0.1"}}, Now: now}),
		Store:          rec,
		Translator:     tr,
		Logger:         log,
		Capacity:       capacity.NewRecorded(sqlstore.NewCapacity(rec), rediscache.NewCapacityStore(conn.Client), log),
		Geocoder:       testGeocoder(t),
		ParseDirectory: cqccsv.Parse,
		ParseCapacity:  capacitycsv.Parse,
		Now:            now,
		Cases:          sqlstore.NewCases(rec),
		Sitrep:         sqlstore.NewSitrep(rec),
		// What hears of a placement search, as cmd/gateway wires it.
		PlacementObservers: wiring.PlacementObservers(sqlstore.NewReferral(rec), sqlstore.NewSitrep(rec), log),
		VirtualWards:       sqlstore.NewVirtualWards(rec),
		SitrepHistory:      sqlstore.NewSitrep(rec),
		Forecast:           sqlstore.NewForecast(rec),
		// The referral loop's record as cmd/gateway wires it: placement
		// and capacity reads see its holds.
		ReferralRecord: sqlstore.NewReferral(rec),
		// BaRS messages' responses, in the record ($process-message).
		Messages: rec,
		Security: gateway.Security{
			Verifier: &auth.Verifier{Registry: testRegistry(t), Replay: rediscache.NewReplay(conn.Client)},
			Issuer:   issuer,
			Audit:    audit,
			Limiter:  wiring.RateLimiter(conn, limit, log),
		},
	}
}

// resp is a decoded response.
type resp struct {
	status int
	header http.Header
	body   []byte
	json   map[string]any
}

func (e *env) do(method, path string, body any, headers ...string) resp {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, e.srv.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/fhir+json")
	}
	if e.token != "" {
		req.Header.Set("Authorization", "Bearer "+e.token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		if headers[i+1] == "" {
			req.Header.Del(headers[i])
			continue
		}
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	r := resp{status: res.StatusCode, header: res.Header, body: raw}
	if len(raw) > 0 {
		_ = json.Unmarshal(raw, &r.json)
	}
	return r
}

func (r resp) mustStatus(t *testing.T, want int) resp {
	t.Helper()
	if r.status != want {
		t.Fatalf("status %d, want %d; body %s", r.status, want, r.body)
	}
	return r
}

// issue returns the first OperationOutcome issue's code and expression.
func (r resp) issue(t *testing.T) (code, expression string) {
	t.Helper()
	if r.json["resourceType"] != "OperationOutcome" {
		t.Fatalf("want an OperationOutcome, got %s", r.body)
	}
	issues, _ := r.json["issue"].([]any)
	if len(issues) == 0 {
		t.Fatalf("OperationOutcome without issues: %s", r.body)
	}
	is := issues[0].(map[string]any)
	code, _ = is["code"].(string)
	if ex, ok := is["expression"].([]any); ok && len(ex) > 0 {
		expression, _ = ex[0].(string)
	}
	return code, expression
}

// hasIssue reports whether any issue has this code and expression.
func (r resp) hasIssue(code, expression string) bool {
	issues, _ := r.json["issue"].([]any)
	for _, x := range issues {
		is, _ := x.(map[string]any)
		ex, _ := is["expression"].([]any)
		got := ""
		if len(ex) > 0 {
			got, _ = ex[0].(string)
		}
		if is["code"] == code && got == expression {
			return true
		}
	}
	return false
}

func fixture(t *testing.T, name string) map[string]any {
	t.Helper()
	return loadJSON(t, filepath.Join("testdata", name))
}

// loadJSON reads a JSON object from a file.
func loadJSON(t *testing.T, path string) map[string]any {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func str(v any, path ...any) string {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, _ := v.(map[string]any)
			v = m[k]
		case int:
			a, _ := v.([]any)
			if k >= len(a) {
				return ""
			}
			v = a[k]
		}
	}
	s, _ := v.(string)
	return s
}

func num(v any, key string) float64 {
	m, _ := v.(map[string]any)
	f, _ := m[key].(float64)
	return f
}

// testRegistry is the demo registry shipped in configs/demo: its private
// keys let the token endpoint tests sign real assertions.
func testRegistry(t *testing.T) *auth.Registry {
	t.Helper()
	reg, err := auth.LoadRegistry(filepath.Join("..", "configs", "demo", "clients.json"))
	if err != nil {
		t.Fatal(err)
	}
	return reg
}
