package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/dischargegateway/gateway/adapters/geocode"
	"github.com/dischargegateway/gateway/adapters/synthetic"
	"github.com/dischargegateway/gateway/internal/wiring"
)

// seedCommand is `gateway seed [--providers N] [--seed S]`: synthetic
// England (directory entries and current capacity) loaded into the record
// (DATABASE_URL's, else the embedded SQLite file, which the next `gateway
// serve` reads and rebuilds its cache from), and into REDIS_URL's cache.
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
	geo, err := geocode.LoadFiles(cfg.OutcodesCSV, cfg.PostcodesCSV)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewJSONHandler(stderr, nil))
	st, err := openStores(ctx, cfg, log, wiring.BulkRedisTimeout)
	if err != nil {
		return err
	}
	defer st.Close()
	start := time.Now()
	listings, caps := synthetic.Providers(*n, synthetic.England(geo), time.Now(), *seed)
	rep, err := st.LoadWorld(ctx, geo, log, listings, caps)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "seeded %d synthetic locations (%d created, %d updated, %d unchanged) with capacity in %s\n",
		len(listings), rep.Created, rep.Updated, rep.Unchanged, time.Since(start).Round(time.Millisecond))
	return nil
}
