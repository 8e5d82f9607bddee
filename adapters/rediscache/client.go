// Package rediscache is the gateway's Redis adapter: versioned FHIR
// resources with history and search indexes, written atomically by Lua
// scripts whose keys share one hash slot per partition, so the same code
// runs on a single Redis, Sentinel or Redis Cluster.
package rediscache

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/extra/redisotel/v9"
	"github.com/redis/go-redis/v9"
)

// Config says which Redis to use.
type Config struct {
	// URL is a redis:// or rediss:// URL of a single server.
	URL string
	// Addrs are Redis Cluster seed nodes, or Sentinel addresses when
	// SentinelMaster is set.
	Addrs          []string
	SentinelMaster string
	// Timeout bounds each command and each dial. Default 2s.
	Timeout  time.Duration
	PoolSize int
	// Traces gives the client OpenTelemetry spans of its commands and
	// pipelines; Metrics, its connection pool's metrics (redisotel). Leave
	// them off when nothing exports them, as `gateway serve` does without
	// an exporter: the hooks build every span's name and attributes before
	// asking whether the span records, and every metric's attribute set
	// with no reader, a tenth of a placement request's allocations
	// (objects) at 25,000 providers for nothing.
	Traces, Metrics bool
}

// Conn is an open Redis client and what it is connected to.
type Conn struct {
	Client redis.UniversalClient
	// Embedded is true when the store is the in-process miniredis: nothing
	// persists after the process exits.
	Embedded bool
	// Mode is "embedded", "single", "sentinel" or "cluster".
	Mode string
	mini *miniredis.Miniredis
}

// Close closes the client and stops an embedded store.
func (c *Conn) Close() error {
	err := c.Client.Close()
	if c.mini != nil {
		c.mini.Close()
	}
	return err
}

// slogLogger routes go-redis's internal log lines (pool dial failures) to
// slog at warning level instead of the standard logger.
type slogLogger struct{}

func (slogLogger) Printf(ctx context.Context, format string, v ...any) {
	slog.WarnContext(ctx, "redis client", slog.String("detail", fmt.Sprintf(format, v...)))
}

// Open connects to Redis. With no URL and no Addrs it starts an embedded
// in-process miniredis and connects to it over loopback through the same
// go-redis client, so the embedded default exercises the production code
// path. It does not wait for Redis to answer: /readyz reports that.
func Open(ctx context.Context, cfg Config) (*Conn, error) {
	if cfg.Timeout <= 0 {
		cfg.Timeout = 2 * time.Second
	}
	opts := &redis.UniversalOptions{
		// Context deadlines apply to socket reads only with this set (go-redis
		// otherwise waits its own ReadTimeout).
		ContextTimeoutEnabled: true,
		DialTimeout:           cfg.Timeout,
		ReadTimeout:           cfg.Timeout,
		WriteTimeout:          cfg.Timeout,
		PoolTimeout:           cfg.Timeout,
		PoolSize:              cfg.PoolSize,
		MaxRetries:            1,
		// go-redis dials up to five times per attempt, 100 ms apart: with a
		// Redis that refuses connections every command then took a second
		// or more, and a request of several commands ran into its deadline
		// (503 timeout) instead of failing fast (503 transient). Two dials
		// still ride over one refused connect.
		DialerRetries: 2,
	}
	redis.SetLogger(slogLogger{})
	conn := &Conn{}
	switch {
	case cfg.URL == "" && len(cfg.Addrs) == 0:
		m, err := miniredis.Run()
		if err != nil {
			return nil, fmt.Errorf("embedded store: %w", err)
		}
		conn.mini, conn.Embedded, conn.Mode = m, true, "embedded"
		opts.Addrs = []string{m.Addr()}
	case len(cfg.Addrs) > 0:
		opts.Addrs = cfg.Addrs
		opts.MasterName = cfg.SentinelMaster
		conn.Mode = "cluster"
		if cfg.SentinelMaster != "" {
			conn.Mode = "sentinel"
		}
		if cfg.URL != "" {
			u, err := redis.ParseURL(cfg.URL)
			if err != nil {
				return nil, fmt.Errorf("REDIS_URL: %w", err)
			}
			opts.Username, opts.Password, opts.TLSConfig = u.Username, u.Password, u.TLSConfig
		}
	default:
		u, err := redis.ParseURL(cfg.URL)
		if err != nil {
			return nil, fmt.Errorf("REDIS_URL: %w", err)
		}
		opts.Addrs = []string{u.Addr}
		opts.DB, opts.Username, opts.Password, opts.TLSConfig = u.DB, u.Username, u.Password, u.TLSConfig
		conn.Mode = "single"
	}
	if conn.Mode == "cluster" && len(opts.Addrs) == 1 {
		// One seed node is still a cluster when the operator says so via
		// REDIS_ADDRS; NewUniversalClient would treat it as a single server.
		conn.Client = redis.NewClusterClient(opts.Cluster())
	} else {
		conn.Client = redis.NewUniversalClient(opts)
	}
	// Spans carry the command name only: arguments hold resource JSON. No
	// caller attributes: the hook would walk the stack for them on every
	// command, recorded or not (1.4 % of a placement request's CPU in a
	// profile at 25,000 providers), to name this package's own call site.
	if cfg.Traces {
		if err := redisotel.InstrumentTracing(conn.Client, redisotel.WithDBStatement(false), redisotel.WithCallerEnabled(false)); err != nil {
			return nil, err
		}
	}
	if cfg.Metrics {
		if err := redisotel.InstrumentMetrics(conn.Client); err != nil {
			return nil, err
		}
	}
	return conn, nil
}
