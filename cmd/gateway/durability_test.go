package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dischargegateway/gateway/internal/pgtest"
	"github.com/dischargegateway/gateway/internal/redistest"
)

// The tests here are the table of what an acknowledged write survives in
// the README: each drives the whole program through run() on real stores.

// world is what the durability tests post: one nursing home in M14 (the
// demo care provider's), imported into the record.
func importHome(t *testing.T, env map[string]string) {
	t.Helper()
	csvPath := filepath.Join(t.TempDir(), "dir.csv")
	_ = os.WriteFile(csvPath, []byte("name,cqcLocationId,providerId,services,postcode\nA Home,1-100000001,1-000000001,nursing,M14 6AB\n"), 0o600)
	env["GATEWAY_OUTCODES_CSV"] = filepath.Join("..", "..", "configs", "geo", "uk-outcode-centroids.csv")
	if err := run(context.Background(), []string{"import", "directory", csvPath}, func(k string) string { return env[k] }, io.Discard, io.Discard, nil); err != nil {
		t.Fatal(err)
	}
}

// call sends one request and returns its status and body.
func call(t *testing.T, method, url, token, ctype string, body []byte) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest(method, url, bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, b
}

func postCapacity(t *testing.T, base string) {
	t.Helper()
	posting := fmt.Sprintf(`{"asOf":%q,"beds":[{"type":"nursing","maxCapacity":10,"occupied":8,"reserved":0,"acceptingAdmissions":2}]}`,
		time.Now().UTC().Format(time.RFC3339))
	if st, b := call(t, "PUT", base+"/api/v1/capacity/cqc-1-100000001", mint(t, "demo-care-home-1"), "application/json", []byte(posting)); st != 200 {
		t.Fatalf("capacity: %d %s", st, b)
	}
}

// nursingOptions asks for nursing placement near M14 and returns the
// status and how many options have a known vacancy.
func nursingOptions(t *testing.T, base string) (int, int) {
	t.Helper()
	sr := `{"resourceType":"Parameters","parameter":[{"name":"serviceRequest","resource":{"resourceType":"ServiceRequest","status":"active","intent":"order",` +
		`"subject":{"reference":"Patient/inline"},"code":{"coding":[{"system":"https://fhir.discharge-gateway.example/CodeSystem/care-setting","code":"nursing"}]}}},` +
		`{"name":"patient","resource":{"resourceType":"Patient","id":"inline","address":[{"use":"home","postalCode":"M14 6AB"}]}}]}`
	st, b := call(t, "POST", base+"/fhir/ServiceRequest/$placement-options", mint(t, "demo-trust-rxa"), "application/fhir+json", []byte(sr))
	var pb placementBundle
	_ = json.Unmarshal(b, &pb)
	return st, pb.Total
}

