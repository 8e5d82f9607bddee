package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dischargegateway/gateway/adapters/demoworld"
	"github.com/dischargegateway/gateway/adapters/geocode"
	"github.com/dischargegateway/gateway/directory"
	"github.com/dischargegateway/gateway/internal/pgtest"
	"github.com/dischargegateway/gateway/internal/redistest"
)

// postWalkthrough posts the README's walk-through Bundle and returns the
// ServiceRequest's id.
func postWalkthrough(t *testing.T, base, token string) string {
	t.Helper()
	bundle, err := os.ReadFile(filepath.Join("..", "..", "mappings", "testdata", "walkthrough-bundle.json"))
	if err != nil {
		t.Fatal(err)
	}
	res := do(t, "POST", base+"/fhir", token, bundle)
	var tr struct {
		Entry []struct {
			Response struct{ Location string } `json:"response"`
		} `json:"entry"`
	}
	if err := json.Unmarshal(res, &tr); err != nil {
		t.Fatal(err)
	}
	for _, e := range tr.Entry {
		if id, ok := strings.CutPrefix(e.Response.Location, "ServiceRequest/"); ok {
			return strings.Split(id, "/")[0]
		}
	}
	t.Fatalf("no ServiceRequest in %s", res)
	return ""
}

func do(t *testing.T, method, url, token string, body []byte) []byte {
	t.Helper()
	req, _ := http.NewRequest(method, url, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/fhir+json")
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 {
		t.Fatalf("%s %s: %d %s", method, url, res.StatusCode, b)
	}
	return b
}

type placementBundle struct {
	Total int `json:"total"`
	Entry []struct {
		Resource struct {
			ResourceType string `json:"resourceType"`
			ID           string `json:"id"`
			Name         string `json:"name"`
		} `json:"resource"`
		Search struct{ Mode string } `json:"search"`
	} `json:"entry"`
}

// TestFirstTenMinutes is the newcomer's path: `go run ./cmd/gateway` with
// no REDIS_URL, the README's walk-through Bundle (a patient in M14), then
// $placement-options, which must rank real Greater Manchester homes.
func TestFirstTenMinutes(t *testing.T) {
	homes := map[string]bool{}
	f, err := os.Open(filepath.Join("..", "..", defaultDemoWorld))
	if err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(f).ReadAll()
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs[1:] {
		homes[r[0]] = true
	}

	for _, tc := range []struct {
		name    string
		env     map[string]string
		args    []string
		atLeast int
		atMost  int
	}{
		// A minute's deadline: the first placement fills cold caches from
		// 555 homes, which under -race on a loaded machine outlasted 10 s.
		{"demo world", map[string]string{"GATEWAY_DEMO_WORLD": filepath.Join("..", "..", defaultDemoWorld), "GATEWAY_REQUEST_TIMEOUT": "60s"}, nil, 3, 1 << 30},
		{"off", map[string]string{"GATEWAY_DEMO_WORLD": "off"}, nil, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			base, stop, done, logs := startRun(t, tc.env)
			defer func() { stop(); <-done }()
			out := logs.String()
			i := strings.Index(out, "export TOKEN_DEMO_TRUST_RXA=")
			if i < 0 {
				t.Fatalf("no demo token printed: %s", out)
			}
			token := strings.Fields(out[i+len("export TOKEN_DEMO_TRUST_RXA="):])[0]
			sr := postWalkthrough(t, base, token)
			var b placementBundle
			if err := json.Unmarshal(do(t, "GET", base+"/fhir/ServiceRequest/"+sr+"/$placement-options", token, nil), &b); err != nil {
				t.Fatal(err)
			}
			t.Logf("%d placement options", b.Total)
			if b.Total < tc.atLeast || b.Total > tc.atMost {
				t.Fatalf("total %d, want %d to %d\n%s", b.Total, tc.atLeast, tc.atMost, logs)
			}
			for _, e := range b.Entry {
				if e.Search.Mode == "match" && (!homes[e.Resource.Name] || !strings.HasPrefix(e.Resource.ID, "cqc-"+demoworld.IDPrefix)) {
					t.Errorf("option %s %q is not a demo-world home", e.Resource.ID, e.Resource.Name)
				}
			}
			if loaded := strings.Contains(out, "demo world loaded"); loaded != (tc.atLeast > 0) {
				t.Errorf("demo world loaded logged: %v", loaded)
			}
		})
	}
}

