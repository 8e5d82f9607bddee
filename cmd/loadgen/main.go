// Command loadgen measures $placement-options under load, with same-run
// baselines, and writes the figures to a file.
//
//	go run ./cmd/loadgen --redis redis://127.0.0.1:PORT/0 --providers 25000 --out bench/placement-25k.md
//
// It seeds synthetic England into the system of record (--database's
// PostgreSQL, else a SQLite file in a temporary directory) and the given
// (empty, private) Redis as the capacity cache, wired as `gateway serve`
// wires them (internal/wiring, with the defaults of the gateway's
// settings), starts
// the gateway in-process on a loopback port, posts referrals as a trust,
// then drives GET ServiceRequest/{id}/$placement-options:
//
//  1. closed loop with --workers clients for --duration: saturation
//     throughput;
//  2. open loop at half that rate (or --open-rate) for --duration: p50, p99, errors;
//  3. the same closed loop against a bare Echo handler returning a fixed
//     Bundle of the same size (HTTP baseline);
//  4. the same closed loop of the raw Redis work floor: GEOSEARCH over the
//     same shards plus HMGET of every candidate's capacity, from Go.
//
// Each run then measures capacity postings against a bare Echo handler
// decoding and re-encoding the same body, and intake (POST /fhir/Patient, a
// new patient each time) against a bare Echo handler decoding the same
// Patient into the FHIR model and encoding it back; --placement=false
// measures only those (a shorter run, for the write paths).
//
// Only loopback addresses are used; every loop is bounded in time.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"runtime/pprof"
	"runtime/trace"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/dischargegateway/gateway/adapters/geocode"
	"github.com/dischargegateway/gateway/adapters/rediscache"
	"github.com/dischargegateway/gateway/adapters/synthetic"
	"github.com/dischargegateway/gateway/auth"
	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/gateway"
	"github.com/dischargegateway/gateway/internal/wiring"
	"github.com/dischargegateway/gateway/mappings"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "soak" {
		soakMain(os.Args[2:])
		return
	}
	redisURL := flag.String("redis", "", "an empty Redis to use (required; never a shared one)")
	databaseURL := flag.String("database", "", "an empty PostgreSQL database for the record (postgres://…); default a SQLite file in a temporary directory")
	providers := flag.Int("providers", 1000, "synthetic care locations to seed")
	referrals := flag.Int("referrals", 200, "patient referrals to post")
	workers := flag.Int("workers", 8, "concurrent clients in the closed loops")
	duration := flag.Duration("duration", 15*time.Second, "length of each measured phase")
	out := flag.String("out", "", "results file (Markdown); default stdout")
	root := flag.String("root", ".", "repository root (for configs/)")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the saturation phase to this file")
	memprofile := flag.String("memprofile", "", "write an allocation profile (allocs, the saturation phase's allocations) to this file")
	capProfile := flag.String("capacity-cpuprofile", "", "write a CPU profile of the capacity posting phase to this file")
	flag.IntVar(&halfRuns, "half-runs", 1, "how many times to run the half-saturation phase (each p99 is reported: the spread)")
	flag.BoolVar(&capacityPhase, "capacity", true, "also measure capacity postings (PUT /api/v1/capacity/{id}) against a bare Echo decode+encode handler")
	flag.BoolVar(&intakePhase, "intake", true, "also measure intake (POST /fhir/Patient, a new patient each time) against a bare Echo handler decoding the same Patient into the FHIR model and re-encoding it")
	flag.StringVar(&intakeProfile, "intake-cpuprofile", "", "write a CPU profile of the intake phase to this file")
	flag.BoolVar(&placementPhases, "placement", true, "measure $placement-options (false: the capacity phases only, a shorter run)")
	flag.StringVar(&stallTrace, "stall-trace", "", "keep a flight recorder's execution trace during the open-loop phases and, at the first request slower than --stall-after in each, write the last seconds of it to this path with the open loop's number appended (go tool trace reads it)")
	flag.DurationVar(&stallAfter, "stall-after", 100*time.Millisecond, "the latency that counts as a stall for --stall-trace")
	flag.BoolVar(&twinRuns, "twin", true, "after each open loop, run the CPU twin (a bare Echo handler doing placement's CPU work per request) at the same rate: the machine's p99 floor (twin.go)")
	flag.Float64Var(&fixedOpenRate, "open-rate", 0, "run the open-loop phases at this many requests per second instead of half the saturation rate (to compare builds at the same load)")
	flag.Parse()
	profile, allocProfile, capacityProfile = *cpuprofile, *memprofile, *capProfile
	if allocProfile != "" {
		runtime.MemProfileRate = 64 << 10 // every 64 KiB instead of 512 KiB: finer, still cheap; set before anything allocates much
	}
	if err := run(*redisURL, *databaseURL, *providers, *referrals, *workers, *duration, *out, *root); err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
}

