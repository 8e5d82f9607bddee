package rediscache_test

import (
	"context"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/dischargegateway/gateway/adapters/rediscache"
	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/fhir"
)

// TestStoreEmptyAndExtremeInputs drives every Store method with empty and
// out-of-range inputs: none may fail with anything but the documented
// kinds, and none may change what is stored. (An empty transaction used to
// reach the commit script with a null plan and came back as a 500.)
func TestStoreEmptyAndExtremeInputs(t *testing.T) {
	both(t, func(t *testing.T, s *rediscache.Store, _ redis.UniversalClient) {
		ctx := context.Background()
		var ws []fhir.Write
		for i := 1; i <= 3; i++ {
			ws = append(ws, fhir.Write{Resource: res("Patient", fmt.Sprintf("p%d", i), 1, fmt.Sprintf(`{"n":%d}`, i)),
				Index: []fhir.IndexEntry{tok("identifier", "x|1")}})
		}
		if err := s.Commit(ctx, "p", ws, nil); err != nil {
			t.Fatal(err)
		}
		gen, err := s.Generation(ctx, "p")
		if err != nil {
			t.Fatal(err)
		}
		commits := []struct {
			name   string
			writes []fhir.Write
			guards []fhir.Guard
		}{
			{"nil writes, nil guards", nil, nil},
			{"empty writes, empty guards", []fhir.Write{}, []fhir.Guard{}},
			{"guards without writes", nil, []fhir.Guard{{Type: "Patient", Param: "identifier", Token: "x|1"}}},
		}
		for _, tc := range commits {
			t.Run("Commit/"+tc.name, func(t *testing.T) {
				if err := s.Commit(ctx, "p", tc.writes, tc.guards); err != nil {
					t.Fatalf("err %v", err)
				}
				if err := s.Commit(ctx, "never-written", tc.writes, tc.guards); err != nil {
					t.Fatalf("empty partition: err %v", err)
				}
				if g, _ := s.Generation(ctx, "p"); g != gen {
					t.Fatalf("generation moved %d -> %d for an empty commit", gen, g)
				}
			})
		}
		t.Run("Commit/write without index entries", func(t *testing.T) {
			w := fhir.Write{Resource: res("Patient", "bare", 1, `{}`)}
			if err := s.Commit(ctx, "q", []fhir.Write{w}, []fhir.Guard{}); err != nil {
				t.Fatal(err)
			}
		})

		searches := []struct {
			name      string
			q         fhir.Query
			wantIDs   string
			wantTotal int
		}{
			{"no filters", fhir.Query{Type: "Patient", Count: 10}, "p1,p2,p3", 3},
			{"count 0 gives only the total", fhir.Query{Type: "Patient"}, "", 3},
			{"negative offset and count", fhir.Query{Type: "Patient", Offset: -5, Count: -1}, "", 3},
			{"offset at the end", fhir.Query{Type: "Patient", Offset: 3, Count: 10}, "", 3},
			{"offset past the end", fhir.Query{Type: "Patient", Offset: 100000000000000000, Count: 10}, "", 3},
			{"largest offset", fhir.Query{Type: "Patient", Offset: math.MaxInt, Count: math.MaxInt}, "", 3},
			{"largest count", fhir.Query{Type: "Patient", Offset: 1, Count: math.MaxInt}, "p2,p3", 3},
			{"filtered, offset past the end", fhir.Query{Type: "Patient", Offset: 100000000000000000, Count: 10,
				Filters: []fhir.Filter{{Param: "identifier", AnyOf: []string{"x|1"}}}}, "", 3},
			{"filtered, largest count", fhir.Query{Type: "Patient", Offset: 2, Count: math.MaxInt,
				Filters: []fhir.Filter{{Param: "identifier", AnyOf: []string{"x|1"}}}}, "p3", 3},
			{"token filter with no values matches nothing", fhir.Query{Type: "Patient", Count: 10,
				Filters: []fhir.Filter{{Param: "identifier"}}}, "", 0},
			{"empty token value", fhir.Query{Type: "Patient", Count: 10,
				Filters: []fhir.Filter{{Param: "identifier", AnyOf: []string{""}}}}, "", 0},
			{"_id with no ids matches nothing", fhir.Query{Type: "Patient", Count: 10,
				Filters: []fhir.Filter{{Param: "_id"}}}, "", 0},
			{"_id filters are ANDed", fhir.Query{Type: "Patient", Count: 10,
				Filters: []fhir.Filter{{Param: "_id", AnyOf: []string{"p1", "p2"}}, {Param: "_id", AnyOf: []string{"p2", "p3"}}}}, "p2", 1},
			{"range filter without bounds", fhir.Query{Type: "Patient", Count: 10,
				Filters: []fhir.Filter{{Param: "date", Range: &fhir.RangeFilter{}}}}, "p1,p2,p3", 3},
			{"empty type", fhir.Query{Count: 10}, "", 0},
			{"type never written", fhir.Query{Type: "Encounter", Count: 10, Offset: 5}, "", 0},
		}
		for _, tc := range searches {
			t.Run("Search/"+tc.name, func(t *testing.T) {
				got, total, err := s.Search(ctx, "p", tc.q)
				if err != nil {
					t.Fatal(err)
				}
				var ids []string
				for _, r := range got {
					ids = append(ids, r.ID)
				}
				if strings.Join(ids, ",") != tc.wantIDs || total != tc.wantTotal {
					t.Fatalf("got %v total %d, want %q total %d", ids, total, tc.wantIDs, tc.wantTotal)
				}
			})
		}

		reads := []struct {
			name string
			refs []fhir.Ref
			want int
		}{
			{"nil", nil, 0},
			{"empty", []fhir.Ref{}, 0},
			{"empty ref", []fhir.Ref{{}}, 0},
			{"empty id", []fhir.Ref{{Type: "Patient"}}, 0},
			{"mixed", []fhir.Ref{{Type: "Patient", ID: "p1"}, {}, {Type: "Patient", ID: "nope"}}, 1},
		}
		for _, tc := range reads {
			t.Run("ReadMany/"+tc.name, func(t *testing.T) {
				got, err := s.ReadMany(ctx, "p", tc.refs)
				if err != nil || len(got) != tc.want {
					t.Fatalf("got %d, err %v; want %d", len(got), err, tc.want)
				}
			})
		}
		t.Run("Read/empty id", func(t *testing.T) {
			if _, err := s.Read(ctx, "p", "Patient", ""); kindOf(err) != discharge.KindNotFound {
				t.Fatalf("err %v", err)
			}
			if _, err := s.ReadVersion(ctx, "p", "Patient", "p1", 0); kindOf(err) != discharge.KindNotFound {
				t.Fatalf("version 0: err %v", err)
			}
			if _, _, err := s.History(ctx, "p", "Patient", "", 0, 10); kindOf(err) != discharge.KindNotFound {
				t.Fatalf("history: err %v", err)
			}
		})
		t.Run("Generation/never written", func(t *testing.T) {
			if g, err := s.Generation(ctx, "never-written"); err != nil || g != 0 {
				t.Fatalf("gen %d err %v", g, err)
			}
		})
		if got, total, _ := s.Search(ctx, "p", fhir.Query{Type: "Patient", Count: 10}); total != 3 || len(got) != 3 {
			t.Fatalf("the empty inputs changed what is stored: total %d", total)
		}
	})
}