// TestDemoWorldLoadsIdempotently: a second load of the same file finds
// every home unchanged, which is what makes the ids from name and postcode
// (and the fixed seed) worth having.
func TestDemoWorldLoadsIdempotently(t *testing.T) {
	ctx := context.Background()
	env := withDataDir(t, map[string]string{})
	cfg, err := loadConfig(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	st, err := openStores(ctx, cfg, log, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	geo, err := geocode.LoadFiles(filepath.Join("..", "..", "configs", "geo", "uk-outcode-centroids.csv"), "")
	if err != nil {
		t.Fatal(err)
	}
	load := func() directory.ImportReport {
		b, err := os.ReadFile(filepath.Join("..", "..", defaultDemoWorld))
		if err != nil {
			t.Fatal(err)
		}
		listings, caps, err := demoworld.Load(bytes.NewReader(b), time.Now())
		if err != nil {
			t.Fatal(err)
		}
		rep, err := st.LoadWorld(ctx, geo, log, listings, caps)
		if err != nil {
			t.Fatal(err)
		}
		return rep
	}
	first := load()
	if first.Created != first.Rows || first.Rows < 500 {
		t.Fatalf("first load: %+v", first)
	}
	if second := load(); second.Unchanged != first.Rows || second.Created+second.Updated != 0 {
		t.Fatalf("second load: %+v", second)
	}
}

// TestSeedOnTheEmbeddedStore: `gateway seed` without DATABASE_URL writes
// the SQLite record, so a second seed (another process) finds every
// location there, unchanged.
func TestSeedOnTheEmbeddedStore(t *testing.T) {
	env := withDataDir(t, map[string]string{"GATEWAY_OUTCODES_CSV": filepath.Join("..", "..", "configs", "geo", "uk-outcode-centroids.csv")})
	for _, want := range []string{"(40 created, 0 updated, 0 unchanged)", "(0 created, 0 updated, 40 unchanged)"} {
		var out bytes.Buffer
		if err := run(context.Background(), []string{"seed", "--providers", "40"}, func(k string) string { return env[k] }, &out, io.Discard, nil); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(out.String(), want) {
			t.Fatalf("want %s in %s", want, out.String())
		}
	}
	// The 40 care locations and the seed's virtual wards (seed_virtualwards.go).
	if n := recordCount(t, env, "directory", "Location"); n != 40+len(seedWards) {
		t.Fatalf("%d Locations in the record, want %d", n, 40+len(seedWards))
	}
}

// TestServeEmpty: `serve --empty` starts without the demo world even on the
// embedded store.
func TestServeEmpty(t *testing.T) {
	env := map[string]string{"GATEWAY_ADDR": "127.0.0.1:0", "GATEWAY_DATA_DIR": t.TempDir(), "GATEWAY_DEMO_WORLD": filepath.Join("..", "..", defaultDemoWorld),
		"GATEWAY_DEMO_DIR":        filepath.Join("..", "..", "configs", "demo"),
		"GATEWAY_CONCEPTMAPS_DIR": filepath.Join("..", "..", "configs", "conceptmaps"),
		"GATEWAY_OUTCODES_CSV":    filepath.Join("..", "..", "configs", "geo", "uk-outcode-centroids.csv")}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	logs := &lockedBuffer{}
	listening := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--empty"}, func(k string) string { return env[k] }, logs, logs, func(a string) { listening <- a })
	}()
	select {
	case <-listening:
	case err := <-done:
		t.Fatalf("run: %v\n%s", err, logs)
	case <-time.After(20 * time.Second):
		t.Fatal("gateway did not start")
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if strings.Contains(logs.String(), "demo world loaded") {
		t.Fatal("serve --empty loaded the demo world")
	}
}

// TestDemoWorldFileMissing: the default file absent (a binary run outside
// the repository, the container image) warns and starts empty; a file the
// operator named that is absent stops start-up.
func TestDemoWorldFileMissing(t *testing.T) {
	// From cmd/gateway the default relative path does not resolve.
	base, stop, done, logs := startRun(t, map[string]string{"GATEWAY_DEMO_WORLD": ""})
	if res, err := http.Get(base + "/healthz"); err != nil || res.StatusCode != 200 {
		t.Fatalf("healthz: %v %v", res, err)
	}
	stop()
	<-done
	if !strings.Contains(logs.String(), "no demo world") {
		t.Fatalf("no warning about the missing demo world: %s", logs)
	}

	env := map[string]string{"GATEWAY_ADDR": "127.0.0.1:0", "GATEWAY_DATA_DIR": t.TempDir(), "GATEWAY_DEMO_WORLD": filepath.Join(t.TempDir(), "nope.csv"),
		"GATEWAY_DEMO_DIR":        filepath.Join("..", "..", "configs", "demo"),
		"GATEWAY_CONCEPTMAPS_DIR": filepath.Join("..", "..", "configs", "conceptmaps"),
		"GATEWAY_OUTCODES_CSV":    filepath.Join("..", "..", "configs", "geo", "uk-outcode-centroids.csv")}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	err := run(ctx, nil, func(k string) string { return env[k] }, io.Discard, io.Discard, func(string) {
		t.Error("started without the demo world file it was told to load")
		cancel()
	})
	if err == nil || !strings.Contains(err.Error(), "GATEWAY_DEMO_WORLD") {
		t.Fatalf("want an error naming GATEWAY_DEMO_WORLD, got %v", err)
	}
}

// TestDemoWorldOnRealStores is deploy/compose.yaml's trial without Docker
// (no Compose and no image registry here): the gateway on a real
// PostgreSQL and a real Redis with GATEWAY_DEMO_WORLD_STORES=any gives the
// newcomer's path the same shortlist of real homes, with telephone numbers,
// as the embedded stores. Production refuses the setting.
func TestDemoWorldOnRealStores(t *testing.T) {
	pg := pgtest.Start(t)
	_, dbURL := pg.NewDatabase(t)
	rs := redistest.Start(t)
	env := map[string]string{"DATABASE_URL": dbURL, "REDIS_URL": rs.URL(), "GATEWAY_DEMO_WORLD_STORES": "any",
		"GATEWAY_DEMO_WORLD": filepath.Join("..", "..", defaultDemoWorld), "GATEWAY_REQUEST_TIMEOUT": "60s"}
	base, stop, done, _ := startRun(t, env)
	defer func() { stop(); <-done }()
	token := mint(t, "demo-trust-rxa")
	sr := postWalkthrough(t, base, token)
	body := do(t, "GET", base+"/fhir/ServiceRequest/"+sr+"/$placement-options?_count=5", token, nil)
	var b struct {
		Total int `json:"total"`
		Entry []struct {
			Resource struct {
				ResourceType string `json:"resourceType"`
				Telecom      []struct{ System, Value string }
			} `json:"resource"`
			Search struct{ Mode string } `json:"search"`
		} `json:"entry"`
	}
	if err := json.Unmarshal(body, &b); err != nil {
		t.Fatal(err)
	}
	matches, phones := 0, 0
	for _, e := range b.Entry {
		if e.Search.Mode == "match" {
			matches++
		}
		for _, tc := range e.Resource.Telecom {
			if e.Resource.ResourceType == "Location" && tc.System == "phone" && tc.Value != "" {
				phones++
			}
		}
	}
	if b.Total < 3 || matches < 3 || phones == 0 {
		t.Fatalf("on PostgreSQL and Redis: total %d, %d shown, %d telephone numbers", b.Total, matches, phones)
	}

	prod := map[string]string{"DATABASE_URL": dbURL, "REDIS_URL": rs.URL(), "GATEWAY_DEMO_WORLD_STORES": "any", "GATEWAY_ENV": "production"}
	err := run(context.Background(), nil, func(k string) string { return prod[k] }, io.Discard, io.Discard, nil)
	if err == nil || !strings.Contains(err.Error(), "GATEWAY_DEMO_WORLD_STORES") {
		t.Fatalf("production with the demo world on real stores: %v", err)
	}
}
