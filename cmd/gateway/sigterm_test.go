package main

import (
	"bytes"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/dischargegateway/gateway/internal/redistest"
)

// TestSIGTERMUnderLoad stops the gateway (SIGTERM's effect) while 8 clients
// post transaction Bundles: every request that got an answer got a whole
// one (200, or 503 once the listener closed; never a 5xx from a request cut
// short), run returns, and the store holds only whole transactions: each
// has its Encounter and ServiceRequest, or neither.
func TestSIGTERMUnderLoad(t *testing.T) {
	rs := redistest.Start(t)
	env := map[string]string{"REDIS_URL": rs.URL(), "GATEWAY_RATE_LIMIT": "0"}
	base, stop, done, logs := startRun(t, env)
	bundle, err := os.ReadFile(filepath.Join("..", "..", "gateway", "testdata", "bundle.json"))
	if err != nil {
		t.Fatal(err)
	}
	token := mint(t, "demo-trust-rxa")
	client := &http.Client{Timeout: 10 * time.Second}
	var mu sync.Mutex
	statuses := map[int]int{}
	var wg sync.WaitGroup
	quit := make(chan struct{})
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-quit:
					return
				default:
				}
				req, _ := http.NewRequest("POST", base+"/fhir", bytes.NewReader(bundle))
				req.Header.Set("Content-Type", "application/fhir+json")
				req.Header.Set("Authorization", "Bearer "+token)
				res, err := client.Do(req)
				if err != nil {
					// The listener is closed: no answer at all, nothing written
					// by this request (checked below).
					continue
				}
				io.Copy(io.Discard, res.Body)
				res.Body.Close()
				mu.Lock()
				statuses[res.StatusCode]++
				mu.Unlock()
			}
		}()
	}
	time.Sleep(800 * time.Millisecond)
	stop()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run: %v\n%s", err, logs)
		}
	case <-time.After(25 * time.Second):
		t.Fatal("run did not return after SIGTERM")
	}
	close(quit)
	wg.Wait()
	if statuses[http.StatusOK] == 0 {
		t.Fatalf("no transaction completed before the stop: %v", statuses)
	}
	for st, n := range statuses {
		if st != http.StatusOK && st != http.StatusServiceUnavailable {
			t.Fatalf("%d answers with status %d during shutdown: %v", n, st, statuses)
		}
	}
	// Whole transactions only: count each type's resources in the trust's
	// partition of the record.
	count := map[string]int64{}
	for _, typ := range []string{"Patient", "Encounter", "ServiceRequest"} {
		count[typ] = int64(recordCount(t, env, "RXA", typ))
	}
	// The Bundle creates its Patient conditionally (If-None-Exist on the
	// identifier), so there is one Patient and one Encounter and
	// ServiceRequest per transaction.
	if count["Patient"] != 1 || count["Encounter"] != count["ServiceRequest"] {
		t.Fatalf("half-written transactions: %v", count)
	}
	if int64(statuses[http.StatusOK]) > count["Encounter"] {
		t.Fatalf("%d acknowledged transactions but only %d stored", statuses[http.StatusOK], count["Encounter"])
	}
	t.Logf("answers during the run: %v; stored: %v", statuses, count)
}
