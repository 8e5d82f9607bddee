// Command gateway runs Discharge Gateway: a FHIR R4 gateway that turns
// hospital discharge requests into ranked care placement options.
//
// Usage:
//
//	gateway [serve [--empty]]
//	                    run the HTTP gateway (the default); on the embedded
//	                    store it loads the demo world unless --empty
//	gateway settings    print every setting as a Markdown table
//	gateway token --client ID [--scope S] [--ttl D]
//	                    mint an access token with the gateway's signing key
//	gateway client-assertion --client ID --key key.pem [--kid K] [--token-url URL] [--scope S] [--fetch]
//	                    sign an RFC 7523 client assertion with a client's key
//	                    (and with --fetch exchange it for an access token)
//	gateway import directory FILE.csv
//	                    import a directory in the gateway's columns into the record
//	gateway import cqc HSCA_Active_Locations.csv
//	                    import the CQC's care directory with filters into the record
//	gateway seed [--providers N] [--seed S]
//	                    load synthetic England into the record
//	gateway migrate     bring the record's schema up to date (GATEWAY_MIGRATE=off
//	                    leaves this to be run before the gateways start)
//	gateway rebuild-cache
//	                    put what the record holds back into REDIS_URL's cache
//
// The record (DATABASE_URL's PostgreSQL, else SQLite in GATEWAY_DATA_DIR)
// is the system of record; Redis (REDIS_URL, else embedded) holds only
// what is rebuilt from it.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/dischargegateway/gateway/adapters/geocode"
	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/fhir"
	"github.com/dischargegateway/gateway/gateway"
	"github.com/dischargegateway/gateway/internal/wiring"
	"github.com/dischargegateway/gateway/mappings"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr, nil); err != nil {
		fmt.Fprintln(os.Stderr, "gateway:", err)
		os.Exit(1)
	}
}

// run is the whole program, callable from tests: it returns when ctx is
// cancelled (SIGTERM) after draining requests in flight. onListen, if not
// nil, is told the address the server bound.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer, onListen func(addr string)) error {
	cmd := "serve"
	if len(args) > 0 {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "serve":
		return serve(ctx, args, getenv, stdout, stderr, onListen)
	case "token":
		return mintToken(args, getenv, stdout, stderr)
	case "client-assertion":
		return clientAssertion(ctx, args, getenv, stdout, stderr)
	case "import":
		return importCommand(ctx, args, getenv, stdout, stderr)
	case "seed":
		return seedCommand(ctx, args, getenv, stdout, stderr)
	case "migrate":
		return migrateCommand(ctx, getenv, stdout)
	case "rebuild-cache":
		return rebuildCommand(ctx, getenv, stdout, stderr)
	case "settings":
		printSettings(stdout)
		return nil
	case "help", "-h", "--help":
		fmt.Fprintln(stdout, "usage: gateway [serve [--empty] | settings | token --client ID [--scope 'system/Encounter.rs ...'] [--ttl 1h] | client-assertion --client ID --key key.pem [--fetch] | import directory FILE.csv | import cqc FILE.csv | seed [--providers N] | migrate | rebuild-cache]")
		return nil
	}
	return fmt.Errorf("unknown command %q (want serve, settings, token, client-assertion, import, seed, migrate or rebuild-cache; see gateway help)", cmd)
}

func newLogger(w io.Writer, level string) *slog.Logger {
	var l slog.Level
	_ = l.UnmarshalText([]byte(level))
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: l}))
}

