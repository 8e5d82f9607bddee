package referral_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/dischargegateway/gateway/auth"
	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/fhir"
	"github.com/dischargegateway/gateway/internal/pgtest"
	"github.com/dischargegateway/gateway/mappings"
)

// BenchmarkAccept measures accepting an offer with its hold (the Task's
// new version, its offer row, the hold under its lock, the case event and
// the outbox row, in one transaction) on SQLite and PostgreSQL, from the
// concurrent callers of benchCallers (of eight trusts), against a raw
// UPDATE of one row on the same engine in the same run. Offers are sent
// before the clock starts. Caller c answers as provider P(c+1), so each
// caller holds beds at a home of its own (accepts for one home are
// serialised by its hold lock, by design). Run it with a fixed -benchtime
// such as 4000x: a home's active holds are counted at each accept. The
// baselines are a raw UPDATE of one row by one caller and by as many as
// the accepts have (sharing at most 64 connections): the floor at the
// accepts' concurrency.
func BenchmarkAccept(b *testing.B) {
	ctx := context.Background()
	var trusts []string
	for i := range 8 {
		trusts = append(trusts, fmt.Sprintf("B%02d", i))
	}
	for _, pg := range []bool{false, true} {
		engine := "sqlite"
		if pg {
			engine = "postgres"
		}
		for _, callers := range benchCallers() {
			for _, mode := range benchModes(pg) {
				b.Run(fmt.Sprintf("%s/accept%s/callers=%d", engine, mode, callers), func(b *testing.B) {
					url := ""
					if pg {
						url = benchURL(b)
					}
					w := newWorldAt(b, url, 50, 1_000_000, trusts...)
					switch mode {
					case "":
						// ACCEPT_BENCH_GROUP and ACCEPT_BENCH_FLIGHTS
						// try other group sizes and flights than the
						// store's (64, 2).
						size, flights := 64, 2
						if n, err := strconv.Atoi(os.Getenv("ACCEPT_BENCH_GROUP")); err == nil {
							size = n
						}
						if n, err := strconv.Atoi(os.Getenv("ACCEPT_BENCH_FLIGHTS")); err == nil {
							flights = n
						}
						w.rec.SetGroupCommit(size, flights)
					case "-alone":
						w.rec.SetGroupCommit(1, 1)
					case "-oneflight":
						w.rec.SetGroupCommit(64, 1)
					}
					addProviders(b, w, providers+1, callers, 1_000_000)
					ids := make([][]string, callers)
					for i := range b.N {
						c := i % callers
						org := trusts[c%len(trusts)]
						p := &auth.Principal{ClientID: "c-" + org, Org: org, Role: auth.RoleTrust}
						ids[c] = append(ids[c], w.send(b, p, fmt.Sprintf("%s-sr%d", org, 1+i%50), 1+c))
					}
					// Each caller reads its first offer before the clock
					// starts, so that the store's pool has opened its
					// connections (up to its 20): a connection's start-up
					// is not an accept's.
					var warm sync.WaitGroup
					for c := range callers {
						if len(ids[c]) == 0 {
							continue
						}
						warm.Add(1)
						go func() {
							defer warm.Done()
							org := fmt.Sprintf("P%d", c+1)
							if _, err := w.rec.FindOffer(ctx, org, ids[c][0], true); err != nil {
								b.Error(err)
							}
						}()
					}
					warm.Wait()
					stats := startStatements(b, url)
					var failed atomic.Int64
					cpu := startCPU(b, url)
					b.ResetTimer()
					done := make(chan struct{}, callers)
					for c := range callers {
						owner := &auth.Principal{ClientID: fmt.Sprintf("p%d", c+1), Org: fmt.Sprintf("P%d", c+1), Role: auth.RoleCareProvider}
						body := answer(discharge.OfferAccepted, fmt.Sprintf("loc%d", c+1))
						go func() {
							defer func() { done <- struct{}{} }()
							for _, id := range ids[c] {
								if _, err := w.svc.Update(ctx, owner, id, body, `W/"1"`); err != nil {
									failed.Add(1)
									b.Error(err)
									return
								}
							}
						}()
					}
					for range callers {
						<-done
					}
					b.StopTimer()
					cpu.report(b)
					stats.report(b)
					b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "accepts/s")
					if pg {
						groups, _ := w.rec.GroupCommits()
						if groups > 0 {
							b.ReportMetric(float64(b.N)/float64(groups), "accepts/group")
						}
					}
				})
			}
		}
		b.Run(engine+"/raw-update", func(b *testing.B) {
			db, url := rawDB(b, pg)
			if _, err := db.ExecContext(ctx, "CREATE TABLE raw_offers (id TEXT PRIMARY KEY, state TEXT, version BIGINT)"); err != nil {
				b.Fatal(err)
			}
			if _, err := db.ExecContext(ctx, "INSERT INTO raw_offers VALUES ('t', 'requested', 1)"); err != nil {
				b.Fatal(err)
			}
			cpu := startCPU(b, url)
			b.ResetTimer()
			for i := range b.N {
				if _, err := db.ExecContext(ctx, "UPDATE raw_offers SET state = $1, version = $2 WHERE id = 't'", "accepted", i+2); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			cpu.report(b)
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "updates/s")
		})
		// The floor at the accepts' concurrency: as many callers, each
		// updating its own row (one statement and its commit, with
		// synchronous commit as the store runs), which the server can
		// flush together as it does the accepts.
		for _, callers := range benchCallers() {
			if callers == 1 {
				continue
			}
			b.Run(fmt.Sprintf("%s/raw-update/callers=%d", engine, callers), func(b *testing.B) {
				db, url := rawDB(b, pg)
				// At most 64 connections (the test server allows 100):
				// more callers share them, as the accepts share the
				// store's 20.
				conns := min(callers, 64)
				db.SetMaxOpenConns(conns)
				// Open the connections one by one before the clock
				// starts: opened at once inside the timed loop, 64 of
				// them met the test server's 2 s connect timeout on a
				// loaded machine, and their start-up is not an update's.
				db.SetMaxIdleConns(conns)
				var open []*sql.Conn
				for range conns {
					c, err := db.Conn(ctx)
					if err != nil {
						b.Fatal(err)
					}
					open = append(open, c)
				}
				for _, c := range open {
					c.Close()
				}
				if _, err := db.ExecContext(ctx, "CREATE TABLE raw_offers_n (id TEXT PRIMARY KEY, state TEXT, version BIGINT)"); err != nil {
					b.Fatal(err)
				}
				for c := range callers {
					if _, err := db.ExecContext(ctx, "INSERT INTO raw_offers_n VALUES ($1, 'requested', 1)", fmt.Sprint(c)); err != nil {
						b.Fatal(err)
					}
				}
				cpu := startCPU(b, url)
				b.ResetTimer()
				done := make(chan struct{}, callers)
				for c := range callers {
					go func() {
						defer func() { done <- struct{}{} }()
						for i := c; i < b.N; i += callers {
							if _, err := db.ExecContext(ctx, "UPDATE raw_offers_n SET state = $1, version = $2 WHERE id = $3", "accepted", i+2, fmt.Sprint(c)); err != nil {
								b.Error(err)
								return
							}
						}
					}()
				}
				for range callers {
					<-done
				}
				b.StopTimer()
				cpu.report(b)
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "updates/s")
			})
		}
	}
}

