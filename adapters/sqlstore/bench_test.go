package sqlstore_test

import (
	"context"
	"flag"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/dischargegateway/gateway/adapters/sqlstore"
	"github.com/dischargegateway/gateway/auth"
	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/fhir"
	"github.com/dischargegateway/gateway/internal/pgtest"
)

// patientJSON is a Patient of the size the gateway stores (about 1.2 kB).
const patientJSON = `{"resourceType":"Patient","id":"%s","meta":{"versionId":"1","lastUpdated":"2026-11-29T10:00:00Z"},` +
	`"identifier":[{"system":"https://fhir.nhs.uk/Id/nhs-number","value":"9476719931"},{"system":"urn:oid:2.16.840.1.113883.2.1.4.1","value":"RXA-000123"}],` +
	`"active":true,"name":[{"use":"official","family":"Smith","given":["Alexandra","Jane"],"prefix":["Ms"]}],` +
	`"telecom":[{"system":"phone","value":"01632 960 001","use":"home"},{"system":"email","value":"a.smith@example.org"}],` +
	`"gender":"female","birthDate":"1948-03-14","address":[{"use":"home","line":["1 High Street","Flat 2"],"city":"Leeds","postalCode":"LS1 4AP","country":"GB"}],` +
	`"contact":[{"relationship":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v2-0131","code":"N"}]}],"name":{"family":"Smith","given":["Robert"]},` +
	`"telecom":[{"system":"phone","value":"01632 960 002"}]}],"generalPractitioner":[{"reference":"Organization/B82005"}],` +
	`"managingOrganization":{"reference":"Organization/RXA"},"communication":[{"language":{"coding":[{"system":"urn:ietf:bcp:47","code":"en-GB"}]},"preferred":true}]}`

func patientWrite(id string) fhir.Write {
	return fhir.Write{
		Resource: fhir.Resource{Type: "Patient", ID: id, VersionID: 1, LastUpdated: time.Now(), JSON: fmt.Appendf(nil, patientJSON, id)},
		Index: []fhir.IndexEntry{
			tok("identifier", "https://fhir.nhs.uk/Id/nhs-number|9476719931"), tok("identifier", "9476719931"),
			tok("identifier", "urn:oid:2.16.840.1.113883.2.1.4.1|RXA-000123"), tok("family", "smith"), tok("given", "alexandra"),
			tok("given", "jane"), tok("gender", "female"), tok("general-practitioner", "Organization/B82005"),
			{Param: "birthdate", Low: 1948, High: 1949, IsRange: true},
		},
	}
}

// searchCount is how many Patients the search case searches among.
const searchCount = 1000

// searchPatients are searchCount Patients with NHS numbers of their own.
func searchPatients() []fhir.Write {
	ws := make([]fhir.Write, searchCount)
	for i := range ws {
		ws[i] = patientWrite(fmt.Sprint("s", i))
		ws[i].Index[0] = tok("identifier", nhsToken(i))
	}
	return ws
}

// servicesCount is how many HealthcareServices, each at a Location of
// its own, the services case searches among.
const servicesCount = 25000

// loadServices commits servicesCount HealthcareServices to the directory
// partition (unless an earlier round did) and, on PostgreSQL, gathers
// statistics as autovacuum would.
func loadServices(b *testing.B, s *sqlstore.Store, raw *pgx.Conn, postgres bool) {
	ctx := context.Background()
	const chunk = 1000
	for start := 0; start < servicesCount; start += chunk {
		ws := make([]fhir.Write, chunk)
		for i := range ws {
			id := fmt.Sprintf("hs%05d", start+i)
			ws[i] = fhir.Write{Resource: fhir.Resource{Type: "HealthcareService", ID: id, VersionID: 1, LastUpdated: time.Now(),
				JSON: fmt.Appendf(nil, `{"resourceType":"HealthcareService","id":%q,"location":[{"reference":"Location/L%05d"}]}`, id, start+i)},
				Index: []fhir.IndexEntry{tok("location", fmt.Sprintf("Location/L%05d", start+i))}}
		}
		if err := s.Commit(ctx, "directory", ws, nil); err != nil && discharge.ErrorKind(err) != discharge.KindRetry {
			b.Fatal(err) // KindRetry: loaded by an earlier round
		}
	}
	if postgres {
		if _, err := raw.Exec(ctx, "ANALYZE"); err != nil {
			b.Fatal(err)
		}
	}
}