// TestHistoryPagesNewestFirst checks History's order, total and paging
// bounds.
func TestHistoryPagesNewestFirst(t *testing.T) {
	both(t, func(t *testing.T, s *rediscache.Store, _ redis.UniversalClient) {
		ctx := context.Background()
		for v := int64(1); v <= 5; v++ {
			w := fhir.Write{Resource: res("Patient", "h", v, fmt.Sprintf(`{"v":%d}`, v)), ExpectVersion: v - 1}
			if err := s.Commit(ctx, "p", []fhir.Write{w}, nil); err != nil {
				t.Fatal(err)
			}
		}
		tests := []struct {
			offset, count int
			want          string
		}{
			{0, 10, "5,4,3,2,1"},
			{0, 2, "5,4"},
			{2, 2, "3,2"},
			{4, 2, "1"},
			{5, 2, ""},
			{math.MaxInt, math.MaxInt, ""},
			{1, math.MaxInt, "4,3,2,1"},
			{0, 0, ""},
			{-1, -1, ""},
		}
		for _, tc := range tests {
			t.Run(fmt.Sprintf("offset %d count %d", tc.offset, tc.count), func(t *testing.T) {
				got, total, err := s.History(ctx, "p", "Patient", "h", tc.offset, tc.count)
				if err != nil || total != 5 {
					t.Fatalf("total %d err %v", total, err)
				}
				var vs []string
				for _, r := range got {
					if string(r.JSON) != fmt.Sprintf(`{"v":%d}`, r.VersionID) || r.LastUpdated.IsZero() {
						t.Fatalf("version %d: %s at %v", r.VersionID, r.JSON, r.LastUpdated)
					}
					vs = append(vs, fmt.Sprint(r.VersionID))
				}
				if strings.Join(vs, ",") != tc.want {
					t.Fatalf("got %v want %s", vs, tc.want)
				}
			})
		}
		if _, _, err := s.History(ctx, "p", "Patient", "absent", 0, 10); kindOf(err) != discharge.KindNotFound {
			t.Fatalf("absent: %v", err)
		}
	})
}

