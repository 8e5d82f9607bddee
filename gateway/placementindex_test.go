package gateway_test

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/dischargegateway/gateway/adapters/rediscache"
	"github.com/dischargegateway/gateway/adapters/sqlstore"
	"github.com/dischargegateway/gateway/auth"
	"github.com/dischargegateway/gateway/gateway"
)

// replica is a second gateway process over the same stores as e: its own
// placement cache, the same token issuer; now, if given, is its clock.
func (e *env) replica(t *testing.T, now ...func() time.Time) *env {
	t.Helper()
	r := *e
	r.srv = serverOn(t, e.record, e.conn, e.issuer, 0, clockOf(now))
	return &r
}

// serverOn serves a gateway over an open record and Redis connection, with
// the test client registry and issuer. requestTimeout 0 keeps the default;
// now nil keeps the real clock.
func serverOn(t *testing.T, rec *sqlstore.Store, conn *rediscache.Conn, issuer *auth.Issuer, requestTimeout time.Duration, now func() time.Time) *httptest.Server {
	t.Helper()
	cfg := gateway.DefaultConfig()
	if requestTimeout > 0 {
		cfg.RequestTimeout = requestTimeout
	}
	g := gateway.New(cfg, testDeps(t, rec, conn, issuer, 1000000, slog.New(slog.NewJSONHandler(io.Discard, nil)), now))
	hs := httptest.NewServer(g.Handler())
	t.Cleanup(hs.Close)
	return hs
}

func clockOf(now []func() time.Time) func() time.Time {
	if len(now) > 0 {
		return now[0]
	}
	return nil
}

func matchNames(t *testing.T, r resp) []string {
	t.Helper()
	var names []string
	entries, _ := r.json["entry"].([]any)
	for _, en := range entries {
		if str(en, "search", "mode") == "match" {
			names = append(names, str(en, "resource", "name"))
		}
	}
	return names
}

// TestPlacementCacheFollowsTheStore warms two replicas' caches, then
// changes the directory and capacity through one of them (and through
// Redis directly): the other's very next answer reflects every change.
func TestPlacementCacheFollowsTheStore(t *testing.T) {
	e := newEnv(t)
	other := e.replica(t)
	home := e.tokenFor("home-1", auth.RoleCareProvider, "1-000000001", directoryScopes)
	e.do("POST", "/api/v1/directory/import", placementCSV, "Authorization", "Bearer "+home, "Content-Type", "text/csv").mustStatus(t, 200)
	post := func(loc string, accepting int, at time.Time) {
		body := map[string]any{"asOf": at.UTC().Format(time.RFC3339), "beds": []any{map[string]any{
			"type": "nursing-dementia", "maxCapacity": 30, "occupied": 30 - accepting, "reserved": 0, "acceptingAdmissions": accepting}}}
		e.do("PUT", "/api/v1/capacity/cqc-"+loc, body, "Authorization", "Bearer "+home, "Content-Type", "application/json").mustStatus(t, 200)
	}
	t0 := time.Now().Add(-2 * time.Hour)
	for _, loc := range []string{"1-100000001", "1-100000002", "1-100000003", "1-100000004"} {
		post(loc, 2, t0)
	}
	r := e.do("POST", "/fhir", walkthrough(t)).mustStatus(t, http.StatusOK)
	var sr string
	for _, en := range r.json["entry"].([]any) {
		if loc := str(en, "response", "location"); strings.HasPrefix(loc, "ServiceRequest/") {
			sr = strings.Split(loc, "/_history/")[0]
		}
	}
	path := "/fhir/" + sr + "/$placement-options"
	for _, g := range []*env{e, other} {
		if got := strings.Join(matchNames(t, g.do("GET", path, nil).mustStatus(t, 200)), ","); got != "Home A,Home B" {
			t.Fatalf("warm-up: %s", got)
		}
	}

	// Capacity: Home A fills up (posted through e); other sees it at once.
	post("1-100000001", 0, t0.Add(time.Minute))
	if got := strings.Join(matchNames(t, other.do("GET", path, nil).mustStatus(t, 200)), ","); got != "Home B" {
		t.Fatalf("after Home A filled up, replica answered %q", got)
	}
	post("1-100000001", 2, t0.Add(2*time.Minute))

	// Directory: Home B's service no longer offers two carers (updated
	// through e); other must stop offering it.
	s := e.do("GET", "/fhir/HealthcareService?location=Location/cqc-1-100000002", nil, "Authorization", "Bearer "+home).mustStatus(t, 200)
	svc := s.json["entry"].([]any)[0].(map[string]any)["resource"].(map[string]any)
	var kept []any
	for _, c := range svc["characteristic"].([]any) {
		if !strings.Contains(mustJSON(t, c), "two-carers") {
			kept = append(kept, c)
		}
	}
	if len(kept) == len(svc["characteristic"].([]any)) {
		t.Fatalf("fixture: Home B has no two-carers characteristic: %v", svc["characteristic"])
	}
	svc["characteristic"] = kept
	e.do("PUT", "/fhir/HealthcareService/"+str(svc, "id"), svc, "Authorization", "Bearer "+home).mustStatus(t, 200)
	if got := strings.Join(matchNames(t, other.do("GET", path, nil).mustStatus(t, 200)), ","); got != "Home A" {
		t.Fatalf("after Home B's service changed, replica answered %q", got)
	}

	// Home D starts taking CHC funding: a new option appears on both.
	s = e.do("GET", "/fhir/HealthcareService?location=Location/cqc-1-100000004", nil, "Authorization", "Bearer "+home).mustStatus(t, 200)
	svc = s.json["entry"].([]any)[0].(map[string]any)["resource"].(map[string]any)
	a := e.do("GET", "/fhir/HealthcareService?location=Location/cqc-1-100000001", nil, "Authorization", "Bearer "+home).mustStatus(t, 200)
	svc["program"] = a.json["entry"].([]any)[0].(map[string]any)["resource"].(map[string]any)["program"]
	other.do("PUT", "/fhir/HealthcareService/"+str(svc, "id"), svc, "Authorization", "Bearer "+home).mustStatus(t, 200)
	for _, g := range []*env{e, other} {
		if got := strings.Join(matchNames(t, g.do("GET", path, nil).mustStatus(t, 200)), ","); got != "Home A,Home D" {
			t.Fatalf("after Home D took CHC funding: %q", got)
		}
	}

	// Home A's service is renamed (through e): the answers show stored
	// JSON each replica has cached, and other must show the new name.
	a = e.do("GET", "/fhir/HealthcareService?location=Location/cqc-1-100000001", nil, "Authorization", "Bearer "+home).mustStatus(t, 200)
	svc = a.json["entry"].([]any)[0].(map[string]any)["resource"].(map[string]any)
	svc["name"] = "Home A (renamed)"
	e.do("PUT", "/fhir/HealthcareService/"+str(svc, "id"), svc, "Authorization", "Bearer "+home).mustStatus(t, 200)
	if got := strings.Join(matchNames(t, other.do("GET", path, nil).mustStatus(t, 200)), ","); got != "Home A (renamed),Home D" {
		t.Fatalf("after Home A's service was renamed, replica answered %q", got)
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
