package rediscache_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/dischargegateway/gateway/adapters/rediscache"
	"github.com/dischargegateway/gateway/auth"
)

// BenchmarkAuditSearchFullStream times one audit search that must read
// 200,000 entries (the bound) to count its matches: the worst case an admin
// search costs. The figure is in the README (Security and tenancy, Audit).
func BenchmarkAuditSearchFullStream(b *testing.B) {
	_, c := benchStore(b)
	ctx := context.Background()
	const n = 200000
	now := time.Now().UTC()
	for i := 0; i < n; i += 1000 {
		pipe := c.Client.Pipeline()
		for j := i; j < i+1000; j++ {
			raw, _ := json.Marshal(auth.AuditEntry{Time: now, ClientID: fmt.Sprintf("client-%d", j%7), Org: "RXA", Role: auth.RoleTrust,
				Action: "R", Interaction: "read", ResourceType: "Encounter", ResourceID: fmt.Sprintf("enc-%06d", j%5000), Status: 200,
				RequestID: fmt.Sprintf("req-%d", j)})
			pipe.XAdd(ctx, &redis.XAddArgs{Stream: "dg:{audit}:events", Values: []any{"e", raw}})
		}
		if _, err := pipe.Exec(ctx); err != nil {
			b.Fatal(err)
		}
	}
	a := rediscache.NewAudit(c.Client, time.Hour)
	for _, q := range []struct {
		name string
		q    auth.AuditQuery
	}{
		{"entity", auth.AuditQuery{Entity: "Encounter/enc-000042", Count: 20}},
		{"agent", auth.AuditQuery{Agent: "client-3", Count: 20}},
		{"date only", auth.AuditQuery{From: now.Add(-time.Hour), Count: 20}},
	} {
		b.Run(q.name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				p, err := a.Search(ctx, q.q)
				if err != nil || p.Truncated || p.Total <= 0 {
					b.Fatalf("%+v %v", p.Total, err)
				}
			}
		})
	}
}
