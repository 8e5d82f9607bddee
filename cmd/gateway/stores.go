package main

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/dischargegateway/gateway/capacity"
	"github.com/dischargegateway/gateway/internal/wiring"
)

// storeSettings are the stores' settings in cfg. redisTimeout overrides
// REDIS_TIMEOUT when positive (the bulk commands wait longer,
// wiring.BulkRedisTimeout).
func (cfg config) storeSettings(redisTimeout time.Duration) wiring.Settings {
	if redisTimeout <= 0 {
		redisTimeout = cfg.RedisTimeout
	}
	return wiring.Settings{Env: cfg.Env, DatabaseURL: cfg.DatabaseURL, DataDir: cfg.DataDir, Migrate: cfg.Migrate,
		RedisURL: cfg.RedisURL, RedisAddrs: cfg.RedisAddrs, RedisMaster: cfg.RedisMaster, RedisTimeout: redisTimeout,
		RedisWaitReplicas: cfg.RedisWaitReplicas, RedisWaitTimeout: cfg.RedisWaitTimeout,
		// Redis spans only when traces are exported (setupTelemetry samples
		// none otherwise); pool metrics when either metrics reader is set.
		RedisTraces: cfg.OTLPEndpoint != "", RedisMetrics: cfg.OTLPEndpoint != "" || cfg.MetricsAddr != ""}
}

// openStores opens the stores every command uses, wired one way
// (wiring.Open): the record (DATABASE_URL's PostgreSQL, else SQLite in
// GATEWAY_DATA_DIR), migrated first unless GATEWAY_MIGRATE=off, and Redis
// (REDIS_URL, else the embedded one).
func openStores(ctx context.Context, cfg config, log *slog.Logger, redisTimeout time.Duration) (*wiring.Stores, error) {
	return wiring.Open(ctx, cfg.storeSettings(redisTimeout), log)
}

// recordName says which record a configuration uses, without secrets.
func recordName(cfg config) string { return wiring.RecordName(cfg.storeSettings(0)) }

// cacheKeeper rebuilds the capacity cache in the background: once at
// start (force: the Location index too) and then every interval, putting
// back whatever the cache lost. Until a rebuild has run, placement sees
// the locations whose capacity the cache lacks as capacity unknown.
type cacheKeeper struct {
	wg sync.WaitGroup
}

func (k *cacheKeeper) start(ctx context.Context, b *capacity.Rebuilder, every time.Duration, log *slog.Logger) {
	k.wg.Add(1)
	go func() {
		defer k.wg.Done()
		run := func(force bool) {
			start := time.Now()
			rep, err := b.Rebuild(ctx, force)
			switch {
			case err != nil && ctx.Err() != nil:
			case err != nil:
				log.Warn("capacity cache not rebuilt from the record; placement counts the missing capacity as unknown until the next check",
					slog.String("error", err.Error()))
			case force || rep.Cached > 0:
				log.Info("capacity cache rebuilt from the record", slog.Int("postings", rep.Postings),
					slog.Int("cached", rep.Cached), slog.Int("locations", rep.Locations),
					slog.String("took", time.Since(start).Round(time.Millisecond).String()))
			}
		}
		// Not forced: postings the cache lacks (an empty or flushed Redis,
		// the embedded one at every start) make it re-index the Locations
		// and put them back; a cache that holds them all (a Redis that
		// kept its data, or the demo world just loaded) costs one read per
		// 500 postings. `gateway rebuild-cache` forces the whole rebuild.
		log.Info("checking the capacity cache against the record in the background")
		run(false)
		if every <= 0 {
			return
		}
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				run(false)
			}
		}
	}()
}

// wait returns once the keeper has stopped (its context is done).
func (k *cacheKeeper) wait() { k.wg.Wait() }

var errNoRedis = errors.New("REDIS_URL is not set: the embedded cache lives inside `gateway serve`, which rebuilds it from the record at start")