// profile and allocProfile name the CPU and allocation profile files, if
// any; capacityProfile the capacity phase's CPU profile.
var profile, allocProfile, capacityProfile string

// capacityPhase says whether to measure capacity postings too;
// placementPhases whether to measure $placement-options.
var capacityPhase, placementPhases, intakePhase bool

// halfRuns is how many times the half-saturation phase runs;
// fixedOpenRate, when positive, is the open loops' rate instead of half
// the saturation rate.
var (
	halfRuns      int
	fixedOpenRate float64
	twinRuns      bool
)

// stallTrace names the files an open loop's flight recorder writes at its
// first stall (a request slower than stallAfter); "" for none.
var (
	stallTrace  string
	stallAfter  time.Duration
	openLoopNum atomic.Int64
)

type phase struct {
	name        string
	requests    int64
	errors      int64
	elapsed     time.Duration
	p50, p99    time.Duration
	rps         float64
	description string
	redisCPU    time.Duration // Redis server CPU (user+sys) per request in this phase
}

func run(redisURL, databaseURL string, providers, referrals, workers int, duration time.Duration, out, root string) error {
	if redisURL == "" {
		return fmt.Errorf("--redis is required")
	}
	ctx := context.Background()
	geo, err := geocode.LoadFiles(filepath.Join(root, "configs", "geo", "uk-outcode-centroids.csv"), "")
	if err != nil {
		return err
	}
	// The collector as `gateway serve` sets it, unless GOGC or GOMEMLIMIT
	// say otherwise (the report names the GC percent).
	wiring.TuneGC(os.Getenv, "/sys/fs/cgroup")
	// The stores as `gateway serve` opens them, with the defaults of its
	// settings: only where they are is loadgen's own.
	set := wiring.Defaults()
	set.RedisURL, set.DatabaseURL = redisURL, databaseURL
	if databaseURL == "" {
		if set.DataDir, err = os.MkdirTemp("", "loadgen-"); err != nil {
			return err
		}
		defer os.RemoveAll(set.DataDir)
	}
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	st, err := wiring.Open(ctx, set, log)
	if err != nil {
		return err
	}
	defer st.Close()
	rc, capStore := st.Redis, st.Cache
	if n, _ := rc.Client.DBSize(ctx).Result(); n > 0 {
		return fmt.Errorf("the Redis at --redis is not empty (%d keys): use a private, empty one", n)
	}
	tr, err := mappings.LoadTranslator(os.DirFS(filepath.Join(root, "configs", "conceptmaps")))
	if err != nil {
		return err
	}
	keys, _ := auth.GenerateKeySet()
	issuer := &auth.Issuer{Keys: keys, Issuer: "urn:loadgen", Audience: "urn:loadgen", TTL: 2 * time.Hour}
	deps := st.GatewayDeps(tr, geo, log)
	deps.Security = gateway.Security{Issuer: issuer, Audit: st.Audit,
		Limiter: rediscache.NewRateLimit(rc.Client, 1<<30, time.Minute)}
	srv := gateway.New(gateway.DefaultConfig(), deps)

	// Seed.
	t0 := time.Now()
	places := synthetic.England(geo)
	// The synthetic world is made again, the same from its seed and time,
	// when the capacity phase needs it: held from here on, its 25,000
	// listings (15 MB of pointers at that size) would be marked by every
	// collection in the placement phases, a cost of the load generator's
	// that a gateway on its own never pays.
	seededAt := time.Now()
	world := func() ([]discharge.Listing, []discharge.Capacity) {
		return synthetic.Providers(providers, places, seededAt, 7)
	}
	{
		listings, caps := world()
		if _, err := st.LoadWorld(ctx, geo, log, listings, caps); err != nil {
			return err
		}
	}
	seedTime := time.Since(t0)

	// Serve on loopback.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	hs := &http.Server{Handler: srv.Handler()}
	go hs.Serve(ln)
	defer hs.Close()
	base := "http://" + ln.Addr().String()
	sc, _ := auth.ParseScopes("system/Patient.cruds system/Encounter.cruds system/ServiceRequest.cruds system/HealthcareService.rs")
	tok, _, _ := issuer.Issue(&auth.Client{ID: "loadgen", Role: auth.RoleTrust, Org: "RXA"}, sc)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256, MaxConnsPerHost: 256}, Timeout: 10 * time.Second}
	// doInto sends a request and reads the response into buf.
	doInto := func(method, url string, body []byte, buf *bytes.Buffer) (int, error) {
		req, _ := http.NewRequest(method, url, bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+tok)
		if body != nil {
			req.Header.Set("Content-Type", "application/fhir+json")
		}
		res, err := client.Do(req)
		if err != nil {
			return 0, err
		}
		defer res.Body.Close()
		_, err = buf.ReadFrom(res.Body)
		return res.StatusCode, err
	}
	do := func(method, url string, body []byte) (int, []byte, error) {
		var buf bytes.Buffer
		st, err := doInto(method, url, body, &buf)
		return st, buf.Bytes(), err
	}

	// Redis's own CPU per request: the share of the work the store does,
	// which on one machine competes with the gateway for the same cores.
	redisCPU := func() time.Duration {
		info, _ := rc.Client.Info(ctx, "cpu").Result()
		var total float64
		for _, line := range strings.Split(info, "\n") {
			k, v, _ := strings.Cut(strings.TrimSpace(line), ":")
			if k == "used_cpu_user" || k == "used_cpu_sys" {
				f, _ := strconv.ParseFloat(v, 64)
				total += f
			}
		}
		return time.Duration(total * float64(time.Second))
	}
	measured := func(f func() phase) phase {
		c0 := redisCPU()
		p := f()
		if p.requests > 0 {
			p.redisCPU = (redisCPU() - c0) / time.Duration(p.requests)
		}
		return p
	}
	if !placementPhases {
		listings, caps := world()
		return capacityOnly(ctx, base, tok, issuer, client, listings, caps, workers, duration, measured, providers, seedTime, out)
	}

	// Referrals, in the districts that hold providers (a patient lives
	// where people do).
	var srIDs []string
	for i, ref := range synthetic.Referrals(referrals, places, 11) {
		body, _ := json.Marshal(ref.Bundle(i))
		st, b, err := do("POST", base+"/fhir", body)
		if err != nil || st != 200 {
			return fmt.Errorf("posting referral %d: %d %v %s", i, st, err, b)
		}
		var resp struct {
			Entry []struct {
				Response struct{ Location string } `json:"response"`
			} `json:"entry"`
		}
		_ = json.Unmarshal(b, &resp)
		for _, e := range resp.Entry {
			if strings.HasPrefix(e.Response.Location, "ServiceRequest/") {
				srIDs = append(srIDs, strings.Split(e.Response.Location, "/_history/")[0])
			}
		}
	}
	// One unmeasured pass over every referral: a gateway process is long
	// lived, so the measured phases see its placement cache warm, as
	// production does. The largest response is the HTTP baseline's fixed
	// Bundle of the same size.
	var sample []byte
	tw := time.Now()
	for _, id := range srIDs {
		// The first requests fill the caches of every provider near them
		// and can outlast the client's timeout on a loaded machine: the
		// warm-up tries each referral a few times.
		_, b, err := do("GET", base+"/fhir/"+id+"/$placement-options", nil)
		for try := 1; err != nil && try < 5; try++ {
			_, b, err = do("GET", base+"/fhir/"+id+"/$placement-options", nil)
		}
		if err != nil {
			return err
		}
		if len(b) > len(sample) {
			sample = b
		}
	}
	warmTime := time.Since(tw)

	var matchCount atomic.Int64
	// The measured requests read their answers into reused buffers: the
	// load generator shares the gateway's process and heap, and a fresh
	// io.ReadAll slice per 44 kB answer (about 100 kB as it grows) was
	// garbage the gateway's collector paid for, as much again as the
	// gateway's own allocations per request, in a process whose p99 is
	// set by its collections. The bare Echo baseline's client reads into
	// io.Discard, so this also makes the two clients' costs alike.
	bodies := sync.Pool{New: func() any { return new(bytes.Buffer) }}
	placement := func(r *rand.Rand) error {
		buf := bodies.Get().(*bytes.Buffer)
		defer bodies.Put(buf)
		buf.Reset()
		st, err := doInto("GET", base+"/fhir/"+srIDs[r.IntN(len(srIDs))]+"/$placement-options", nil, buf)
		if err != nil {
			return err
		}
		if st != 200 {
			return fmt.Errorf("status %d", st)
		}
		matchCount.Add(int64(bytes.Count(buf.Bytes(), []byte(`"mode":"match"`))))
		return nil
	}
	if profile != "" {
		f, err := os.Create(profile)
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
	}
	_ = rc.Client.ConfigResetStat(ctx).Err()
	cpu0 := cpuTime()
	sat := measured(func() phase {
		return closedLoop("placement-options, closed loop (saturation)", workers, duration, placement)
	})
	satCPU := (cpuTime() - cpu0) / time.Duration(max(1, sat.requests))
	if profile != "" {
		pprof.StopCPUProfile()
	}
	if allocProfile != "" {
		// The allocs profile counts every allocation since the program
		// started; seeding's are in it too, so read it with -sample_index=alloc_space
		// and focus on the request path (e.g. -focus=placementOptions).
		f, err := os.Create(allocProfile)
		if err != nil {
			return err
		}
		err = pprof.Lookup("allocs").WriteTo(f, 0)
		f.Close()
		if err != nil {
			return err
		}
	}
	satStats, _ := rc.Client.Info(ctx, "commandstats").Result()
	// Memory with every provider seeded and cached, after the saturation
	// phase: this process is the gateway, its SQLite record and the load
	// generator; Redis is its own process.
	runtime.GC()
	var ms0 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	mem := memory{rssKB: rssKB(os.Getpid()), heapInUse: ms0.HeapInuse, redisRSS: redisRSS(rc.Client.Info(ctx, "memory").Val())}
	// The open loops run at half the saturation rate, or at --open-rate:
	// a fixed rate compares two builds at the same load, where half of
	// each one's own saturation does not.
	openRate, openName := sat.rps/2, "half the saturation rate"
	if fixedOpenRate > 0 {
		openRate, openName = fixedOpenRate, fmt.Sprintf("a fixed %.0f req/s (--open-rate)", fixedOpenRate)
	}

	// Baseline 1: bare Echo, fixed Bundle of the same size, with its CPU
	// per request; before the open loops, since the CPU twin (twin.go)
	// that follows each of them is sized by it.
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.GET("/fixed", func(c echo.Context) error { return c.Blob(200, "application/fhir+json", sample) })
	e.GET("/twin", func(c echo.Context) error {
		twinSink.Add(work(twinUnits.Load()))
		return c.Blob(200, "application/fhir+json", sample)
	})
	bareAddr, stopBare, err := serveBare(e)
	if err != nil {
		return err
	}
	defer stopBare()
	getFrom := func(path string) func(*rand.Rand) error {
		return func(*rand.Rand) error {
			res, err := client.Get("http://" + bareAddr + path)
			if err != nil {
				return err
			}
			io.Copy(io.Discard, res.Body)
			res.Body.Close()
			return nil
		}
	}
	cpu0 = cpuTime()
	bare := closedLoop("bare Echo handler, fixed Bundle of the same size", workers, duration, getFrom("/fixed"))
	bareCPU := (cpuTime() - cpu0) / time.Duration(max(1, bare.requests))
	spin := twinWork(satCPU, sat.redisCPU, bareCPU)
	perUS := unitsPerMicrosecond()
	twinUnits.Store(int64(perUS * us(spin)))
	twinName := fmt.Sprintf("CPU twin (bare Echo doing %.0f µs of work a request, the same Bundle) at %s", us(spin), openName)

	var halves, twins []phase
	for i := 1; i <= max(1, halfRuns); i++ { // at least one, as before the twin
		suffix := ""
		if i > 1 {
			suffix = fmt.Sprintf(" (run %d)", i)
		}
		halves = append(halves, measured(func() phase {
			return openLoop("placement-options at "+openName+suffix, openRate, duration, placement)
		}))
		if twinRuns {
			twins = append(twins, openLoop(twinName+suffix, openRate, duration, getFrom("/twin")))
		}
	}
	half := halves[0]
	// Every answer the placement client read: the saturation phase's and
	// every open loop's (matchCount counts all of them).
	answers := sat.requests
	for _, h := range halves {
		answers += h.requests
	}
	// Service time: one client, every referral three times in turn, so no
	// request waits for another. Its p99 against the open loop's tells the
	// work of the heaviest requests from queueing behind others.
	service := measured(func() phase {
		var lat []time.Duration
		var errs int64
		start := time.Now()
		for range 3 {
			for _, id := range srIDs {
				t := time.Now()
				st, _, err := do("GET", base+"/fhir/"+id+"/$placement-options", nil)
				if err != nil || st != 200 {
					errs++
				}
				lat = append(lat, time.Since(t))
			}
		}
		return summarise("placement-options, one client, each referral 3 times in turn (service time)", lat, int64(len(lat)), errs, time.Since(start))
	})

	// Baseline 2: the raw Redis floor for a typical request.
	refs := synthetic.Referrals(200, places, 11)
	floor := measured(func() phase {
		return closedLoop("raw Redis floor: GEOSEARCH + HMGET of every candidate", workers, duration, func(r *rand.Rand) error {
			ref := refs[r.IntN(len(refs))]
			p, _ := geo.Locate(ref.Postcode)
			beds := discharge.BedTypesFor(ref.Setting)
			if beds == nil {
				beds = []discharge.BedType{discharge.BedNursing}
			}
			_, err := capStore.RawPlacementFloor(ctx, geo.AreasNear(p.Lat, p.Lon, 25), beds, p.Lat, p.Lon, 25, 500)
			return err
		})
	})

	// Capacity postings (PUT /api/v1/capacity/{id}), after the placement
	// phases since they move the shards those read. Each worker posts as
	// the care providers that manage the first capacityLocations
	// locations, a fresh asOf each time, so every posting is applied.
	var capPhase, capBare phase
	if capacityPhase {
		listings, caps := world()
		if capPhase, capBare, err = postings(ctx, base, issuer, client, listings, caps, workers, duration, measured); err != nil {
			return err
		}
	}
	var inPhase, inBare phase
	if intakePhase {
		if inPhase, inBare, err = intake(base, tok, client, workers, duration, measured); err != nil {
			return err
		}
	}

	w, done, err := openOut(out)
	if err != nil {
		return err
	}
	defer done()
	fmt.Fprintf(w, "# $placement-options load: %d providers\n\n", providers)
	fmt.Fprintf(w, "%s, %d cores (GOMAXPROCS %d, GOGC %s), %d workers, %s per phase; seeding took %s; %d referrals, one unmeasured warm-up pass over them took %s; responses carried %.1f matches on average; response size %d bytes.\n\n",
		time.Now().UTC().Format("2006-01-02"), runtime.NumCPU(), runtime.GOMAXPROCS(0), gcPercent(), workers, duration, seedTime.Round(time.Millisecond),
		len(srIDs), warmTime.Round(time.Millisecond), float64(matchCount.Load())/float64(max(1, answers)), len(sample))
	fmt.Fprintln(w, "| phase | requests | errors | req/s | p50 | p99 | Redis CPU per request |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---:|")
	phases := append(append(append([]phase{sat}, halves...), twins...), service, bare, floor)
	if capacityPhase {
		phases = append(phases, capPhase, capBare)
	}
	if intakePhase {
		phases = append(phases, inPhase, inBare)
	}
	for _, p := range phases {
		rc := "–"
		if p.redisCPU > 0 {
			rc = fmt.Sprintf("%.0f µs", us(p.redisCPU))
		}
		fmt.Fprintf(w, "| %s | %d | %d | %.0f | %s | %s | %s |\n", p.name, p.requests, p.errors, p.rps, ms(p.p50), ms(p.p99), rc)
	}
	fmt.Fprintf(w, "\nRedis commands during the saturation phase (INFO commandstats), per placement request:\n\n| command | calls per request | µs per call | µs per request |\n|---|---:|---:|---:|\n")
	for _, line := range strings.Split(satStats, "\n") {
		name, rest, ok := strings.Cut(strings.TrimSpace(line), ":")
		if !ok || !strings.HasPrefix(name, "cmdstat_") {
			continue
		}
		var calls, usec float64
		for _, kv := range strings.Split(rest, ",") {
			k, v, _ := strings.Cut(kv, "=")
			f, _ := strconv.ParseFloat(v, 64)
			switch k {
			case "calls":
				calls = f
			case "usec":
				usec = f
			}
		}
		if n := float64(sat.requests); n > 0 && calls > 0 && name != "cmdstat_info" && name != "cmdstat_config|resetstat" {
			fmt.Fprintf(w, "| %s | %.1f | %.1f | %.0f |\n", strings.TrimPrefix(name, "cmdstat_"), calls/n, usec/calls, usec/n)
		}
	}
	fmt.Fprintf(w, "\nRatios: saturation throughput is %.1f%% of the bare Echo baseline's and %.1f%% of the raw Redis floor's; p99 at %s is %s.\n",
		100*sat.rps/bare.rps, 100*sat.rps/floor.rps, openName, ms(half.p99))
	if len(halves) > 1 {
		var p99s []string
		for _, h := range halves {
			p99s = append(p99s, ms(h.p99))
		}
		fmt.Fprintf(w, "p99 at %s, %d runs: %s.\n", openName, len(halves), strings.Join(p99s, ", "))
	}
	if len(twins) > 0 {
		var p99s []string
		for _, t := range twins {
			p99s = append(p99s, ms(t.p99))
		}
		fmt.Fprintf(w, "The CPU twin's p99 at the same rate, each run straight after the gateway's (the machine's floor, twin.go): %s. Within 20 ms: the gateway %d of %d runs, the twin %d of %d.\n",
			strings.Join(p99s, ", "), within(halves, 20*time.Millisecond), len(halves), within(twins, 20*time.Millisecond), len(twins))
		fmt.Fprintf(w, "CPU per request at saturation: placement %.0f µs in this process and %.0f µs in redis-server; bare Echo %.0f µs; the twin adds %.0f µs of work (%d units at %.1f a µs).\n",
			us(satCPU), us(sat.redisCPU), us(bareCPU), us(spin), twinUnits.Load(), perUS)
	}
	fmt.Fprintf(w, "Per-request cost at saturation: %.0f µs of wall time per request (%d workers / req/s); bare Echo's: %.0f µs.\n",
		1e6*float64(workers)/sat.rps, workers, 1e6*float64(workers)/bare.rps)
	record := "SQLite record"
	if databaseURL != "" {
		record = "PostgreSQL client; the server is its own process"
	}
	fmt.Fprintf(w, "Memory after the saturation phase (after a GC): this process (gateway, %s, load generator) RSS %.0f MB, Go heap in use %.0f MB; redis-server RSS %.0f MB.\n",
		record, float64(mem.rssKB)/1024, float64(mem.heapInUse)/(1<<20), float64(mem.redisRSS)/(1<<20))
	writeSummaries(w, capPhase, capBare, inPhase, inBare)
	return nil
}

