package rediscache_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/dischargegateway/gateway/adapters/rediscache"
	"github.com/dischargegateway/gateway/fhir"
	"github.com/dischargegateway/gateway/internal/redistest"
)

// The store's costs against the raw Redis floor measured in the same run:
// one HSET (a write) and one HMGET (a read) from go-redis over loopback.

func benchStore(b *testing.B) (*rediscache.Store, *rediscache.Conn) {
	rs := redistest.Start(b)
	c, err := rediscache.Open(context.Background(), rediscache.Config{URL: rs.URL(), Timeout: 2 * time.Second})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })
	return rediscache.New(c.Client), c
}

var body = []byte(`{"resourceType":"Patient","id":"x","meta":{"versionId":"1"},"identifier":[{"system":"https://fhir.nhs.uk/Id/nhs-number","value":"9476719931"}],"name":[{"family":"Example","given":["Edith"]}],"birthDate":"1940-03-14"}`)

func BenchmarkRawHSET(b *testing.B) {
	_, c := benchStore(b)
	ctx := context.Background()
	for i := 0; i < b.N; i++ {
		if err := c.Client.HSet(ctx, fmt.Sprintf("raw:%d", i), "v", 1, "j", body).Err(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRawHMGET(b *testing.B) {
	_, c := benchStore(b)
	ctx := context.Background()
	c.Client.HSet(ctx, "raw", "v", 1, "j", body)
	for i := 0; i < b.N; i++ {
		if err := c.Client.HMGet(ctx, "raw", "v", "j").Err(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkStoreCommitCreate(b *testing.B) {
	s, _ := benchStore(b)
	ctx := context.Background()
	for i := 0; i < b.N; i++ {
		w := fhir.Write{Resource: res("Patient", fmt.Sprintf("p%d", i), 1, string(body)),
			Index: []fhir.IndexEntry{tok("identifier", "https://fhir.nhs.uk/Id/nhs-number|9476719931"), tok("identifier", "9476719931")}}
		if err := s.Commit(ctx, "bench", []fhir.Write{w}, nil); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkStoreRead(b *testing.B) {
	s, _ := benchStore(b)
	ctx := context.Background()
	_ = s.Commit(ctx, "bench", []fhir.Write{{Resource: res("Patient", "p", 1, string(body))}}, nil)
	for i := 0; i < b.N; i++ {
		if _, err := s.Read(ctx, "bench", "Patient", "p"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkStoreSearchToken finds one identifier among 1,000 Patients.
func BenchmarkStoreSearchToken(b *testing.B) {
	s, _ := benchStore(b)
	ctx := context.Background()
	for i := 0; i < 1000; i++ {
		_ = s.Commit(ctx, "bench", []fhir.Write{{Resource: res("Patient", fmt.Sprintf("p%d", i), 1, string(body)),
			Index: []fhir.IndexEntry{tok("identifier", fmt.Sprintf("mrn|%d", i))}}}, nil)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		q := fhir.Query{Type: "Patient", Count: 20, Filters: []fhir.Filter{{Param: "identifier", AnyOf: []string{fmt.Sprintf("mrn|%d", i%1000)}}}}
		if _, total, err := s.Search(ctx, "bench", q); err != nil || total != 1 {
			b.Fatal(total, err)
		}
	}
}
