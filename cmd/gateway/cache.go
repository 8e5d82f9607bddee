package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/dischargegateway/gateway/adapters/geocode"
	"github.com/dischargegateway/gateway/internal/wiring"
)

// migrateCommand is `gateway migrate`: the record's schema brought up to
// date, for deployments that start their gateways with GATEWAY_MIGRATE=off
// (run it as the role the gateways connect as; see sqlstore.Migrate).
func migrateCommand(ctx context.Context, getenv func(string) string, stdout io.Writer) error {
	cfg, err := loadConfig(getenv)
	if err != nil {
		return err
	}
	if err := wiring.Migrate(ctx, cfg.storeSettings(0)); err != nil {
		return fmt.Errorf("migrate %s: %w", recordName(cfg), err)
	}
	fmt.Fprintf(stdout, "the record's schema is current (%s)\n", recordName(cfg))
	return nil
}

// rebuildCommand is `gateway rebuild-cache`: every latest capacity posting
// the cache in REDIS_URL lacks (or holds an older version of) put back from
// the record, and every directory Location geo-indexed again. It is what a
// running gateway does at start and every GATEWAY_CACHE_CHECK, on demand
// (after a FLUSHALL, a failover to an empty replica, a new Redis).
func rebuildCommand(ctx context.Context, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, err := loadConfig(getenv)
	if err != nil {
		return err
	}
	if cfg.RedisURL == "" && len(cfg.RedisAddrs) == 0 {
		return errNoRedis
	}
	log := slog.New(slog.NewJSONHandler(stderr, nil))
	st, err := openStores(ctx, cfg, log, wiring.BulkRedisTimeout)
	if err != nil {
		return err
	}
	defer st.Close()
	geo, err := geocode.LoadFiles(cfg.OutcodesCSV, cfg.PostcodesCSV)
	if err != nil {
		return err
	}
	start := time.Now()
	rep, err := st.Rebuilder(geo, log).Rebuild(ctx, true)
	if err != nil {
		return fmt.Errorf("rebuild-cache: %w", err)
	}
	fmt.Fprintf(stdout, "capacity cache rebuilt from the record (%s): %d latest postings, %d put back, %d Locations geo-indexed, in %s\n",
		recordName(cfg), rep.Postings, rep.Cached, rep.Locations, time.Since(start).Round(time.Millisecond))
	return nil
}
