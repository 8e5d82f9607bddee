package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/dischargegateway/gateway/internal/redistest"
)

// TestSentinelFailover runs the gateway unchanged against Sentinel
// (REDIS_ADDRS = the Sentinels, REDIS_MASTER), with writes acknowledged only
// once a replica holds them. The master is killed: Sentinel promotes the
// replica, the gateway answers 503 meanwhile and then writes to the new
// master by itself; when the old master comes back Sentinel makes it a
// replica, and every write acknowledged before the kill is still there.
func TestSentinelFailover(t *testing.T) {
	s := redistest.StartSentinel(t)
	base, stop, done, logs := startRun(t, map[string]string{
		"REDIS_ADDRS": strings.Join(s.Addrs(), ","), "REDIS_MASTER": redistest.SentinelMaster,
		"REDIS_WAIT_REPLICAS": "1", "REDIS_WAIT_TIMEOUT": "500ms", "REDIS_TIMEOUT": "500ms", "GATEWAY_RATE_LIMIT": "0"})
	defer func() { stop(); <-done }()
	token := mint(t, "demo-trust-rxa")
	post := func(i int) (int, string) {
		body := fmt.Sprintf(`{"resourceType":"Patient","identifier":[{"system":"urn:test","value":"s%d"}]}`, i)
		req, _ := http.NewRequest("POST", base+"/fhir/Patient", bytes.NewReader([]byte(body)))
		req.Header.Set("Content-Type", "application/fhir+json")
		req.Header.Set("Authorization", "Bearer "+token)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, ""
		}
		res.Body.Close()
		return res.StatusCode, res.Header.Get("Location")
	}
	get := func(loc string) int {
		req, _ := http.NewRequest("GET", loc, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0
		}
		res.Body.Close()
		return res.StatusCode
	}
	var acked []string
	for i := 0; i < 30; i++ {
		st, loc := post(i)
		if st != http.StatusCreated {
			t.Fatalf("write %d before the fault: %d\n%s", i, st, logs)
		}
		acked = append(acked, loc)
	}
	s.Master.Kill()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.WaitFailover(ctx); err != nil {
		t.Fatal(err)
	}
	// The old master returns; Sentinel turns it into the new master's
	// replica, so WAIT 1 can be met again.
	s.Master.Restart()
	statuses := map[int]int{}
	for i := 100; ; i++ {
		st, loc := post(i)
		statuses[st]++
		if st == http.StatusCreated {
			acked = append(acked, loc)
			break
		}
		if st != http.StatusServiceUnavailable {
			t.Fatalf("during failover: status %d (want 503 or 201)", st)
		}
		if ctx.Err() != nil {
			t.Fatalf("no write succeeded after the failover: %v\n%s", statuses, logs)
		}
		time.Sleep(200 * time.Millisecond)
	}
	for _, loc := range acked {
		if st := get(loc); st != http.StatusOK {
			t.Fatalf("acknowledged %s lost across the failover: %d", loc, st)
		}
	}
	t.Logf("%d acknowledged writes readable after failover; answers while failing over: %v", len(acked), statuses)
}
