package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dischargegateway/gateway/adapters/sqlstore"
	"github.com/dischargegateway/gateway/fhir"
	"github.com/dischargegateway/gateway/internal/pgrecordtest"
	"github.com/dischargegateway/gateway/internal/redistest"
	"github.com/dischargegateway/gateway/internal/sqlitetest"
	"github.com/dischargegateway/gateway/internal/wiring"
)

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// startRun runs the whole program as main would, and returns its base URL,
// a stop function (SIGTERM's effect) and the channel run's result arrives on.
func startRun(t *testing.T, env map[string]string) (base string, stop func(), done <-chan error, logs *lockedBuffer) {
	t.Helper()
	env["GATEWAY_ADDR"] = "127.0.0.1:0"
	withDataDir(t, env)
	if _, ok := env["GATEWAY_CONCEPTMAPS_DIR"]; !ok {
		env["GATEWAY_CONCEPTMAPS_DIR"] = filepath.Join("..", "..", "configs", "conceptmaps")
	}
	env["GATEWAY_DEMO_DIR"] = filepath.Join("..", "..", "configs", "demo")
	env["GATEWAY_OUTCODES_CSV"] = filepath.Join("..", "..", "configs", "geo", "uk-outcode-centroids.csv")
	// The demo world costs seconds to load (more under -race): only the
	// tests that want it ask for it.
	if _, ok := env["GATEWAY_DEMO_WORLD"]; !ok {
		env["GATEWAY_DEMO_WORLD"] = "off"
	}
	getenv := func(k string) string { return env[k] }
	ctx, cancel := context.WithCancel(context.Background())
	addr := make(chan string, 1)
	errc := make(chan error, 1)
	logs = &lockedBuffer{}
	go func() { errc <- run(ctx, nil, getenv, logs, logs, func(a string) { addr <- a }) }()
	select {
	case a := <-addr:
		base = "http://" + a
	case err := <-errc:
		t.Fatalf("run: %v\n%s", err, logs)
	case <-time.After(60 * time.Second):
		t.Fatal("gateway did not start")
	}
	t.Cleanup(cancel)
	return base, cancel, errc, logs
}

// withDataDir gives a test's gateway a record of its own unless the test
// chose one, and returns env: a data directory (the embedded SQLite), or,
// with GATEWAY_TEST_STORE=postgres and a real Redis in env (REDIS_URL or
// REDIS_ADDRS: not the embedded stores, which are SQLite by definition), a
// fresh database on the test binary's shared PostgreSQL (a copy of one
// migrated once, pgrecordtest).
func withDataDir(t *testing.T, env map[string]string) map[string]string {
	t.Helper()
	if _, ok := env["GATEWAY_DATA_DIR"]; ok || env["DATABASE_URL"] != "" {
		return env
	}
	if os.Getenv("GATEWAY_TEST_STORE") == "postgres" && (env["REDIS_URL"] != "" || env["REDIS_ADDRS"] != "") {
		env["DATABASE_URL"] = pgrecordtest.URL(t)
		return env
	}
	// A copy of a record migrated once per test binary (sqlitetest): the
	// gateway opens it as it opens its data directory on a restart. Tests
	// of a first start on an empty directory set GATEWAY_DATA_DIR
	// themselves (TestServeEmpty, the demo world's).
	env["GATEWAY_DATA_DIR"] = sqlitetest.Dir(t)
	return env
}