// benchModes: on PostgreSQL the accept runs with group commit (as the
// store runs) and, as "-alone", with each accept in its own transaction,
// so one run compares the two; ACCEPT_BENCH_MODES ("grouped", "alone")
// runs one of them.
func benchModes(pg bool) []string {
	if !pg {
		return []string{""}
	}
	switch os.Getenv("ACCEPT_BENCH_MODES") {
	case "grouped":
		return []string{""}
	case "alone":
		return []string{"-alone"}
	case "all":
		return []string{"", "-oneflight", "-alone"}
	}
	return []string{"", "-alone"}
}

// serverSettings applies ACCEPT_BENCH_SERVER_SETTINGS once a process.
var serverSettings sync.Once

// benchCallers are the concurrencies BenchmarkAccept runs: 1, 8, 64 and
// 256 (the 2,000 accepts/s is met at 64 and 256 concurrent
// callers, not at 8: docs/performance.md), or those ACCEPT_BENCH_CALLERS
// lists (such as "1,8,16,32").
func benchCallers() []int {
	v := os.Getenv("ACCEPT_BENCH_CALLERS")
	if v == "" {
		return []int{1, 8, 64, 256}
	}
	var out []int
	for _, f := range strings.Split(v, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err == nil && n > 0 {
			out = append(out, n)
		}
	}
	return out
}