// TestShardedStoreEmptyAndExtremeInputs is the same sweep over a sharded
// partition, whose Commit, Search and ReadMany take their own paths.
func TestShardedStoreEmptyAndExtremeInputs(t *testing.T) {
	both(t, func(t *testing.T, _ *rediscache.Store, rdb redis.UniversalClient) {
		ctx := context.Background()
		s := rediscache.New(rdb, rediscache.WithShards("dir", 4))
		var ws []fhir.Write
		for i := 1; i <= 3; i++ {
			ws = append(ws, fhir.Write{Resource: res("Organization", fmt.Sprintf("o%d", i), 1, `{}`)})
		}
		if err := s.CommitParts(ctx, "dir", ws); err != nil {
			t.Fatal(err)
		}
		if err := s.Commit(ctx, "dir", nil, nil); err != nil {
			t.Fatalf("empty commit: %v", err)
		}
		if err := s.CommitParts(ctx, "dir", nil); err != nil {
			t.Fatalf("empty partial commit: %v", err)
		}
		if got, err := s.ReadMany(ctx, "dir", nil); err != nil || len(got) != 0 {
			t.Fatalf("ReadMany(nil): %v %v", got, err)
		}
		for _, q := range []fhir.Query{
			{Type: "Organization", Offset: 100000000000000000, Count: 10},
			{Type: "Organization", Offset: math.MaxInt, Count: math.MaxInt},
			{Type: "Organization", Offset: 1, Count: math.MaxInt},
		} {
			got, total, err := s.Search(ctx, "dir", q)
			want := max(0, min(3-min(q.Offset, 3), 3))
			if err != nil || total != 3 || len(got) != want {
				t.Fatalf("%+v: %d results, total %d, err %v; want %d", q, len(got), total, err, want)
			}
		}
		if _, total, err := s.History(ctx, "dir", "Organization", "o2", 0, 10); err != nil || total != 1 {
			t.Fatalf("history total %d err %v", total, err)
		}
	})
}

// TestCapacityStoreEmptyInputs sweeps the capacity store's methods and
// scripts with empty inputs: no ids, no areas, no bed types, no history.
func TestCapacityStoreEmptyInputs(t *testing.T) {
	both(t, func(t *testing.T, _ *rediscache.Store, rdb redis.UniversalClient) {
		ctx := context.Background()
		cs := rediscache.NewCapacityStore(rdb, 10)
		if got, err := cs.Get(ctx); err != nil || len(got) != 0 {
			t.Fatalf("Get(): %v %v", got, err)
		}
		if got, err := cs.Get(ctx, "", "never-posted"); err != nil || len(got) != 0 {
			t.Fatalf("Get(absent): %v %v", got, err)
		}
		if got, err := cs.Versions(ctx); err != nil || len(got) != 0 {
			t.Fatalf("Versions(): %v %v", got, err)
		}
		if got, err := cs.Versions(ctx, ""); err != nil || len(got) != 1 || got[0] != 0 {
			t.Fatalf("Versions(\"\"): %v %v", got, err)
		}
		for _, n := range []int64{0, 1, -1} {
			if got, err := cs.History(ctx, "never-posted", n); err != nil || len(got) != 0 {
				t.Fatalf("History(n=%d): %v %v", n, got, err)
			}
		}
		if got, err := cs.Near(ctx, nil, nil, 53.4, -2.2, 10, 0); err != nil || len(got) != 0 {
			t.Fatalf("Near(no areas): %v %v", got, err)
		}
		if got, err := cs.Near(ctx, []string{"M"}, nil, 53.4, -2.2, 10, 5); err != nil || len(got) != 0 {
			t.Fatalf("Near(no bed types): %v %v", got, err)
		}
		if got, err := cs.NearLocations(ctx, nil, 53.4, -2.2, 10, 0); err != nil || len(got) != 0 {
			t.Fatalf("NearLocations(no areas): %v %v", got, err)
		}
		if got, err := cs.NearLocations(ctx, []string{"", "M"}, 53.4, -2.2, 10, 0); err != nil || len(got) != 0 {
			t.Fatalf("NearLocations(empty area, no limit): %v %v", got, err)
		}
		if got, err := cs.Covering(ctx, ""); err != nil || len(got) != 0 {
			t.Fatalf("Covering(\"\"): %v %v", got, err)
		}
	})
}
