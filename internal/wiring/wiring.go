// Package wiring opens the gateway's stores, and builds what stands on them,
// one way for every command: `gateway serve`, `import`, `seed`,
// `rebuild-cache`, `migrate` (cmd/gateway) and the load generator
// (cmd/loadgen). A command says where the stores are and how Redis is used
// (Settings); the Redis client, its replica wait, the capacity cache and
// the record behind it are then built here and nowhere else, so a
// benchmark measures the gateway as it is deployed.
//
// It is wiring, like cmd/: it may import the adapters (internal/archtest).
package wiring

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	"github.com/dischargegateway/gateway/adapters/capacitycsv"
	"github.com/dischargegateway/gateway/adapters/cqccsv"
	"github.com/dischargegateway/gateway/adapters/geocode"
	"github.com/dischargegateway/gateway/adapters/rediscache"
	"github.com/dischargegateway/gateway/adapters/sqlstore"
	"github.com/dischargegateway/gateway/capacity"
	"github.com/dischargegateway/gateway/cases"
	"github.com/dischargegateway/gateway/directory"
	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/gateway"
	"github.com/dischargegateway/gateway/mappings"
	"github.com/dischargegateway/gateway/placement"
	"github.com/dischargegateway/gateway/referral"
	"github.com/dischargegateway/gateway/sitrep"
)

// Settings say where the stores are and how Redis is used. cmd/gateway
// reads them from its environment settings (DATABASE_URL, REDIS_URL, …);
// Defaults are those settings' defaults.
type Settings struct {
	// Env "production" refuses the embedded SQLite record.
	Env string
	// DatabaseURL is the PostgreSQL record; empty: SQLite in DataDir.
	DatabaseURL string
	DataDir     string
	// Migrate "off" never changes the record's schema; otherwise it is
	// brought up to date when opened.
	Migrate string
	// RedisURL, RedisAddrs and RedisMaster name a single server, a Cluster
	// or Sentinels; all empty: the embedded in-process Redis.
	RedisURL     string
	RedisAddrs   []string
	RedisMaster  string
	RedisTimeout time.Duration
	// RedisWaitReplicas, when positive, makes each capacity cache write
	// wait (up to RedisWaitTimeout) for that many replicas.
	RedisWaitReplicas int
	RedisWaitTimeout  time.Duration
	// RedisTraces and RedisMetrics instrument the Redis client with
	// OpenTelemetry spans and pool metrics (rediscache.Config): on when
	// something exports them, off by default.
	RedisTraces, RedisMetrics bool
}

// Defaults are the settings of a gateway configured with nothing but
// where its stores are (cmd/gateway's settings table has the same
// defaults; a test there says so).
func Defaults() Settings {
	return Settings{Env: "development", DataDir: "data", Migrate: "auto", RedisTimeout: 2 * time.Second,
		RedisWaitTimeout: time.Second}
}

// BulkRedisTimeout is the Redis command deadline of the bulk commands
// (`gateway seed`, `rebuild-cache`), whose pipelines are long.
const BulkRedisTimeout = 10 * time.Second

// Stores are the gateway's two stores: the system of record in SQL
// (resources and their history, capacity postings as asserted, the audit
// trail) and Redis for what is derived from it or can be lost (the
// capacity cache and geo shards, rate limits, the token replay cache).
type Stores struct {
	Record   *sqlstore.Store
	Audit    *sqlstore.Audit
	Postings *sqlstore.Capacity
	Redis    *rediscache.Conn
	// Cache is the capacity cache; write capacity through Capacity.
	Cache *rediscache.CapacityStore
	// Capacity records postings before caching them: every writer of
	// capacity goes through it.
	Capacity *capacity.Recorded
}

// Open opens the record (DatabaseURL's PostgreSQL, else SQLite in
// DataDir), migrating it first unless Migrate is "off", and Redis
// (RedisURL or RedisAddrs, else the embedded one). A nil log is
// slog.Default.
func Open(ctx context.Context, set Settings, log *slog.Logger) (*Stores, error) {
	if set.DatabaseURL == "" && set.Env == "production" {
		return nil, fmt.Errorf("GATEWAY_ENV=production refuses the embedded SQLite record: set DATABASE_URL to a PostgreSQL")
	}
	open := sqlstore.Open
	if set.Migrate == "off" {
		open = sqlstore.OpenCurrent
	}
	rec, err := open(ctx, set.DatabaseURL, set.DataDir)
	if err != nil {
		return nil, fmt.Errorf("record (%s): %w", RecordName(set), err)
	}
	rc, err := rediscache.Open(ctx, rediscache.Config{
		URL: set.RedisURL, Addrs: set.RedisAddrs, SentinelMaster: set.RedisMaster, Timeout: set.RedisTimeout,
		Traces: set.RedisTraces, Metrics: set.RedisMetrics,
	})
	if err != nil {
		rec.Close()
		return nil, fmt.Errorf("redis: %w", err)
	}
	var opts []rediscache.Option
	if set.RedisWaitReplicas > 0 {
		opts = append(opts, rediscache.WithWait(set.RedisWaitReplicas, set.RedisWaitTimeout))
	}
	s := &Stores{Record: rec, Audit: sqlstore.NewAudit(rec), Postings: sqlstore.NewCapacity(rec), Redis: rc,
		Cache: rediscache.NewCapacityStore(rc.Client, opts...)}
	s.Capacity = capacity.NewRecorded(s.Postings, s.Cache, log)
	return s, nil
}

// Migrate brings the record's schema up to date (`gateway migrate`, for
// deployments whose gateways start with GATEWAY_MIGRATE=off).
func Migrate(ctx context.Context, set Settings) error {
	return sqlstore.Migrate(ctx, set.DatabaseURL, set.DataDir)
}