// addProviders adds providers from..to to w's directory (as newWorldAt
// makes its own: Organization, Location, HealthcareService), each with
// vacancies posted, so that more than eight callers answer for homes of
// their own (accepts for one home wait for its hold lock by design).
func addProviders(b *testing.B, w *world, from, to, vacancies int) {
	b.Helper()
	if from > to {
		return
	}
	var ws []fhir.Write
	for i := from; i <= to; i++ {
		for _, d := range []string{
			fmt.Sprintf(`{"resourceType":"Organization","id":"org%d","identifier":[{"system":%q,"value":"P%d"}]}`, i, mappings.CQCProviderSystem, i),
			fmt.Sprintf(`{"resourceType":"Location","id":"loc%d","managingOrganization":{"reference":"Organization/org%d"}}`, i, i),
			fmt.Sprintf(`{"resourceType":"HealthcareService","id":"svc%d","providedBy":{"reference":"Organization/org%d"},"location":[{"reference":"Location/loc%d"}]}`, i, i, i),
		} {
			var m map[string]any
			if err := json.Unmarshal([]byte(d), &m); err != nil {
				b.Fatal(err)
			}
			fhir.Stamp(m, m["id"].(string), 1, start)
			body, _ := json.Marshal(m)
			ws = append(ws, fhir.Write{Resource: fhir.Resource{Type: m["resourceType"].(string), ID: m["id"].(string),
				VersionID: 1, LastUpdated: start, JSON: body}})
		}
	}
	if err := w.st.Commit(context.Background(), fhir.DirectoryPartition, ws, nil); err != nil {
		b.Fatal(err)
	}
	for i := from; i <= to; i++ {
		w.post(b, fmt.Sprintf("loc%d", i), vacancies)
	}
}

// benchURL is a fresh database of the shared PostgreSQL server. With
// ACCEPT_BENCH_NO_FLUSH set, its sessions commit without waiting for the
// WAL flush (synchronous_commit off, sent as a startup parameter): a
// diagnostic that separates what the statements and round trips cost from
// what the flush costs on a machine whose disk is shared. Never how the
// store runs.
//
// ACCEPT_BENCH_SERVER_SETTINGS ("commit_delay=100,commit_siblings=4")
// sets server settings on this process's shared server (ALTER SYSTEM and
// a reload) before the run: how the commit settings a deployment would
// tune change the accept, on the same server as its baseline.
func benchURL(b *testing.B) string {
	url := pgtest.SharedDatabase(b)
	if v := os.Getenv("ACCEPT_BENCH_SERVER_SETTINGS"); v != "" {
		serverSettings.Do(func() {
			ctx := context.Background()
			c, err := pgx.Connect(ctx, pgtest.Shared(b).SuperuserURL("postgres"))
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close(ctx)
			for _, kv := range strings.Split(v, ",") {
				k, val, _ := strings.Cut(kv, "=")
				if _, err := c.Exec(ctx, "ALTER SYSTEM SET "+pgx.Identifier{strings.TrimSpace(k)}.Sanitize()+" = '"+
					strings.ReplaceAll(strings.TrimSpace(val), "'", "''")+"'"); err != nil {
					b.Fatal(err)
				}
			}
			if _, err := c.Exec(ctx, "SELECT pg_reload_conf()"); err != nil {
				b.Fatal(err)
			}
		})
	}
	if os.Getenv("ACCEPT_BENCH_NO_FLUSH") == "" {
		return url
	}
	if strings.Contains(url, "?") {
		return url + "&synchronous_commit=off"
	}
	return url + "?synchronous_commit=off"
}

// rawDB is a bare database of the engine (and its URL, "" for SQLite): PostgreSQL through pgx's
// database/sql driver, or a SQLite file in WAL mode with full sync, as
// the store opens its own.
func rawDB(b *testing.B, pg bool) (*sql.DB, string) {
	b.Helper()
	var db *sql.DB
	var err error
	url := ""
	if pg {
		url = benchURL(b)
		c, cerr := pgx.Connect(context.Background(), url)
		if cerr != nil {
			b.Fatal(cerr)
		}
		c.Close(context.Background())
		db, err = sql.Open("pgx", url)
	} else {
		// As the store opens its file, with its busy timeout: without
		// one, concurrent callers' updates failed with SQLITE_BUSY.
		db, err = sql.Open("sqlite", "file:"+filepath.Join(b.TempDir(), "raw.db")+"?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)")
	}
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	return db, url
}

// statements is ACCEPT_BENCH_STATEMENTS: the server's time per statement
// over the timed loop, from pg_stat_statements, logged per accept. It
// needs the shared server started with the extension loaded
// (PGTEST_SHARED_SETTINGS=shared_preload_libraries=pg_stat_statements,
// pg_stat_statements.track_planning=on). A diagnostic: the times are the
// server's execution and planning, not its CPU, and include no protocol
// handling.
type statements struct{ url string }

