package rediscache_test

import (
	"context"
	"fmt"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/dischargegateway/gateway/adapters/rediscache"
	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/fhir"
	"github.com/dischargegateway/gateway/internal/redistest"
)

// both runs a test against a real redis-server and against the embedded
// miniredis, which must behave the same for everything the store uses.
func both(t *testing.T, f func(t *testing.T, s *rediscache.Store, rdb redis.UniversalClient)) {
	t.Run("redis-server", func(t *testing.T) {
		target := redistest.Open(t) // a cluster or Sentinel with REDISTEST_MODE
		c, err := rediscache.Open(context.Background(), rediscache.Config{URL: target.URL, Addrs: target.Addrs,
			SentinelMaster: target.SentinelMaster, Timeout: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		f(t, rediscache.New(c.Client), c.Client)
	})
	t.Run("embedded", func(t *testing.T) {
		c, err := rediscache.Open(context.Background(), rediscache.Config{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		if !c.Embedded {
			t.Fatal("not embedded")
		}
		f(t, rediscache.New(c.Client), c.Client)
	})
}

func res(typ, id string, v int64, body string) fhir.Resource {
	return fhir.Resource{Type: typ, ID: id, VersionID: v, LastUpdated: time.Unix(1700000000, 0).UTC(),
		JSON: []byte(body)}
}

func tok(param, token string) fhir.IndexEntry { return fhir.IndexEntry{Param: param, Token: token} }

func kindOf(err error) discharge.Kind { return discharge.ErrorKind(err) }

func TestCommitReadHistoryAndCAS(t *testing.T) {
	both(t, func(t *testing.T, s *rediscache.Store, _ redis.UniversalClient) {
		ctx := context.Background()
		w1 := fhir.Write{Resource: res("Patient", "a", 1, `{"v":1}`), Index: []fhir.IndexEntry{tok("identifier", "x|1")}}
		if err := s.Commit(ctx, "p1", []fhir.Write{w1}, nil); err != nil {
			t.Fatal(err)
		}
		// Creating it again (expect 0) loses: nothing changes.
		if err := s.Commit(ctx, "p1", []fhir.Write{w1}, nil); kindOf(err) != discharge.KindRetry {
			t.Fatalf("second create: %v", err)
		}
		w2 := fhir.Write{Resource: res("Patient", "a", 2, `{"v":2}`), ExpectVersion: 1, Index: []fhir.IndexEntry{tok("identifier", "x|2")}}
		if err := s.Commit(ctx, "p1", []fhir.Write{w2}, nil); err != nil {
			t.Fatal(err)
		}
		stale := fhir.Write{Resource: res("Patient", "a", 2, `{"v":"stale"}`), ExpectVersion: 1}
		if err := s.Commit(ctx, "p1", []fhir.Write{stale}, nil); kindOf(err) != discharge.KindRetry {
			t.Fatalf("stale: %v", err)
		}
		r, err := s.Read(ctx, "p1", "Patient", "a")
		if err != nil || r.VersionID != 2 || string(r.JSON) != `{"v":2}` || !r.LastUpdated.Equal(time.Unix(1700000000, 0)) {
			t.Fatalf("read %+v %v", r, err)
		}
		h1, err := s.ReadVersion(ctx, "p1", "Patient", "a", 1)
		if err != nil || string(h1.JSON) != `{"v":1}` {
			t.Fatalf("vread 1: %s %v", h1.JSON, err)
		}
		if _, err := s.ReadVersion(ctx, "p1", "Patient", "a", 3); kindOf(err) != discharge.KindNotFound {
			t.Fatalf("vread 3: %v", err)
		}
		// The old identifier no longer matches; the new one does.
		for token, want := range map[string]int{"x|1": 0, "x|2": 1} {
			_, total, err := s.Search(ctx, "p1", fhir.Query{Type: "Patient", Filters: []fhir.Filter{{Param: "identifier", AnyOf: []string{token}}}, Count: 10})
			if err != nil || total != want {
				t.Fatalf("search %s: %d %v", token, total, err)
			}
		}
		// Partitions are isolated.
		if _, err := s.Read(ctx, "p2", "Patient", "a"); kindOf(err) != discharge.KindNotFound {
			t.Fatalf("other partition: %v", err)
		}
	})
}

func TestTransactionWritesAllOrNothing(t *testing.T) {
	both(t, func(t *testing.T, s *rediscache.Store, rdb redis.UniversalClient) {
		ctx := context.Background()
		before, _ := rdb.DBSize(ctx).Result()
		ws := []fhir.Write{
			{Resource: res("Patient", "p", 1, `{}`), Index: []fhir.IndexEntry{tok("identifier", "n|1")}},
			{Resource: res("Encounter", "e", 1, `{}`), Index: []fhir.IndexEntry{tok("patient", "Patient/p")}},
			{Resource: res("ServiceRequest", "s", 2, `{}`), ExpectVersion: 1}, // does not exist: fails
		}
		if err := s.Commit(ctx, "p", ws, nil); kindOf(err) != discharge.KindRetry {
			t.Fatalf("want retry, got %v", err)
		}
		after, _ := rdb.DBSize(ctx).Result()
		if after != before {
			t.Fatalf("a failed commit wrote %d keys", after-before)
		}
		ws[2] = fhir.Write{Resource: res("ServiceRequest", "s", 1, `{}`)}
		if err := s.Commit(ctx, "p", ws, nil); err != nil {
			t.Fatal(err)
		}
		for _, w := range ws {
			if _, err := s.Read(ctx, "p", w.Resource.Type, w.Resource.ID); err != nil {
				t.Fatalf("%s: %v", w.Resource.Type, err)
			}
		}
	})
}

func TestGuardMakesConditionalCreateRaceSafe(t *testing.T) {
	both(t, func(t *testing.T, s *rediscache.Store, _ redis.UniversalClient) {
		ctx := context.Background()
		var won, lost atomic.Int32
		var wg sync.WaitGroup
		for i := 0; i < 50; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				w := fhir.Write{Resource: res("Patient", fmt.Sprintf("id%d", i), 1, `{}`),
					Index: []fhir.IndexEntry{tok("identifier", "nhs|9476719931")}}
				err := s.Commit(ctx, "p", []fhir.Write{w}, []fhir.Guard{{Type: "Patient", Param: "identifier", Token: "nhs|9476719931"}})
				switch kindOf(err) {
				case discharge.KindRetry:
					lost.Add(1)
				default:
					if err != nil {
						t.Error(err)
						return
					}
					won.Add(1)
				}
			}(i)
		}
		wg.Wait()
		_, total, _ := s.Search(ctx, "p", fhir.Query{Type: "Patient"})
		if won.Load() != 1 || lost.Load() != 49 || total != 1 {
			t.Fatalf("won %d lost %d total %d", won.Load(), lost.Load(), total)
		}
	})
}

func TestSearchTokensRangesAndPaging(t *testing.T) {
	both(t, func(t *testing.T, s *rediscache.Store, _ redis.UniversalClient) {
		ctx := context.Background()
		day := func(d int) float64 { return float64(time.Date(2026, 1, d, 0, 0, 0, 0, time.UTC).Unix()) }
		var ws []fhir.Write
		for i := 1; i <= 9; i++ {
			status := "finished"
			if i%3 == 0 {
				status = "in-progress"
			}
			hi := day(i) + 3600
			if i == 9 {
				hi = math.Inf(1) // still open
			}
			ws = append(ws, fhir.Write{Resource: res("Encounter", fmt.Sprintf("e%d", i), 1, fmt.Sprintf(`{"n":%d}`, i)),
				Index: []fhir.IndexEntry{tok("status", status), tok("patient", "Patient/"+map[bool]string{true: "a", false: "b"}[i <= 5]),
					{Param: "date", Low: day(i), High: hi, IsRange: true}}})
		}
		if err := s.Commit(ctx, "p", ws, nil); err != nil {
			t.Fatal(err)
		}
		f := func(v float64) *float64 { return &v }
		tests := []struct {
			name    string
			filters []fhir.Filter
			want    string
		}{
			{"all", nil, "e1,e2,e3,e4,e5,e6,e7,e8,e9"},
			{"status", []fhir.Filter{{Param: "status", AnyOf: []string{"in-progress"}}}, "e3,e6,e9"},
			{"or", []fhir.Filter{{Param: "status", AnyOf: []string{"in-progress", "nope"}}}, "e3,e6,e9"},
			{"and", []fhir.Filter{{Param: "status", AnyOf: []string{"finished"}}, {Param: "patient", AnyOf: []string{"Patient/a"}}}, "e1,e2,e4,e5"},
			{"on or after day 8", []fhir.Filter{{Param: "date", Range: &fhir.RangeFilter{HighAtLeast: f(day(8))}}}, "e8,e9"},
			{"before day 3", []fhir.Filter{{Param: "date", Range: &fhir.RangeFilter{LowAtMost: f(day(3) - 1)}}}, "e1,e2"},
			{"open end overlaps the future", []fhir.Filter{{Param: "date", Range: &fhir.RangeFilter{LowAtMost: f(day(30)), HighAtLeast: f(day(29))}}}, "e9"},
			{"no match", []fhir.Filter{{Param: "status", AnyOf: []string{"cancelled"}}}, ""},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				got, total, err := s.Search(ctx, "p", fhir.Query{Type: "Encounter", Filters: tc.filters, Count: 100})
				if err != nil {
					t.Fatal(err)
				}
				var ids []string
				for _, r := range got {
					ids = append(ids, r.ID)
				}
				if strings.Join(ids, ",") != tc.want || total != len(ids) {
					t.Fatalf("got %v (total %d), want %s", ids, total, tc.want)
				}
			})
		}
		page, total, err := s.Search(ctx, "p", fhir.Query{Type: "Encounter", Offset: 4, Count: 3})
		if err != nil || total != 9 || len(page) != 3 || page[0].ID != "e5" || string(page[0].JSON) != `{"n":5}` {
			t.Fatalf("page %v total %d err %v", page, total, err)
		}
		if _, total, _ := s.Search(ctx, "p", fhir.Query{Type: "Encounter", Filters: tests[1].filters}); total != 3 {
			t.Fatalf("count-only total %d", total)
		}
	})
}