// Embedded reports that neither store is a server: the newcomer's
// `go run ./cmd/gateway`, with the record in a SQLite file.
func (s *Stores) Embedded() bool { return s.Record.Engine() == "sqlite" && s.Redis.Embedded }

// Close closes both stores.
func (s *Stores) Close() {
	s.Redis.Close()
	s.Record.Close()
}

// Directory is the directory service on these stores: what the import
// commands and the demo world write the directory through, as the
// gateway's own directory import does.
func (s *Stores) Directory(geo *geocode.Table, log *slog.Logger) *directory.Service {
	return directory.New(s.Record, s.Capacity, geo, cqccsv.Parse, log, nil)
}

// LoadWorld imports listings and posts their capacity the way an
// operator's import and the providers' postings would: through the
// directory import (idempotent, by the listings' ids) and Capacity, which
// records each posting before caching it. caps[i] is listings[i]'s; a
// capacity with neither beds nor home care is not posted. The demo world,
// `gateway seed` and cmd/loadgen fill the stores with it.
func (s *Stores) LoadWorld(ctx context.Context, geo *geocode.Table, log *slog.Logger,
	listings []discharge.Listing, caps []discharge.Capacity) (directory.ImportReport, error) {
	rep, err := s.Directory(geo, log).Import(ctx, listings, "")
	if err != nil {
		return rep, err
	}
	for i, c := range caps {
		if len(c.Beds) == 0 && len(c.HomeCare) == 0 {
			continue
		}
		l := listings[i]
		area := ""
		if l.Position != nil {
			area = geo.AreaOf(l.Postcode, *l.Position)
		}
		if _, _, err := s.Capacity.Put(ctx, c, l.Position, area); err != nil {
			return rep, err
		}
	}
	return rep, nil
}

// Rebuilder rebuilds the capacity cache from the record, placing Locations
// with geo as the directory does.
func (s *Stores) Rebuilder(geo *geocode.Table, log *slog.Logger) *capacity.Rebuilder {
	return &capacity.Rebuilder{Record: s.Postings, Cache: s.Cache, Directory: s.Record,
		Places: directory.New(s.Record, s.Cache, geo, cqccsv.Parse, log, nil)}
}

// GatewayDeps are the HTTP gateway's collaborators on these stores; the
// caller adds the Security it authenticates callers with and, running the
// referral loop, the Cases it closes (Referral). Placement and capacity
// reads see the referral record's holds either way.
func (s *Stores) GatewayDeps(tr *mappings.Translator, geo *geocode.Table, log *slog.Logger) gateway.Deps {
	counters, referrals := sqlstore.NewSitrep(s.Record), sqlstore.NewReferral(s.Record)
	return gateway.Deps{Store: s.Record, Translator: tr, Capacity: s.Capacity, Geocoder: geo, Logger: log,
		ParseDirectory: cqccsv.Parse, ParseCapacity: capacitycsv.Parse,
		Ready: s.Record, CapacityCounts: s.Cache, Cases: sqlstore.NewCases(s.Record),
		ReferralRecord: referrals, Messages: s.Record,
		Sitrep: counters, PlacementObservers: PlacementObservers(referrals, counters, log), SitrepHistory: counters,
		VirtualWards: sqlstore.NewVirtualWards(s.Record), Forecast: sqlstore.NewForecast(s.Record)}
}

// PlacementObservers are what hears of an answered placement search, in
// order: the sitrep's unmet-demand count (a by-product: its failure is
// logged) and the case's shortlisted event (the record's: its failure
// fails the answer). Placement knows neither.
func PlacementObservers(shortlists cases.ShortlistRecord, demand sitrep.DemandRecorder, log *slog.Logger) []placement.Observer {
	return []placement.Observer{sitrep.NewDemandObserver(demand, log), cases.NewShortlistObserver(shortlists, 0)}
}

// ReferralSettings configure the referral loop (cmd/gateway's
// REFERRAL_* settings); zero values are referral's defaults.
type ReferralSettings struct {
	Deadline             time.Duration
	HoldTTL              time.Duration
	IdentityBeforeAccept bool
}

// Referral is the referral loop on the record: its Tasks, offers, holds
// and case events in the record's database, pack reads audited in the
// record's audit trail. `gateway serve` starts its sweeper (Run).
func (s *Stores) Referral(set ReferralSettings, log *slog.Logger) *referral.Service {
	return referral.New(sqlstore.NewReferral(s.Record), referral.Options{Deadline: set.Deadline, HoldTTL: set.HoldTTL,
		IdentityBeforeAccept: set.IdentityBeforeAccept, Audit: s.Audit, Log: log})
}

// ForecastSweep is the forecast service `gateway serve` keeps each day's
// forecast with (sitrep.Forecast.RunDaily): keeping reads the record only,
// so it needs no supply.
func (s *Stores) ForecastSweep() *sitrep.Forecast {
	return sitrep.NewForecast(sqlstore.NewForecast(s.Record), nil, nil)
}

// EndedCases finds the cases whose Encounter ended with offers still open,
// for the referral loop's closure sweep (referral.Service.RunEnded).
func (s *Stores) EndedCases() referral.EndedCases { return sqlstore.NewReferral(s.Record) }

// RecordName says which record the settings use, without secrets: the
// masked PostgreSQL URL, or the SQLite file.
func RecordName(set Settings) string {
	if set.DatabaseURL != "" {
		return "postgres " + MaskURL(set.DatabaseURL)
	}
	return "sqlite " + filepath.Join(set.DataDir, sqlstore.SQLiteFile)
}

// MaskURL writes a database or Redis URL for logs: its password, and any
// password or sslpassword parameter, become "xxxxx". A URL that does not
// parse is not shown at all.
func MaskURL(raw string) string {
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