func startStatements(b *testing.B, url string) *statements {
	if url == "" || os.Getenv("ACCEPT_BENCH_STATEMENTS") == "" || b.N == 1 {
		return nil
	}
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		b.Fatal(err)
	}
	st := &statements{url: pgtest.Shared(b).SuperuserURL(cfg.Database)}
	c, err := pgx.Connect(context.Background(), st.url)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close(context.Background())
	for _, q := range []string{"CREATE EXTENSION IF NOT EXISTS pg_stat_statements", "SELECT pg_stat_statements_reset()"} {
		if _, err := c.Exec(context.Background(), q); err != nil {
			b.Fatal(err)
		}
	}
	return st
}

func (st *statements) report(b *testing.B) {
	if st == nil {
		return
	}
	ctx := context.Background()
	c, err := pgx.Connect(ctx, st.url)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close(ctx)
	rows, err := c.Query(ctx, `SELECT calls, total_exec_time + total_plan_time, total_plan_time, query FROM pg_stat_statements
		WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) ORDER BY 2 DESC LIMIT 30`)
	if err != nil {
		b.Fatal(err)
	}
	defer rows.Close()
	var total float64
	var lines []string
	for rows.Next() {
		var calls int64
		var ms, plan float64
		var q string
		if err := rows.Scan(&calls, &ms, &plan, &q); err != nil {
			b.Fatal(err)
		}
		total += ms
		q = strings.Join(strings.Fields(q), " ")
		if len(q) > 110 {
			q = q[:110]
		}
		lines = append(lines, fmt.Sprintf("%7.1f µs/accept (plan %5.1f) %8d calls  %s", ms*1000/float64(b.N), plan*1000/float64(b.N), calls, q))
	}
	// To stderr: a benchmark's log keeps only its first run's, truncated.
	fmt.Fprintf(os.Stderr, "%s, %d accepts: server time per accept by statement (top 30: %.0f µs):\n%s\n", b.Name(), b.N,
		total*1000/float64(b.N), strings.Join(lines, "\n"))
}

// cpuMeter is the CPU time the benchmark's process and its PostgreSQL
// server spent over the timed loop, reported per operation: on a machine
// whose two cores are shared with other engineers' suites the wall time
// per accept is mostly waiting for a core, while the CPU an accept costs
// is nearly the same at any load, so the two say different things. The
// server's is read from /proc: the postmaster's live children (backends,
// WAL writer, ...) and the children it has reaped. Zero (nothing
// reported) on SQLite or where /proc is not readable.
type cpuMeter struct {
	postmaster         int
	client, server, at time.Duration
}

func startCPU(b *testing.B, url string) *cpuMeter {
	m := &cpuMeter{}
	if url != "" {
		c, err := pgx.Connect(context.Background(), url)
		if err != nil {
			b.Fatal(err)
		}
		var pid int
		err = c.QueryRow(context.Background(), "SELECT pg_backend_pid()").Scan(&pid)
		c.Close(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		if f := procStat(pid); len(f) > 1 {
			m.postmaster, _ = strconv.Atoi(f[1])
		}
	}
	m.client, m.server = clientCPU(), m.serverCPU()
	return m
}

func (m *cpuMeter) report(b *testing.B) {
	client, server := clientCPU()-m.client, m.serverCPU()-m.server
	b.ReportMetric(float64(client.Microseconds())/float64(b.N), "client-cpu-µs/op")
	if m.postmaster != 0 {
		b.ReportMetric(float64(server.Microseconds())/float64(b.N), "server-cpu-µs/op")
	}
}

// procStat is /proc/<pid>/stat's fields after the command name (field 3,
// the state, is [0]; the parent pid [1]; utime [11], stime [12], cutime
// [13], cstime [14]).
func procStat(pid int) []string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return nil
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return nil
	}
	return strings.Fields(s[i+1:])
}

// ticks are clock ticks (USER_HZ, 100 on Linux) as a duration.
func ticks(f string) time.Duration {
	n, _ := strconv.ParseInt(f, 10, 64)
	return time.Duration(n) * 10 * time.Millisecond
}

func (m *cpuMeter) serverCPU() time.Duration {
	if m.postmaster == 0 {
		return 0
	}
	var total time.Duration
	if f := procStat(m.postmaster); len(f) > 14 {
		total += ticks(f[13]) + ticks(f[14])
	}
	entries, _ := os.ReadDir("/proc")
	parent := strconv.Itoa(m.postmaster)
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if f := procStat(pid); len(f) > 12 && f[1] == parent {
			total += ticks(f[11]) + ticks(f[12])
		}
	}
	return total
}

func clientCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