// recordCount counts a type's resources in a partition of the record env
// names (DATABASE_URL, else the SQLite file in GATEWAY_DATA_DIR).
func recordCount(t *testing.T, env map[string]string, partition, typ string) int {
	t.Helper()
	s, err := sqlstore.Open(context.Background(), env["DATABASE_URL"], env["GATEWAY_DATA_DIR"])
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	_, n, err := s.Search(context.Background(), partition, fhir.Query{Type: typ})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestRunEndToEndOnRealRedis(t *testing.T) {
	rs := redistest.Open(t) // a cluster or Sentinel with REDISTEST_MODE
	env := withDataDir(t, rs.Env())
	base, stop, done, logs := startRun(t, env)

	bundle, err := os.ReadFile(filepath.Join("..", "..", "gateway", "testdata", "bundle.json"))
	if err != nil {
		t.Fatal(err)
	}
	token := mint(t, "demo-trust-rxa")
	req, _ := http.NewRequest("POST", base+"/fhir", bytes.NewReader(bundle))
	req.Header.Set("Content-Type", "application/fhir+json")
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || !strings.Contains(string(body), "transaction-response") {
		t.Fatalf("transaction: %d %s", res.StatusCode, body)
	}
	if n := recordCount(t, env, "RXA", "Encounter"); n == 0 {
		t.Fatal("nothing written to the record")
	}
	if n, _ := rs.UniversalClient().DBSize(context.Background()).Result(); n == 0 {
		t.Fatal("nothing written to the real Redis (rate limits)")
	}

	// SIGTERM while a request is in flight: the request completes.
	pr, pw := io.Pipe()
	result := make(chan int, 1)
	go func() {
		req, _ := http.NewRequest("POST", base+"/fhir/Patient", pr)
		req.Header.Set("Content-Type", "application/fhir+json")
		req.Header.Set("Authorization", "Bearer "+token)
		r, err := http.DefaultClient.Do(req)
		if err != nil {
			result <- -1
			return
		}
		io.Copy(io.Discard, r.Body)
		r.Body.Close()
		result <- r.StatusCode
	}()
	io.WriteString(pw, `{"resourceType":"Patient",`)
	time.Sleep(200 * time.Millisecond) // the request is now in flight
	stop()
	time.Sleep(200 * time.Millisecond)
	io.WriteString(pw, `"gender":"female"}`)
	pw.Close()
	if st := <-result; st != http.StatusCreated {
		t.Fatalf("in-flight request got %d during shutdown", st)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run returned %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("run did not return after SIGTERM")
	}
	if _, err := http.Get(base + "/healthz"); err == nil {
		t.Fatal("still serving after shutdown")
	}
	if !strings.Contains(logs.String(), "draining") {
		t.Fatalf("no shutdown log: %s", logs)
	}
}

// TestRunEmbeddedStoreSaysWhatPersists: with neither DATABASE_URL nor
// REDIS_URL the log names the SQLite record and says the cache is
// rebuilt from it.
func TestRunEmbeddedStoreSaysWhatPersists(t *testing.T) {
	env := map[string]string{}
	base, stop, done, logs := startRun(t, env)
	res, err := http.Get(base + "/readyz")
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("readyz on the embedded store: %v %v", res, err)
	}
	res.Body.Close()
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	out := logs.String()
	if !strings.Contains(out, `"engine":"sqlite"`) || !strings.Contains(out, filepath.Join(env["GATEWAY_DATA_DIR"], "gateway.db")) ||
		!strings.Contains(out, "rebuilt from the record") {
		t.Fatalf("the log does not say where the record is and that the cache is rebuilt: %s", out)
	}
}