func serve(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer, onListen func(string)) error {
	fset := flag.NewFlagSet("serve", flag.ContinueOnError)
	empty := fset.Bool("empty", false, "on the embedded store, start without the demo world (as GATEWAY_DEMO_WORLD=off)")
	if err := fset.Parse(args); err != nil {
		return err
	}
	cfg, err := loadConfig(getenv)
	if err != nil {
		return err
	}
	log := newLogger(stderr, cfg.LogLevel)
	slog.SetDefault(log)
	if gc := wiring.TuneGC(getenv, "/sys/fs/cgroup"); gc != "" {
		log.Info("garbage collector tuned where the environment did not set it", slog.String("set", gc))
	}

	shutdownTelemetry, err := setupTelemetry(ctx, cfg, version)
	if err != nil {
		return fmt.Errorf("telemetry: %w", err)
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = shutdownTelemetry(sctx)
	}()

	tr, err := mappings.LoadTranslator(os.DirFS(cfg.ConceptMapsDir))
	if err != nil {
		return fmt.Errorf("concept maps: %w", err)
	}

	st, err := openStores(ctx, cfg, log, 0)
	if err != nil {
		return err
	}
	defer st.Close()
	log.Info("system of record", slog.String("engine", st.Record.Engine()), slog.String("at", recordName(cfg)),
		slog.String("migrate", cfg.Migrate))
	if st.Redis.Embedded {
		log.Warn("REDIS_URL is not set: the capacity cache, rate limits and token replay cache are in this process; the cache is rebuilt from the record at each start")
	} else {
		log.Info("using Redis for the capacity cache, rate limits and token replay", slog.String("mode", st.Redis.Mode))
	}
	if cfg.RedisWaitReplicas > 0 {
		log.Info("capacity cache writes wait for replicas", slog.Int("replicas", cfg.RedisWaitReplicas))
	}

	gcfg := gateway.DefaultConfig()
	gcfg.BodyLimit = cfg.BodyLimit
	gcfg.Limits = fhir.Limits{MaxDepth: cfg.MaxDepth, MaxBundleEntries: cfg.MaxBundleEntries}
	gcfg.RequestTimeout = cfg.RequestTimeout
	gcfg.RetryAfterSeconds = cfg.RetryAfterSeconds
	gcfg.BaseURL = cfg.BaseURL
	gcfg.Version = version
	sec, err := security(cfg, st, log)
	if err != nil {
		return err
	}
	if cfg.StaleAfter >= cfg.ExpireAfter {
		return fmt.Errorf("GATEWAY_CAPACITY_STALE_AFTER must be shorter than GATEWAY_CAPACITY_EXPIRE_AFTER")
	}
	gcfg.Freshness = discharge.FreshnessPolicy{StaleAfter: cfg.StaleAfter, ExpireAfter: cfg.ExpireAfter}
	gcfg.Weights = cfg.Weights
	gcfg.Escalation = discharge.EscalationRule{OfferWait: cfg.EscalationWait, NCTRDays: cfg.EscalationNCTR}
	geo, err := geocode.LoadFiles(cfg.OutcodesCSV, cfg.PostcodesCSV)
	if err != nil {
		return fmt.Errorf("geocoding tables: %w", err)
	}
	deps := st.GatewayDeps(tr, geo, log)
	deps.Security = sec.gw
	// The referral loop: the Task routes' service; its sweeper starts below
	// with the cache keeper.
	referrals := st.Referral(cfg.Referral, log)
	deps.Referrals = referrals
	// Subscriptions: the routes' service; its Deliverer starts below.
	cfg.Subscription.BaseURL = cfg.BaseURL
	subscriptions, deliverer, stopSubscriptions := st.Subscriptions(cfg.Subscription, referrals, log)
	deps.Subscriptions = subscriptions
	srv := gateway.New(gcfg, deps)
	// The dashboard for people at / (web/, docs/dashboard.md).
	if err := mountDashboard(cfg, srv, st, sec, log); err != nil {
		return err
	}
	// Only the embedded stores get the demo world unless asked for
	// (GATEWAY_DEMO_WORLD_STORES=any, a trial on real stores): a real
	// database holds the operator's directory, which demo homes must never
	// join. Loading it again over a record that has it changes nothing but
	// the vacancies.
	if (st.Embedded() || cfg.DemoWorldStores == "any") && !*empty && cfg.DemoWorld != "off" {
		if err := loadDemoWorld(ctx, cfg, st, geo, log); err != nil {
			return err
		}
	}
	// The cache is rebuilt from the record in the background: an empty or
	// flushed Redis (the embedded one is empty at every start) heals
	// while the gateway already answers, placement counting the capacity
	// not yet back as unknown.
	keepCtx, stopKeeper := context.WithCancel(ctx)
	var keeper cacheKeeper
	keeper.start(keepCtx, st.Rebuilder(geo, log), cfg.CacheCheck, log)
	defer func() { stopKeeper(); keeper.wait() }()
	// The referral sweeper expires unanswered offers and lapses holds. Every
	// gateway runs one: each move is conditional on the Task's version, so
	// two sweepers move an offer once, and the timers are in the record.
	sweepDone := make(chan struct{})
	go func() { defer close(sweepDone); referrals.Run(keepCtx) }()
	defer func() { stopKeeper(); <-sweepDone }()
	// The closure sweep closes the cases whose Encounter ended but whose
	// closure after the write failed, so a discharge always releases holds.
	endedDone := make(chan struct{})
	go func() { defer close(endedDone); referrals.RunEnded(keepCtx, st.EndedCases()) }()
	defer func() { stopKeeper(); <-endedDone }()
	// The forecast sweep keeps each day's demand forecast, for every trust
	// the registry names, just after midnight in England (and once now),
	// so the backtest has every day, asked about or not (docs/sitrep.md).
	forecastDone := make(chan struct{})
	go func() {
		defer close(forecastDone)
		st.ForecastSweep().RunDaily(keepCtx, sec.registry.Trusts(), log)
	}()
	defer func() { stopKeeper(); <-forecastDone }()
	// The Deliverer pushes Subscription notifications from the outbox.
	// Every gateway runs one: leases and SKIP LOCKED share the work.
	deliverDone := make(chan struct{})
	go func() { defer close(deliverDone); deliverer.Run(keepCtx) }()
	defer func() { stopKeeper(); <-deliverDone; stopSubscriptions() }()
	if sec.registry.Demo() {
		log.Warn("DEMO client registry loaded from " + cfg.DemoDir + ": demo clients and keys are public; never use them with real patient data")
		printDemoTokens(stdout, sec)
	}

	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return err
	}
	hs := &http.Server{
		Handler:           srv.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	log.Info("gateway listening", slog.String("addr", ln.Addr().String()), slog.String("version", version))
	if onListen != nil {
		onListen(ln.Addr().String())
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()

	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down: draining requests in flight", slog.Duration("timeout", cfg.ShutdownTimeout))
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	log.Info("stopped")
	return nil
}