func TestRedisDownIsUnavailableThenRecovers(t *testing.T) {
	rs := redistest.Start(t)
	c, err := rediscache.Open(context.Background(), rediscache.Config{URL: rs.URL(), Timeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s := rediscache.New(c.Client)
	ctx := context.Background()
	rs.Kill()
	if err := s.Ping(ctx); kindOf(err) != discharge.KindUnavailable {
		t.Fatalf("ping with redis down: %v (%s)", err, kindOf(err))
	}
	if _, err := s.Read(ctx, "p", "Patient", "a"); kindOf(err) != discharge.KindUnavailable {
		t.Fatalf("read with redis down: %v", err)
	}
	rs.Restart()
	deadline := time.Now().Add(5 * time.Second)
	for s.Ping(ctx) != nil {
		if time.Now().After(deadline) {
			t.Fatal("did not recover")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestSlowRedisTimesOut(t *testing.T) {
	rs := redistest.Start(t, "--enable-debug-command", "yes")
	c, err := rediscache.Open(context.Background(), rediscache.Config{URL: rs.URL(), Timeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s := rediscache.New(c.Client)
	// Another client makes the server sleep.
	go rs.Client().Do(context.Background(), "DEBUG", "SLEEP", "1")
	time.Sleep(50 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = s.Read(ctx, "p", "Patient", "a")
	if k := kindOf(err); k != discharge.KindTimeout {
		t.Fatalf("want timeout, got %v (%s)", err, k)
	}
	if time.Since(start) > 600*time.Millisecond {
		t.Fatalf("the deadline was not applied: %v", time.Since(start))
	}
}

// TestPartitionKeysShareOneSlot commits to a plain server, then asks a
// cluster-enabled server (CLUSTER KEYSLOT needs cluster mode, not assigned
// slots) where each key lands: one partition's keys must share one slot,
// even when an id contains braces.
func TestPartitionKeysShareOneSlot(t *testing.T) {
	ctx := context.Background()
	cluster := redistest.Start(t, "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf")
	plain := redistest.Start(t)
	c, err := rediscache.Open(ctx, rediscache.Config{URL: plain.URL()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ws := []fhir.Write{
		{Resource: res("Patient", "p", 1, `{}`), Index: []fhir.IndexEntry{tok("identifier", "https://fhir.nhs.uk/Id/nhs-number|9476719931")}},
		{Resource: res("Encounter", "e{odd}", 1, `{}`), Index: []fhir.IndexEntry{tok("patient", "Patient/p"), {Param: "date", Low: 1, High: 2, IsRange: true}}},
	}
	if err := rediscache.New(c.Client).Commit(ctx, "RXX", ws, nil); err != nil {
		t.Fatal(err)
	}
	keys, err := plain.Client().Keys(ctx, "*").Result()
	if err != nil || len(keys) < 6 {
		t.Fatalf("keys %v %v", keys, err)
	}
	slot := int64(-1)
	for _, k := range keys {
		n, err := cluster.Client().ClusterKeySlot(ctx, k).Result()
		if err != nil {
			t.Fatal(err)
		}
		if slot == -1 {
			slot = n
		}
		if n != slot {
			t.Fatalf("key %q is in slot %d, others in %d", k, n, slot)
		}
	}
}

// startRedis returns a client of a private redis-server.
func startRedis(t *testing.T) redis.UniversalClient {
	rs := redistest.Start(t)
	c, err := rediscache.Open(context.Background(), rediscache.Config{URL: rs.URL()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c.Client
}