func TestSettingsAreValidated(t *testing.T) {
	_, err := loadConfig(func(k string) string {
		return map[string]string{"GATEWAY_BODY_LIMIT": "lots", "GATEWAY_REQUEST_TIMEOUT": "-1s", "GATEWAY_PLACEMENT_WEIGHTS": "distance=-1",
			"SUBSCRIPTION_SECRET_KEY": "c2hvcnQ="}[k]
	})
	if err == nil || !strings.Contains(err.Error(), "GATEWAY_BODY_LIMIT") || !strings.Contains(err.Error(), "GATEWAY_REQUEST_TIMEOUT") ||
		!strings.Contains(err.Error(), "GATEWAY_PLACEMENT_WEIGHTS") || !strings.Contains(err.Error(), "SUBSCRIPTION_SECRET_KEY") {
		t.Fatalf("want every bad setting named: %v", err)
	}
	// A 32-byte key reaches the Subscription settings.
	keyed, err := loadConfig(func(k string) string {
		return map[string]string{"SUBSCRIPTION_SECRET_KEY": "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="}[k]
	})
	if err != nil || len(keyed.Subscription.SecretKey) != 32 || keyed.Subscription.SecretKey[31] != 31 {
		t.Fatalf("SUBSCRIPTION_SECRET_KEY: %v %v", keyed.Subscription.SecretKey, err)
	}
	var out bytes.Buffer
	if err := run(context.Background(), []string{"settings"}, func(string) string { return "" }, &out, io.Discard, nil); err != nil {
		t.Fatal(err)
	}
	for _, s := range settingsTable {
		if !strings.Contains(out.String(), "`"+s.env+"`") {
			t.Fatalf("settings table lacks %s", s.env)
		}
	}
	// The README's table is this output, as it says ("so it cannot
	// drift"): a setting added in code and not in the README fails here.
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(readme), out.String()) {
		t.Fatal("README.md's settings table is not the output of `gateway settings`: paste it again")
	}
}

// mint runs `gateway token` for a demo client, as an operator would.
func mint(t *testing.T, client string) string {
	t.Helper()
	var out bytes.Buffer
	env := map[string]string{"GATEWAY_DEMO_DIR": filepath.Join("..", "..", "configs", "demo")}
	if err := run(context.Background(), []string{"token", "--client", client}, func(k string) string { return env[k] }, &out, io.Discard, nil); err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(out.String())
}

func TestDemoModeRefusedInProduction(t *testing.T) {
	env := map[string]string{"GATEWAY_ENV": "production", "GATEWAY_DEMO_DIR": filepath.Join("..", "..", "configs", "demo"),
		"GATEWAY_ADDR": "127.0.0.1:0", "GATEWAY_CONCEPTMAPS_DIR": filepath.Join("..", "..", "configs", "conceptmaps")}
	err := run(context.Background(), nil, func(k string) string { return env[k] }, io.Discard, io.Discard, nil)
	if err == nil || !strings.Contains(err.Error(), "production") {
		t.Fatalf("want a refusal, got %v", err)
	}
}

func TestDemoTokensArePrintedAndWork(t *testing.T) {
	base, stop, done, logs := startRun(t, map[string]string{})
	out := logs.String()
	for _, c := range []string{"demo-trust-rxa", "demo-trust-rxb", "demo-hub", "demo-care-home-1", "demo-care-home-2", "demo-admin", "demo-commissioner"} {
		if !strings.Contains(out, c) {
			t.Fatalf("no demo token for %s in %s", c, out)
		}
	}
	i := strings.Index(out, "export TOKEN_DEMO_TRUST_RXA=")
	tok := strings.Fields(out[i+len("export TOKEN_DEMO_TRUST_RXA="):])[0]
	req, _ := http.NewRequest("GET", base+"/fhir/Patient", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	res, err := http.DefaultClient.Do(req)
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("demo token: %v %v", res, err)
	}
	res.Body.Close()
	stop()
	<-done
}

// TestImportCommand imports into the record with a real Redis as the cache
// and into the embedded SQLite record alone: a second import (another
// process) finds the row unchanged, so the first one persisted.
func TestImportCommand(t *testing.T) {
	dir := t.TempDir()
	csvPath := filepath.Join(dir, "dir.csv")
	_ = os.WriteFile(csvPath, []byte("name,cqcLocationId,providerId,services,postcode\nA Home,1-100000001,1-000000001,nursing,M14 6AB\nBad,1-1,1-000000001,nursing,M14 6AB\n"), 0o600)
	for _, tc := range []struct {
		name string
		env  func(t *testing.T) map[string]string
	}{
		{"real redis", func(t *testing.T) map[string]string { return redistest.Open(t).Env() }},
		{"embedded", func(*testing.T) map[string]string { return map[string]string{} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := withDataDir(t, tc.env(t))
			env["GATEWAY_OUTCODES_CSV"] = filepath.Join("..", "..", "configs", "geo", "uk-outcode-centroids.csv")
			for i, want := range []string{`"created": 1`, `"unchanged": 1`} {
				var out bytes.Buffer
				if err := run(context.Background(), []string{"import", "directory", csvPath}, func(k string) string { return env[k] }, &out, io.Discard, nil); err != nil {
					t.Fatal(err)
				}
				if !strings.Contains(out.String(), want) || !strings.Contains(out.String(), `"column": "cqcLocationId"`) {
					t.Fatalf("import %d: want %s in %s", i+1, want, out.String())
				}
			}
		})
	}
}

