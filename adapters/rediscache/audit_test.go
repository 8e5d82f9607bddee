package rediscache_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/dischargegateway/gateway/adapters/rediscache"
	"github.com/dischargegateway/gateway/auth"
)

// TestAuditSearchCountsEveryMatch records 250 entries (five patients in
// turn, two clients) and checks that Total counts every match whatever the
// page, that pages are disjoint and newest first, and what happens at the
// bound on entries read.
func TestAuditSearchCountsEveryMatch(t *testing.T) {
	both(t, func(t *testing.T, _ *rediscache.Store, rdb redis.UniversalClient) {
		ctx := context.Background()
		a := rediscache.NewAudit(rdb, time.Hour)
		now := time.Now().UTC()
		const n = 250
		for i := 0; i < n; i++ {
			if err := a.Record(ctx, auth.AuditEntry{Time: now, ClientID: fmt.Sprintf("c%d", i%2), Org: "RXA", Action: "R",
				ResourceType: "Patient", ResourceID: fmt.Sprintf("p%d", i%5), Status: 200, RequestID: fmt.Sprint(i)}); err != nil {
				t.Fatal(err)
			}
		}
		for _, tc := range []struct {
			name         string
			q            auth.AuditQuery
			bound, chunk int // 0: the production values
			total, page  int
			truncated    bool
			firstRequest string // the newest entry on the page
		}{
			{name: "all, first page", q: auth.AuditQuery{Count: 10}, total: n, page: 10, firstRequest: "249"},
			{name: "all, last page", q: auth.AuditQuery{Count: 10, Offset: 245}, total: n, page: 5, firstRequest: "4"},
			{name: "all, past the end", q: auth.AuditQuery{Count: 10, Offset: 1000}, total: n, page: 0},
			{name: "total only", q: auth.AuditQuery{Count: 0}, total: n, page: 0},
			{name: "entity", q: auth.AuditQuery{Entity: "Patient/p1", Count: 20, Offset: 40}, total: 50, page: 10, firstRequest: "46"},
			{name: "entity as a URL", q: auth.AuditQuery{Entity: "https://gw.example/fhir/Patient/p1", Count: 5}, total: 50, page: 5, firstRequest: "246"},
			{name: "entity type", q: auth.AuditQuery{Entity: "Patient", Count: 5}, total: n, page: 5, firstRequest: "249"},
			{name: "another type", q: auth.AuditQuery{Entity: "Encounter/p1", Count: 5}, total: 0, page: 0},
			{name: "agent", q: auth.AuditQuery{Agent: "c1", Count: 100}, total: 125, page: 100, firstRequest: "249"},
			{name: "agent and entity", q: auth.AuditQuery{Agent: "c0", Entity: "Patient/p1", Count: 100}, total: 25, page: 25, firstRequest: "246"},
			{name: "dates in the future", q: auth.AuditQuery{From: now.Add(time.Hour), Count: 10}, total: 0, page: 0},
			{name: "dates around now", q: auth.AuditQuery{From: now.Add(-time.Hour), To: now.Add(time.Hour), Count: 1}, total: n, page: 1, firstRequest: "249"},
			{name: "small chunks", q: auth.AuditQuery{Entity: "Patient/p1", Count: 3, Offset: 1}, bound: 1000, chunk: 7, total: 50, page: 3, firstRequest: "241"},
			{name: "bound reached exactly at the end", q: auth.AuditQuery{Entity: "Patient/p1", Count: 3}, bound: n, chunk: 7, total: 50, page: 3, firstRequest: "246"},
			{name: "bound reached: total unknown", q: auth.AuditQuery{Entity: "Patient/p1", Count: 3}, bound: 100, chunk: 7, total: -1, page: 3, truncated: true, firstRequest: "246"},
			{name: "bound reached, unfiltered: XLEN counts", q: auth.AuditQuery{Count: 3, Offset: 150}, bound: 100, chunk: 7, total: n, page: 0, truncated: true},
		} {
			t.Run(tc.name, func(t *testing.T) {
				var got auth.AuditPage
				var err error
				if tc.bound == 0 {
					got, err = a.Search(ctx, tc.q)
				} else {
					got, err = a.SearchBounded(ctx, tc.q, tc.bound, tc.chunk)
				}
				if err != nil {
					t.Fatal(err)
				}
				if got.Total != tc.total || len(got.Entries) != tc.page || got.Truncated != tc.truncated {
					t.Fatalf("total %d, %d entries, truncated %v; want %d, %d, %v", got.Total, len(got.Entries), got.Truncated, tc.total, tc.page, tc.truncated)
				}
				if tc.page > 0 && got.Entries[0].RequestID != tc.firstRequest {
					t.Errorf("first entry is request %s, want %s", got.Entries[0].RequestID, tc.firstRequest)
				}
				seen := map[string]bool{}
				for _, e := range got.Entries {
					if e.ID == "" || seen[e.ID] {
						t.Fatalf("entry id %q missing or repeated", e.ID)
					}
					seen[e.ID] = true
				}
			})
		}

		// Pages of one query are disjoint and together hold every match.
		seen := map[string]bool{}
		for off := 0; off < 50; off += 7 {
			p, err := a.SearchBounded(ctx, auth.AuditQuery{Entity: "Patient/p3", Count: 7, Offset: off}, 1000, 9)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range p.Entries {
				if seen[e.ID] || e.ResourceID != "p3" {
					t.Fatalf("entry %+v repeated or not a match", e)
				}
				seen[e.ID] = true
			}
		}
		if len(seen) != 50 {
			t.Fatalf("pages held %d of 50 matches", len(seen))
		}
	})
}
