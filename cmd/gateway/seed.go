package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/dischargegateway/gateway/adapters/geocode"
	"github.com/dischargegateway/gateway/adapters/rediscache"
	"github.com/dischargegateway/gateway/adapters/synthetic"
	"github.com/dischargegateway/gateway/gateway"
)

// seedCommand is `gateway seed [--providers N] [--seed S]`: synthetic
// England (directory entries and current capacity) loaded into REDIS_URL.
func seedCommand(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("seed", flag.ContinueOnError)
	n := fs.Int("providers", 1000, "how many synthetic care locations")
	seed := fs.Uint64("seed", 1, "random seed: the same seed gives the same world")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, err := loadConfig(getenv)
	if err != nil {
		return err
	}
	if cfg.RedisURL == "" && len(cfg.RedisAddrs) == 0 {
		// The embedded store lives inside one process: a separate seed
		// process would fill a store that vanishes when it exits.
		return fmt.Errorf("set REDIS_URL to seed a Redis: the embedded store lives only inside `gateway serve`, " +
			"which loads the demo world (real Greater Manchester homes with synthetic vacancies) itself at start")
	}
	geo, err := geocode.LoadFiles(cfg.OutcodesCSV, cfg.PostcodesCSV)
	if err != nil {
		return err
	}
	rc, err := rediscache.Open(ctx, rediscache.Config{URL: cfg.RedisURL, Addrs: cfg.RedisAddrs, SentinelMaster: cfg.RedisMaster, Timeout: 10 * time.Second})
	if err != nil {
		return err
	}
	defer rc.Close()
	capStore := rediscache.NewCapacityStore(rc.Client, int64(cfg.CapacityHistory))
	srv := gateway.New(gateway.DefaultConfig(), gateway.Deps{Store: rediscache.New(rc.Client), Capacity: capStore, Geocoder: geo,
		Logger: slog.New(slog.NewJSONHandler(stderr, nil))})
	start := time.Now()
	listings, caps := synthetic.Providers(*n, synthetic.England(geo), time.Now(), *seed)
	rep, err := loadWorld(ctx, srv, capStore, geo, listings, caps)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "seeded %d synthetic locations (%d created, %d updated, %d unchanged) with capacity in %s\n",
		len(listings), rep.Created, rep.Updated, rep.Unchanged, time.Since(start).Round(time.Millisecond))
	return nil
}