func TestSeedCommand(t *testing.T) {
	rs := redistest.Open(t)
	env := withDataDir(t, rs.Env())
	env["GATEWAY_OUTCODES_CSV"] = filepath.Join("..", "..", "configs", "geo", "uk-outcode-centroids.csv")
	var out bytes.Buffer
	if err := run(context.Background(), []string{"seed", "--providers", "300"}, func(k string) string { return env[k] }, &out, io.Discard, nil); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "seeded 300 synthetic locations (300 created") {
		t.Fatalf("%s", out.String())
	}
	keys, err := rs.Keys(context.Background(), "dg:{geo:*") // on every master of a cluster
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) == 0 {
		t.Fatal("no geo shards written")
	}
}

// TestStoreSettingsDefaults: a gateway configured with nothing opens its
// stores with wiring.Defaults, the settings cmd/loadgen opens them with
// (beside its own URLs); a default changed on one side only fails here.
func TestStoreSettingsDefaults(t *testing.T) {
	cfg, err := loadConfig(func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	if got, want := cfg.storeSettings(0), wiring.Defaults(); !reflect.DeepEqual(got, want) {
		t.Fatalf("the settings table's store defaults are\n%+v\nwiring.Defaults() is\n%+v", got, want)
	}
	if got := cfg.storeSettings(wiring.BulkRedisTimeout).RedisTimeout; got != wiring.BulkRedisTimeout {
		t.Fatalf("a bulk command's Redis timeout is %s", got)
	}
}

// TestRedisInstrumentedWhenExported: the Redis client gets spans only when
// traces are exported, and pool metrics when either metrics reader is set;
// with neither (the default) it gets no hooks at all.
func TestRedisInstrumentedWhenExported(t *testing.T) {
	for _, c := range []struct {
		env             map[string]string
		traces, metrics bool
	}{
		{map[string]string{}, false, false},
		{map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, true, true},
		{map[string]string{"GATEWAY_METRICS_ADDR": ":9464"}, false, true},
	} {
		cfg, err := loadConfig(func(k string) string { return c.env[k] })
		if err != nil {
			t.Fatal(err)
		}
		set := cfg.storeSettings(0)
		if set.RedisTraces != c.traces || set.RedisMetrics != c.metrics {
			t.Errorf("%v: Redis traces %v, metrics %v; want %v, %v", c.env, set.RedisTraces, set.RedisMetrics, c.traces, c.metrics)
		}
	}
}

// TestProductionRequiresDatabaseURL: production refuses the embedded
// SQLite record, and says to set DATABASE_URL.
func TestProductionRequiresDatabaseURL(t *testing.T) {
	// An empty data directory: withDataDir's holds a migrated record.
	env := map[string]string{"GATEWAY_ENV": "production", "GATEWAY_DATA_DIR": t.TempDir()}
	cfg, err := loadConfig(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if st, err := openStores(context.Background(), cfg, nil, 0); err == nil || !strings.Contains(err.Error(), "DATABASE_URL") {
		if st != nil {
			st.Close()
		}
		t.Fatalf("want a refusal naming DATABASE_URL, got %v", err)
	}
	if _, err := os.Stat(filepath.Join(env["GATEWAY_DATA_DIR"], "gateway.db")); err == nil {
		t.Fatal("a SQLite file was created in production")
	}
}