// waitOptions polls placement until it has want options; every answer on
// the way must be a 200.
func waitOptions(t *testing.T, base string, want int, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		st, n := nursingOptions(t, base)
		if st != 200 {
			t.Fatalf("placement answered %d", st)
		}
		if n == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("placement has %d options after %s, want %d", n, within, want)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestEmbeddedRecordSurvivesRestart: on the embedded stores (SQLite, the
// in-process Redis) the walk-through and a capacity posting are still
// there after the gateway stops and starts again on the same data
// directory, and placement answers again once the cache is rebuilt.
func TestEmbeddedRecordSurvivesRestart(t *testing.T) {
	env := withDataDir(t, map[string]string{})
	importHome(t, env)
	base, stop, done, _ := startRun(t, env)
	postCapacity(t, base)
	trust := mint(t, "demo-trust-rxa")
	sr := postWalkthrough(t, base, trust)
	waitOptions(t, base, 1, 5*time.Second)
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	base, stop, done, logs := startRun(t, env)
	defer func() { stop(); <-done }()
	if st, b := call(t, "GET", base+"/fhir/ServiceRequest/"+sr, trust, "", nil); st != 200 {
		t.Fatalf("the walk-through's ServiceRequest after a restart: %d %s", st, b)
	}
	if st, b := call(t, "GET", base+"/fhir/ServiceRequest/"+sr+"/$placement-options", trust, "", nil); st != 200 {
		t.Fatalf("its placement after a restart: %d %s", st, b)
	}
	waitOptions(t, base, 1, 10*time.Second)
	if !strings.Contains(logs.String(), "capacity cache rebuilt from the record") {
		t.Fatalf("no rebuild logged: %s", logs)
	}
}

// TestFlushedRedisHeals: on PostgreSQL with a real Redis, a FLUSHALL
// leaves placement answering 200 (capacity unknown: no options), never
// 500, and `gateway rebuild-cache` brings the options back.
func TestFlushedRedisHeals(t *testing.T) {
	pg := pgtest.Start(t)
	_, dbURL := pg.NewDatabase(t)
	rs := redistest.Start(t)
	env := map[string]string{"DATABASE_URL": dbURL, "REDIS_URL": rs.URL(), "GATEWAY_CACHE_CHECK": "0"}
	importHome(t, env)
	base, stop, done, logs := startRun(t, env)
	defer func() { stop(); <-done }()
	postCapacity(t, base)
	postWalkthrough(t, base, mint(t, "demo-trust-rxa"))
	waitOptions(t, base, 1, 5*time.Second)
	if !strings.Contains(logs.String(), `"engine":"postgres"`) {
		t.Fatalf("the record engine is not logged: %s", logs)
	}

	rs.Flush(context.Background())
	waitOptions(t, base, 0, 5*time.Second) // capacity unknown, never a 500

	var out bytes.Buffer
	if err := run(context.Background(), []string{"rebuild-cache"}, func(k string) string { return env[k] }, &out, io.Discard, nil); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "1 put back") {
		t.Fatalf("rebuild-cache: %s", out.String())
	}
	waitOptions(t, base, 1, 5*time.Second)
}

// TestRebuildCacheNeedsARedis: the embedded cache lives inside serve, so
// `gateway rebuild-cache` without REDIS_URL says so instead of filling a
// cache that vanishes when it exits.
func TestRebuildCacheNeedsARedis(t *testing.T) {
	env := withDataDir(t, map[string]string{})
	err := run(context.Background(), []string{"rebuild-cache"}, func(k string) string { return env[k] }, io.Discard, io.Discard, nil)
	if err == nil || !strings.Contains(err.Error(), "REDIS_URL") {
		t.Fatalf("want a refusal naming REDIS_URL, got %v", err)
	}
}

// TestMigrateThenStartWithoutMigrating: GATEWAY_MIGRATE=off refuses a
// record that `gateway migrate` has not prepared, and starts on one it has.
func TestMigrateThenStartWithoutMigrating(t *testing.T) {
	// An empty data directory: withDataDir's holds a migrated record.
	env := map[string]string{"GATEWAY_MIGRATE": "off", "GATEWAY_DATA_DIR": t.TempDir()}
	getenv := func(k string) string { return env[k] }
	err := run(context.Background(), []string{"serve"}, func(k string) string {
		if k == "GATEWAY_ADDR" {
			return "127.0.0.1:0"
		}
		return env[k]
	}, io.Discard, io.Discard, func(string) { t.Error("started on a record that was never migrated") })
	if err == nil || !strings.Contains(err.Error(), "gateway migrate") {
		t.Fatalf("want a refusal that says to run gateway migrate, got %v", err)
	}
	var out bytes.Buffer
	if err := run(context.Background(), []string{"migrate"}, getenv, &out, io.Discard, nil); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "current") {
		t.Fatalf("migrate: %s", out.String())
	}
	base, stop, done, _ := startRun(t, env)
	defer func() { stop(); <-done }()
	if st, b := call(t, "POST", base+"/fhir/Patient", mint(t, "demo-trust-rxa"), "application/fhir+json", []byte(`{"resourceType":"Patient","gender":"female"}`)); st != 201 {
		t.Fatalf("create after migrate: %d %s", st, b)
	}
}