// capacityOnly measures the write phases alone (--placement=false) and
// writes their report.
func capacityOnly(ctx context.Context, base, tok string, issuer *auth.Issuer, client *http.Client, listings []discharge.Listing, caps []discharge.Capacity,
	workers int, duration time.Duration, measured func(func() phase) phase, providers int, seedTime time.Duration, out string) error {
	var capPhase, capBare, inPhase, inBare phase
	var err error
	if capacityPhase {
		if capPhase, capBare, err = postings(ctx, base, issuer, client, listings, caps, workers, duration, measured); err != nil {
			return err
		}
	}
	if intakePhase {
		if inPhase, inBare, err = intake(base, tok, client, workers, duration, measured); err != nil {
			return err
		}
	}
	w, done, err := openOut(out)
	if err != nil {
		return err
	}
	defer done()
	fmt.Fprintf(w, "# Capacity postings and intake: %d providers\n\n", providers)
	fmt.Fprintf(w, "%s, %d cores (GOMAXPROCS %d, GOGC %s), %d workers, %s per phase; seeding took %s; no placement phases.\n\n",
		time.Now().UTC().Format("2006-01-02"), runtime.NumCPU(), runtime.GOMAXPROCS(0), gcPercent(), workers, duration, seedTime.Round(time.Millisecond))
	fmt.Fprintln(w, "| phase | requests | errors | req/s | p50 | p99 | Redis CPU per request |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---:|")
	var phases []phase
	if capacityPhase {
		phases = append(phases, capPhase, capBare)
	}
	if intakePhase {
		phases = append(phases, inPhase, inBare)
	}
	for _, p := range phases {
		rc := "–"
		if p.redisCPU > 0 {
			rc = fmt.Sprintf("%.0f µs", us(p.redisCPU))
		}
		fmt.Fprintf(w, "| %s | %d | %d | %.0f | %s | %s | %s |\n", p.name, p.requests, p.errors, p.rps, ms(p.p50), ms(p.p99), rc)
	}
	fmt.Fprintln(w)
	writeSummaries(w, capPhase, capBare, inPhase, inBare)
	return nil
}

