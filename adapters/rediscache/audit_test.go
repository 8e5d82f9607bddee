package rediscache_test

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/dischargegateway/gateway/adapters/rediscache"
	"github.com/dischargegateway/gateway/auth"
)

func TestAuditRecordAndSearch(t *testing.T) {
	both(t, func(t *testing.T, _ *rediscache.Store, rdb redis.UniversalClient) {
		ctx := context.Background()
		a := rediscache.NewAudit(rdb, time.Hour)
		now := time.Now().UTC()
		for i, id := range []string{"p1", "p2", "p1"} {
			if err := a.Record(ctx, auth.AuditEntry{Time: now, ClientID: "c" + string(rune('0'+i%2)), Org: "RXA", Action: "R",
				ResourceType: "Patient", ResourceID: id, Status: 200, RequestID: "r"}); err != nil {
				t.Fatal(err)
			}
		}
		got, err := a.Search(ctx, auth.AuditQuery{Entity: "Patient/p1"})
		if err != nil || len(got) != 2 {
			t.Fatalf("%v %v", got, err)
		}
		got, err = a.Search(ctx, auth.AuditQuery{Agent: "c1"})
		if err != nil || len(got) != 1 || got[0].ResourceID != "p2" {
			t.Fatalf("%v %v", got, err)
		}
		got, err = a.Search(ctx, auth.AuditQuery{From: now.Add(time.Hour)})
		if err != nil || len(got) != 0 {
			t.Fatalf("%v %v", got, err)
		}
	})
}