// createsUnderFault runs six concurrent creators against the gateway at
// base for a second, then calls fault (which stops, kills, fails over…) and
// keeps them going 1.5 s after it returns. It checks what every fault test
// promises: only 201 and 503 answers, each 503 transient (or timeout) with
// Retry-After, some 503s during the fault, writes before it, and every
// acknowledged create readable afterwards (0 lost). It returns the answers
// by status and the creates acknowledged after the fault began.
func createsUnderFault(t *testing.T, base, token string, logs fmt.Stringer, fault func()) (map[int]int, int) {
	t.Helper()
	client := &http.Client{Timeout: 10 * time.Second}
	var mu sync.Mutex
	statuses := map[int]int{}
	var created []string
	var badBodies []string
	afterFault := 0
	faulted := false
	quit := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-quit:
					return
				default:
				}
				body := fmt.Sprintf(`{"resourceType":"Patient","gender":"female","birthDate":"1940-01-%02d"}`, 1+(w+i)%28)
				req, _ := http.NewRequest("POST", base+"/fhir/Patient", strings.NewReader(body))
				req.Header.Set("Content-Type", "application/fhir+json")
				req.Header.Set("Authorization", "Bearer "+token)
				res, err := client.Do(req)
				if err != nil {
					continue
				}
				b, _ := io.ReadAll(res.Body)
				res.Body.Close()
				mu.Lock()
				statuses[res.StatusCode]++
				switch res.StatusCode {
				case http.StatusCreated:
					created = append(created, res.Header.Get("Location"))
					if faulted {
						afterFault++
					}
				case http.StatusServiceUnavailable:
					if !strings.Contains(string(b), `"transient"`) && !strings.Contains(string(b), `"timeout"`) || res.Header.Get("Retry-After") == "" {
						badBodies = append(badBodies, string(b))
					}
				}
				mu.Unlock()
				if res.StatusCode == http.StatusServiceUnavailable {
					time.Sleep(20 * time.Millisecond)
				}
			}
		}()
	}
	time.Sleep(1 * time.Second)
	mu.Lock()
	faulted = true
	mu.Unlock()
	fault()
	time.Sleep(1500 * time.Millisecond)
	close(quit)
	wg.Wait()

	t.Logf("answers: %v", statuses)
	for st, n := range statuses {
		if st != http.StatusCreated && st != http.StatusServiceUnavailable {
			t.Errorf("%d answers with status %d: %v\n%s", n, st, statuses, logs)
		}
	}
	if statuses[http.StatusServiceUnavailable] == 0 {
		t.Error("no 503 during the fault: the outage was not tested")
	}
	if len(badBodies) > 0 {
		t.Errorf("503 without transient/timeout or Retry-After: %s", badBodies[0])
	}
	if len(created) == 0 {
		t.Fatal("nothing created")
	}
	lost := 0
	for _, loc := range created {
		i := strings.Index(loc, "/Patient/")
		id := strings.Split(loc[i+len("/Patient/"):], "/")[0]
		if st, _ := call(t, "GET", base+"/fhir/Patient/"+id, token, "", nil); st != 200 {
			lost++
		}
	}
	if lost > 0 {
		t.Fatalf("%d of %d acknowledged creates lost", lost, len(created))
	}
	t.Logf("%d acknowledged creates (%d after the fault began), all readable afterwards", len(created), afterFault)
	return statuses, afterFault
}

// TestPostgresKilledUnderLoad: kill -9 of PostgreSQL (postmaster and
// backends) under concurrent creates, then a restart on the same data
// directory (crash recovery from the WAL): no acknowledged create is lost,
// the outage is 503 transient, and the gateway reconnects by itself.
func TestPostgresKilledUnderLoad(t *testing.T) {
	pg := pgtest.Start(t)
	_, dbURL := pg.NewDatabase(t)
	env := map[string]string{"DATABASE_URL": dbURL, "GATEWAY_RATE_LIMIT": "0", "GATEWAY_REQUEST_TIMEOUT": "3s"}
	base, stop, done, logs := startRun(t, env)
	defer func() { stop(); <-done }()
	createsUnderFault(t, base, mint(t, "demo-trust-rxa"), logs, func() {
		pg.Kill()
		time.Sleep(1500 * time.Millisecond)
		pg.Restart()
	})
}

// TestPostgresFailoverToSynchronousStandby: a primary with a synchronous
// standby (synchronous_standby_names = 'ANY 1 (standby1)', as the
// CloudNativePG manifest sets it) is killed under concurrent creates and
// the standby promoted. DATABASE_URL lists both hosts with
// target_session_attrs=read-write, so the gateway finds the new primary by
// itself: no acknowledged create is lost, the gap is 503 transient, and
// creates are acknowledged again after the promotion.
func TestPostgresFailoverToSynchronousStandby(t *testing.T) {
	primary := pgtest.Start(t)
	_, dbURL := primary.NewDatabase(t)
	standby := primary.StartStandby(t, "standby1")
	primary.SetSynchronousStandbys(t, "ANY 1 (standby1)", 1)
	failoverURL := primary.FailoverURL(t, dbURL, standby)
	env := map[string]string{"DATABASE_URL": failoverURL, "GATEWAY_RATE_LIMIT": "0", "GATEWAY_REQUEST_TIMEOUT": "3s"}
	base, stop, done, logs := startRun(t, env)
	defer func() { stop(); <-done }()
	_, after := createsUnderFault(t, base, mint(t, "demo-trust-rxa"), logs, func() {
		primary.Kill()
		time.Sleep(500 * time.Millisecond) // the failover manager notices
		standby.Promote(t)
	})
	if after == 0 {
		t.Fatal("no create was acknowledged after the promotion: the gateway did not follow the new primary")
	}
}
