package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/dischargegateway/gateway/adapters/geocode"
	"github.com/dischargegateway/gateway/adapters/rediscache"
	"github.com/dischargegateway/gateway/adapters/sqlstore"
	"github.com/dischargegateway/gateway/capacity"
	"github.com/dischargegateway/gateway/directory"
)

// stores are the gateway's two stores, wired one way for every command
// (serve, import, seed, rebuild-cache): the system of record in SQL
// (resources and their history, capacity postings as asserted, the audit
// trail) and Redis for what is derived from it or can be lost (the
// capacity cache and geo shards, rate limits, the token replay cache).
type stores struct {
	record   *sqlstore.Store
	audit    *sqlstore.Audit
	postings *sqlstore.Capacity
	redis    *rediscache.Conn
	cache    *rediscache.CapacityStore
	// capacity records postings before caching them: every writer of
	// capacity goes through it.
	capacity *capacity.Recorded
}

// embedded reports that neither store is a server: the newcomer's
// `go run ./cmd/gateway`, with the record in a SQLite file.
func (s *stores) embedded() bool { return s.record.Engine() == "sqlite" && s.redis.Embedded }

// openStores opens the record (DATABASE_URL's PostgreSQL, else SQLite in
// GATEWAY_DATA_DIR), migrating it first unless GATEWAY_MIGRATE=off, and
// Redis (REDIS_URL, else the embedded one). redisTimeout overrides
// REDIS_TIMEOUT when positive (bulk commands wait longer).
func openStores(ctx context.Context, cfg config, log *slog.Logger, redisTimeout time.Duration) (*stores, error) {
	if cfg.DatabaseURL == "" && cfg.Env == "production" {
		return nil, fmt.Errorf("GATEWAY_ENV=production refuses the embedded SQLite record: set DATABASE_URL to a PostgreSQL")
	}
	open := sqlstore.Open
	if cfg.Migrate == "off" {
		open = sqlstore.OpenCurrent
	}
	rec, err := open(ctx, cfg.DatabaseURL, cfg.DataDir)
	if err != nil {
		return nil, fmt.Errorf("record (%s): %w", recordName(cfg), err)
	}
	if redisTimeout <= 0 {
		redisTimeout = cfg.RedisTimeout
	}
	rc, err := rediscache.Open(ctx, rediscache.Config{
		URL: cfg.RedisURL, Addrs: cfg.RedisAddrs, SentinelMaster: cfg.RedisMaster, Timeout: redisTimeout,
	})
	if err != nil {
		rec.Close()
		return nil, fmt.Errorf("redis: %w", err)
	}
	var opts []rediscache.Option
	if cfg.RedisWaitReplicas > 0 {
		opts = append(opts, rediscache.WithWait(cfg.RedisWaitReplicas, cfg.RedisWaitTimeout))
	}
	s := &stores{record: rec, audit: sqlstore.NewAudit(rec), postings: sqlstore.NewCapacity(rec), redis: rc,
		cache: rediscache.NewCapacityStore(rc.Client, int64(cfg.CapacityHistory), opts...)}
	s.capacity = capacity.NewRecorded(s.postings, s.cache, log)
	return s, nil
}

// Close closes both stores.
func (s *stores) Close() {
	s.redis.Close()
	s.record.Close()
}

// rebuilder rebuilds the capacity cache from the record, placing Locations
// with geo as the directory does.
func (s *stores) rebuilder(geo *geocode.Table, log *slog.Logger) *capacity.Rebuilder {
	return &capacity.Rebuilder{Record: s.postings, Cache: s.cache, Directory: s.record,
		Places: directory.New(s.record, s.cache, geo, log, nil)}
}

// recordName says which record a configuration uses, without secrets: the
// masked PostgreSQL URL, or the SQLite file.
func recordName(cfg config) string {
	if cfg.DatabaseURL != "" {
		return "postgres " + maskURL(cfg.DatabaseURL)
	}
	return "sqlite " + filepath.Join(cfg.DataDir, sqlstore.SQLiteFile)
}

// maskURL writes a database or Redis URL for logs: its password, and any
// password or sslpassword parameter, become "xxxxx". A URL that does not
// parse is not shown at all.
func maskURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparseable URL)"
	}
	q := u.Query()
	for k := range q {
		if strings.Contains(strings.ToLower(k), "password") {
			q.Set(k, "xxxxx")
		}
	}
	u.RawQuery = q.Encode()
	return u.Redacted()
}

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