// writeSummaries ends a report with the write phases' ratios.
func writeSummaries(w io.Writer, capPhase, capBare, inPhase, inBare phase) {
	if capacityPhase {
		fmt.Fprintf(w, "Capacity postings: %.0f/s, %.1f%% of the bare Echo handler decoding and re-encoding the same body.\n",
			capPhase.rps, 100*capPhase.rps/capBare.rps)
	}
	if intakePhase {
		fmt.Fprintf(w, "Intake: %.0f creates/s, %.1f%% of the bare Echo handler decoding and re-encoding the same Patient.\n",
			inPhase.rps, 100*inPhase.rps/inBare.rps)
	}
}

// memory is the gateway's footprint at one moment of a run.
type memory struct {
	rssKB     int64
	heapInUse uint64
	redisRSS  int64
}

// redisRSS is the Redis server's resident memory from its INFO memory, in
// bytes.
func redisRSS(info string) int64 {
	for _, line := range strings.Split(info, "\n") {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), ":"); ok && k == "used_memory_rss" {
			n, _ := strconv.ParseInt(v, 10, 64)
			return n
		}
	}
	return -1
}

// openOut is the results file (its directory made), or stdout for "".
func openOut(out string) (io.Writer, func(), error) {
	if out == "" {
		return os.Stdout, func() {}, nil
	}
	_ = os.MkdirAll(filepath.Dir(out), 0o755)
	f, err := os.Create(out)
	if err != nil {
		return nil, nil, err
	}
	return f, func() { f.Close() }, nil
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d.Microseconds())/1000) }