// serviceLocations are n Location tokens spread over the services'.
func serviceLocations(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("Location/L%05d", i*(servicesCount/n))
	}
	return out
}

func nhsToken(i int) string { return fmt.Sprintf("https://fhir.nhs.uk/Id/nhs-number|%010d", i) }

// BenchmarkStore compares the store's Commit and Read with a raw INSERT
// and SELECT of the same JSON through pgx in the same run, so the store's
// own cost (transaction, partition setting, history and index rows) shows;
// search is a token search with its total (Patient?identifier= among
// searchCount).
// The parallel cases run parallelClients goroutines into one partition,
// as one trust's intake does, against raw INSERTs from as many pooled
// connections: with synchronous_commit on, what they measure is how well
// concurrent commits share a WAL flush (group commit). audit-parallel is
// the audit row every audited request writes; create+audit-parallel is
// both, a create's whole work in the record.
func BenchmarkStore(b *testing.B) {
	ctx := context.Background()
	pg := pgtest.Start(b)
	_, url := pg.NewDatabase(b)
	stores := map[string]*sqlstore.Store{}
	for name, open := range map[string]func() (*sqlstore.Store, error){
		"postgres": func() (*sqlstore.Store, error) { return sqlstore.Open(ctx, url, "") },
		"sqlite":   func() (*sqlstore.Store, error) { return sqlstore.Open(ctx, "", b.TempDir()) },
	} {
		s, err := open()
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { s.Close() })
		stores[name] = s
	}
	raw, err := pgx.Connect(ctx, url)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { raw.Close(ctx) })
	for _, name := range []string{"postgres", "sqlite"} {
		s := stores[name]
		b.Run(name+"/commit", func(b *testing.B) {
			for i := 0; b.Loop(); i++ {
				if err := s.Commit(ctx, "bench", []fhir.Write{patientWrite(fmt.Sprintf("c%d", i))}, nil); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(name+"/commit-parallel", func(b *testing.B) {
			parallel(b, func() error {
				return s.Commit(ctx, "bench", []fhir.Write{patientWrite(fmt.Sprintf("p%d", seq.Add(1)))}, nil)
			})
		})
		audit := sqlstore.NewAudit(s)
		b.Run(name+"/audit-parallel", func(b *testing.B) {
			parallel(b, func() error { return audit.Record(ctx, auditEntry()) })
		})
		b.Run(name+"/create+audit-parallel", func(b *testing.B) {
			parallel(b, func() error {
				if err := s.Commit(ctx, "bench", []fhir.Write{patientWrite(fmt.Sprintf("p%d", seq.Add(1)))}, nil); err != nil {
					return err
				}
				return audit.Record(ctx, auditEntry())
			})
		})
		b.Run(name+"/read", func(b *testing.B) {
			if err := s.Commit(ctx, "bench", []fhir.Write{patientWrite("r")}, nil); err != nil && discharge.ErrorKind(err) != discharge.KindRetry {
				b.Fatal(err) // KindRetry: written by an earlier round
			}
			for b.Loop() {
				if _, err := s.Read(ctx, "bench", "Patient", "r"); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(name+"/search", func(b *testing.B) {
			// Patient?identifier= among searchPatients, as the gateway's
			// intake looks a patient up: one match, with its total.
			if err := s.Commit(ctx, "search", searchPatients(), nil); err != nil && discharge.ErrorKind(err) != discharge.KindRetry {
				b.Fatal(err) // KindRetry: loaded by an earlier round
			}
			if name == "postgres" {
				// Statistics, as autovacuum gathers them after a load: before
				// the first ANALYZE the planner walks the partition's
				// resources per search (see TestTokenSearchPlan).
				if _, err := raw.Exec(ctx, "ANALYZE"); err != nil {
					b.Fatal(err)
				}
			}
			q := fhir.Query{Type: "Patient", Count: 10, Filters: []fhir.Filter{{Param: "identifier", AnyOf: []string{nhsToken(777)}}}}
			for b.Loop() {
				if page, total, err := s.Search(ctx, "search", q); err != nil || total != 1 || len(page) != 1 {
					b.Fatal(total, err)
				}
			}
		})
		// placement's loadProviders: the HealthcareServices at 500 of
		// servicesCount Locations, one page of up to 1000, with the total
		// and without it (fhir.Query.NoTotal).
		loaded := false
		for _, counted := range []bool{true, false} {
			b.Run(name+"/services-at-500-locations/"+map[bool]string{true: "with-total", false: "no-total"}[counted], func(b *testing.B) {
				if !loaded {
					loadServices(b, s, raw, name == "postgres")
					loaded = true
				}
				q := fhir.Query{Type: "HealthcareService", Count: 1000, NoTotal: !counted,
					Filters: []fhir.Filter{{Param: "location", AnyOf: serviceLocations(500)}}}
				for b.Loop() {
					if page, total, err := s.Search(ctx, "directory", q); err != nil || len(page) != 500 || (counted && total != 500) {
						b.Fatal(len(page), total, err)
					}
				}
			})
		}
	}
	if _, err := raw.Exec(ctx, "CREATE TABLE raw_resources (partition TEXT, type TEXT, id TEXT, body TEXT, PRIMARY KEY (partition, type, id))"); err != nil {
		b.Fatal(err)
	}
	b.Run("postgres/raw-insert", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			id := fmt.Sprintf("c%d", i)
			if _, err := raw.Exec(ctx, "INSERT INTO raw_resources VALUES ($1, $2, $3, $4)", "bench", "Patient", id, fmt.Sprintf(patientJSON, id)); err != nil {
				b.Fatal(err)
			}
		}
	})
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(pool.Close)
	b.Run("postgres/raw-insert-parallel", func(b *testing.B) {
		parallel(b, func() error {
			id := fmt.Sprintf("p%d", seq.Add(1))
			_, err := pool.Exec(ctx, "INSERT INTO raw_resources VALUES ($1, $2, $3, $4)", "bench", "Patient", id, fmt.Sprintf(patientJSON, id))
			return err
		})
	})
	b.Run("postgres/raw-select", func(b *testing.B) {
		if _, err := raw.Exec(ctx, "INSERT INTO raw_resources VALUES ('bench', 'Patient', 'r', $1) ON CONFLICT DO NOTHING", fmt.Sprintf(patientJSON, "r")); err != nil {
			b.Fatal(err)
		}
		var body string
		for b.Loop() {
			if err := raw.QueryRow(ctx, "SELECT body FROM raw_resources WHERE partition = $1 AND type = $2 AND id = $3", "bench", "Patient", "r").Scan(&body); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// seq numbers the parallel cases' resources: a case runs several times
// (once per b.N tried), and no id may come twice.
var seq atomic.Int64

// parallelClients is how many goroutines the parallel cases run
// (-sqlstore.clients; rounded down to a multiple of GOMAXPROCS).
var parallelClients = flag.Int("sqlstore.clients", 8, "goroutines of the parallel store benchmarks")

// parallel runs op from parallelClients goroutines until the benchmark
// has its count.
//
// It reports each op's latency too (p50-ms, p99-ms): on SQLite the
// writers' tail is where the store's write gate shows (store.go).
func parallel(b *testing.B, op func() error) {
	b.SetParallelism(max(1, *parallelClients/runtime.GOMAXPROCS(0)))
	var mu sync.Mutex
	var all []time.Duration
	b.RunParallel(func(pb *testing.PB) {
		var took []time.Duration
		defer func() {
			mu.Lock()
			all = append(all, took...)
			mu.Unlock()
		}()
		for pb.Next() {
			start := time.Now()
			if err := op(); err != nil {
				b.Error(err)
				return
			}
			took = append(took, time.Since(start))
		}
	})
	if len(all) > 0 {
		slices.Sort(all)
		b.ReportMetric(float64(all[len(all)/2].Microseconds())/1000, "p50-ms")
		b.ReportMetric(float64(all[len(all)*99/100].Microseconds())/1000, "p99-ms")
	}
}

// auditEntry is a read's audit entry, as the gateway records one.
func auditEntry() auth.AuditEntry {
	return auth.AuditEntry{Time: time.Now(), ClientID: "bench-client", Org: "RXA", Role: auth.Role("clinician"), Action: "R",
		Interaction: "read", ResourceType: "Patient", ResourceID: "r", Status: 200, RequestID: "bench-request"}
}
