package rediscache_test

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/dischargegateway/gateway/adapters/rediscache"
	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/fhir"
)

func provider(org string, locs int) []fhir.Write {
	ws := []fhir.Write{{Resource: res("Organization", org, 1, `{"resourceType":"Organization","id":"`+org+`"}`),
		Index: []fhir.IndexEntry{tok("active", "true")}}}
	for i := 0; i < locs; i++ {
		id := fmt.Sprintf("%s-loc-%d", org, i)
		ws = append(ws,
			fhir.Write{Resource: res("Location", id, 1, `{"resourceType":"Location","id":"`+id+`"}`),
				Index: []fhir.IndexEntry{tok("organization", "Organization/"+org)}},
			fhir.Write{Resource: res("HealthcareService", id+"-care", 1, `{"resourceType":"HealthcareService"}`),
				Index: []fhir.IndexEntry{tok("organization", "Organization/"+org), tok("location", "Location/"+id)}})
	}
	return ws
}

// shardKeys lists which directory shards hold keys of a resource.
func shardsHolding(t *testing.T, rdb redis.UniversalClient, typ, id string) []string {
	t.Helper()
	var out []string
	for k, name := range rediscache.ShardPartitions(rediscache.DirectoryPartition, rediscache.DirectoryShards) {
		key := fmt.Sprintf("dg:{p:%s}:r:%s:%s", name, typ, id)
		if n, _ := rdb.Exists(context.Background(), key).Result(); n == 1 {
			out = append(out, fmt.Sprint(k))
		}
	}
	return out
}

// TestDirectoryIsSharded: the directory partition is spread over
// DirectoryShards slots; a provider's resources share one, so a
// transaction over them is atomic; a transaction over two providers is
// refused unless a partial commit is allowed; reads, many-reads, searches
// with paging and the generation work across shards.
func TestDirectoryIsSharded(t *testing.T) {
	both(t, func(t *testing.T, s *rediscache.Store, rdb redis.UniversalClient) {
		ctx := context.Background()
		const dir = rediscache.DirectoryPartition
		g0, err := s.Generation(ctx, dir)
		if err != nil {
			t.Fatal(err)
		}
		// One provider in one transaction: one shard.
		if err := s.Commit(ctx, dir, provider("org-a", 3), nil); err != nil {
			t.Fatal(err)
		}
		home := shardsHolding(t, rdb, "Organization", "org-a")
		if len(home) != 1 {
			t.Fatalf("org-a in shards %v", home)
		}
		for i := 0; i < 3; i++ {
			if got := shardsHolding(t, rdb, "HealthcareService", fmt.Sprintf("org-a-loc-%d-care", i)); strings.Join(got, ",") != home[0] {
				t.Fatalf("a service of org-a in shards %v, its organization in %v", got, home)
			}
		}
		// A later Location of the same provider joins its shard.
		later := provider("org-a", 4)[7:] // loc-3 and its service
		if err := s.Commit(ctx, dir, later, nil); err != nil {
			t.Fatal(err)
		}
		if got := shardsHolding(t, rdb, "Location", "org-a-loc-3"); strings.Join(got, ",") != home[0] {
			t.Fatalf("later location in %v, provider in %v", got, home)
		}
		// Two providers in one transaction: refused (and nothing written),
		// unless partial commits are allowed.
		var many []fhir.Write
		for i := 0; i < 30; i++ {
			many = append(many, provider(fmt.Sprintf("org-%02d", i), 1)...)
		}
		err = s.Commit(ctx, dir, many, nil)
		if discharge.ErrorKind(err) != discharge.KindBusinessRule {
			t.Fatalf("cross-shard transaction: want business-rule, got %v", err)
		}
		if _, err := s.Read(ctx, dir, "Organization", "org-00"); discharge.ErrorKind(err) != discharge.KindNotFound {
			t.Fatalf("a refused transaction wrote org-00: %v", err)
		}
		if err := s.CommitParts(ctx, dir, many); err != nil {
			t.Fatal(err)
		}
		used := map[string]bool{}
		for i := 0; i < 30; i++ {
			for _, k := range shardsHolding(t, rdb, "Organization", fmt.Sprintf("org-%02d", i)) {
				used[k] = true
			}
		}
		if len(used) < 8 {
			t.Fatalf("30 providers landed in only %d shards", len(used))
		}
		// Reads.
		r, err := s.Read(ctx, dir, "Location", "org-07-loc-0")
		if err != nil || r.ID != "org-07-loc-0" {
			t.Fatalf("read: %v %v", r, err)
		}
		m, err := s.ReadMany(ctx, dir, []fhir.Ref{{Type: "Organization", ID: "org-03"}, {Type: "Location", ID: "org-a-loc-1"}, {Type: "Location", ID: "nope"}})
		if err != nil || len(m) != 2 {
			t.Fatalf("read many: %d %v", len(m), err)
		}
		// Search across shards, with paging, in id order.
		var want []string
		for i := 0; i < 30; i++ {
			want = append(want, fmt.Sprintf("org-%02d", i))
		}
		want = append(want, "org-a")
		sort.Strings(want)
		var got []string
		for off := 0; ; off += 7 {
			page, total, err := s.Search(ctx, dir, fhir.Query{Type: "Organization", Offset: off, Count: 7,
				Filters: []fhir.Filter{{Param: "active", AnyOf: []string{"true"}}}})
			if err != nil {
				t.Fatal(err)
			}
			if total != 31 {
				t.Fatalf("total %d", total)
			}
			if len(page) == 0 {
				break
			}
			for _, p := range page {
				got = append(got, p.ID)
			}
		}
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Fatalf("paged search:\n got %v\nwant %v", got, want)
		}
		svc, _, err := s.Search(ctx, dir, fhir.Query{Type: "HealthcareService", Count: 10,
			Filters: []fhir.Filter{{Param: "location", AnyOf: []string{"Location/org-a-loc-2", "Location/org-11-loc-0"}}}})
		if err != nil || len(svc) != 2 {
			t.Fatalf("services by location across shards: %d %v", len(svc), err)
		}
		if g1, _ := s.Generation(ctx, dir); g1 <= g0 {
			t.Fatalf("generation %d after commits, was %d", g1, g0)
		}
		// The same store, told the directory is one slot, sees nothing of it.
		one := rediscache.New(rdb, rediscache.WithShards(dir, 1))
		if _, total, _ := one.Search(ctx, dir, fhir.Query{Type: "Organization"}); total != 0 {
			t.Fatalf("unsharded view found %d", total)
		}
	})
}