// closedLoop runs f from workers goroutines for d.
func closedLoop(name string, workers int, d time.Duration, f func(*rand.Rand) error) phase {
	var mu sync.Mutex
	var lat []time.Duration
	var errs, n atomic.Int64
	stop := time.Now().Add(d)
	start := time.Now()
	var wg sync.WaitGroup
	for i := 0; i < workers; i++ {
		wg.Add(1)
		go func(seed uint64) {
			defer wg.Done()
			r := rand.New(rand.NewPCG(seed, 3))
			var mine []time.Duration
			for time.Now().Before(stop) {
				t := time.Now()
				if err := f(r); err != nil {
					errs.Add(1)
				}
				mine = append(mine, time.Since(t))
				n.Add(1)
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		}(uint64(i))
	}
	wg.Wait()
	return summarise(name, lat, n.Load(), errs.Load(), time.Since(start))
}

// openLoop issues requests at a fixed rate for d, whatever the latency.
func openLoop(name string, rate float64, d time.Duration, f func(*rand.Rand) error) phase {
	if rate < 1 {
		rate = 1
	}
	var mu sync.Mutex
	var lat []time.Duration
	var errs, n atomic.Int64
	interval := time.Duration(float64(time.Second) / rate)
	stalled := flightRecorder()
	start := time.Now()
	var wg sync.WaitGroup
	r := rand.New(rand.NewPCG(9, 9))
	for next := start; time.Since(start) < d; next = next.Add(interval) {
		time.Sleep(time.Until(next))
		seed := r.Uint64()
		wg.Add(1)
		go func() {
			defer wg.Done()
			t := time.Now()
			if err := f(rand.New(rand.NewPCG(seed, 4))); err != nil {
				errs.Add(1)
			}
			el := time.Since(t)
			stalled(el)
			mu.Lock()
			lat = append(lat, el)
			mu.Unlock()
			n.Add(1)
		}()
	}
	wg.Wait()
	stalled(-1)
	return summarise(name, lat, n.Load(), errs.Load(), time.Since(start))
}

// flightRecorder starts the runtime's flight recorder when --stall-trace
// is set and returns what an open loop calls with each request's latency:
// the first one over --stall-after writes the recorder's window (the last
// few seconds, the stall included) to the phase's file; -1 ends it.
func flightRecorder() func(time.Duration) {
	if stallTrace == "" {
		return func(time.Duration) {}
	}
	fr := trace.NewFlightRecorder(trace.FlightRecorderConfig{MinAge: 3 * time.Second, MaxBytes: 256 << 20})
	if err := fr.Start(); err != nil {
		fmt.Fprintln(os.Stderr, "loadgen: flight recorder:", err)
		return func(time.Duration) {}
	}
	path := fmt.Sprintf("%s.%d", stallTrace, openLoopNum.Add(1))
	var once sync.Once
	return func(el time.Duration) {
		if el < 0 {
			fr.Stop()
			return
		}
		if el < stallAfter {
			return
		}
		once.Do(func() {
			f, err := os.Create(path)
			if err == nil {
				_, err = fr.WriteTo(f)
				f.Close()
			}
			if err != nil {
				fmt.Fprintln(os.Stderr, "loadgen: stall trace:", err)
				return
			}
			fmt.Fprintf(os.Stderr, "loadgen: a %s request: trace in %s\n", el.Round(time.Millisecond), path)
		})
	}
}

func summarise(name string, lat []time.Duration, n, errs int64, el time.Duration) phase {
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	q := func(p float64) time.Duration {
		if len(lat) == 0 {
			return 0
		}
		return lat[min(len(lat)-1, int(p*float64(len(lat))))]
	}
	return phase{name: name, requests: n, errors: errs, elapsed: el, p50: q(0.5), p99: q(0.99), rps: float64(n) / el.Seconds()}
}

// within counts the phases whose p99 is at most limit.
func within(ps []phase, limit time.Duration) int {
	n := 0
	for _, p := range ps {
		if p.p99 <= limit {
			n++
		}
	}
	return n
}

// us is d in microseconds.
func us(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1000 }

// gcPercent is the collector's GOGC as the runtime holds it ("off" when
// collection is off), for the report.
func gcPercent() string {
	s := []metrics.Sample{{Name: "/gc/gogc:percent"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return "unknown"
	}
	if p := s[0].Value.Uint64(); p > 0 {
		return strconv.FormatUint(p, 10)
	}
	return "off"
}
