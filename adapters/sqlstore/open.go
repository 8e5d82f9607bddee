// Package sqlstore is the system of record for FHIR resources in SQL: a
// fhir.Store on PostgreSQL (through pgx, when a DATABASE_URL is given) or on
// an embedded SQLite file (a pure-Go driver, in the data directory), through
// the same code and the same portable SQL. Beside the resources it keeps
// the audit trail (Audit) and the capacity postings behind the Redis
// capacity cache (Capacity). Placeholders are $1, $2, … on
// both (SQLite reads $NNN as the NNN-th argument).
//
// Semantics, as adapters/rediscache's store has them:
//
//   - Each resource is a row of resources with its current version, and
//     every version is a row of resource_history.
//   - A Commit is one SQL transaction, at READ COMMITTED on PostgreSQL.
//     Commits to one partition run side by side: they share no row unless
//     they write the same resource or claim the same guarded value, so
//     concurrent creates share the server's WAL flushes (group commit).
//     Only the directory partition keeps a Generation: its commits first
//     increment its partition_generation row, whose lock runs them one
//     after another (directory writes are rare; placement's cache reads
//     the counter per request).
//   - On SQLite a write transaction is BEGIN IMMEDIATE, so writers are
//     serialized by the database lock; readers see a snapshot (WAL).
//   - A create holds when the resource's primary key is free: its INSERT
//     (ON CONFLICT DO NOTHING) waits for a concurrent create of the same
//     key and inserts nothing if that one committed. An update holds when
//     the UPDATE's WHERE version = $expected matches: it waits for a
//     concurrent writer of the row and then sees the version it left.
//     Either failure is KindRetry. A commit writes its resources in (type,
//     id) order, so two commits of the same resources queue rather than
//     deadlock.
//   - A Guard holds when no resource of its Type has Param = Token before
//     the commit, and at most one of the commit's writes gives a resource
//     that value: two conditional creates with the same condition in one
//     Bundle would otherwise both pass. The check is made race-safe by a
//     claim row (migration 5): the commit inserts (partition, type, param,
//     token) into guard_claims before it reads search_token, and deletes it
//     again; a concurrent commit claiming the same value waits on that key
//     until the first ends, so its read comes after the first's commit.
//     Either failure is KindRetry.
//   - A serialization failure (40001), a deadlock (40P01) or SQLITE_BUSY is
//     retried inside the store up to maxAttempts times, then reported as
//     KindUnavailable. Connection failures are KindUnavailable at once: a
//     COMMIT whose outcome is unknown is never replayed.
//
// Tenancy in depth: every patient-data table has a partition column first
// in its key, every query names the partition, and on PostgreSQL row-level
// security policies (migration 2) admit only rows of the partition set by
// the store in each transaction with set_config('app.partition', p, true).
// guard_claims has no policy: it is empty between transactions, and an
// uncommitted row is seen by no other session. The audit table is
// append-only there (UPDATE and DELETE revoked). SQLite
// has no roles or policies; an embedded store is one process's own file.
package sqlstore

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver
	_ "modernc.org/sqlite"             // registers the "sqlite" database/sql driver

	"github.com/dischargegateway/gateway/discharge"
)

// engine is the SQL database behind a Store.
type engine uint8

const (
	enginePostgres engine = iota + 1
	engineSQLite
)

// SQLiteFile is the database file's name in the data directory.
const SQLiteFile = "gateway.db"

//go:embed migrations/*.sql
var migrationFiles embed.FS

//go:embed security_postgres.sql
var securityPostgres string

//go:embed security_referral_postgres.sql
var securityReferralPostgres string

// Open connects to the database that databaseURL names (postgres:// or
// postgresql://, through pgx) or, when it is empty, to the SQLite file
// SQLiteFile in dataDir (created if missing), and brings the schema up to
// date (Migrate) before returning.
func Open(ctx context.Context, databaseURL, dataDir string) (*Store, error) {
	db, eng, err := openDB(ctx, databaseURL, dataDir)
	if err != nil {
		return nil, err
	}
	if err := migrate(ctx, db, eng); err != nil {
		db.Close()
		return nil, err
	}
	return newStore(db, eng), nil
}

// Migrate applies every pending migration to the database Open would use,
// for `gateway migrate`. On PostgreSQL run it as the role the gateway
// connects as, which then owns the tables: not a superuser and without
// BYPASSRLS, since those pass through row-level security. Migration 2
// revokes that role's UPDATE and DELETE on the audit log. (A deployment
// that wants a separate owner role grants the gateway's role SELECT,
// INSERT, UPDATE, DELETE on the patient-data tables and SELECT, INSERT on
// audit_log itself.)
func Migrate(ctx context.Context, databaseURL, dataDir string) error {
	db, eng, err := openDB(ctx, databaseURL, dataDir)
	if err != nil {
		return err
	}
	defer db.Close()
	return migrate(ctx, db, eng)
}

func openDB(ctx context.Context, databaseURL, dataDir string) (*sql.DB, engine, error) {
	const op = "sqlstore.Open"
	var (
		db  *sql.DB
		eng engine
		err error
	)
	switch {
	case strings.HasPrefix(databaseURL, "postgres://"), strings.HasPrefix(databaseURL, "postgresql://"):
		eng = enginePostgres
		db, err = sql.Open("pgx", databaseURL)
		if err != nil {
			return nil, 0, discharge.Wrap(discharge.KindInternal, op, err)
		}
		db.SetMaxOpenConns(20)
		db.SetMaxIdleConns(20)
		db.SetConnMaxIdleTime(5 * time.Minute)
	case databaseURL == "":
		eng = engineSQLite
		if dataDir == "" {
			return nil, 0, discharge.Wrap(discharge.KindInternal, op, errors.New("no DATABASE_URL and no data directory"))
		}
		if err := os.MkdirAll(dataDir, 0o700); err != nil {
			return nil, 0, discharge.Wrap(discharge.KindUnavailable, op, err)
		}
		db, err = sql.Open("sqlite", sqliteDSN(filepath.Join(dataDir, SQLiteFile)))
		if err != nil {
			return nil, 0, discharge.Wrap(discharge.KindInternal, op, err)
		}
		// One writer at a time is SQLite's rule anyway; a few connections
		// let reads go on beside it (WAL).
		db.SetMaxOpenConns(8)
		// Kept open when idle (the default keeps 2): each new connection
		// runs the pragmas again and loses its prepared statements.
		db.SetMaxIdleConns(8)
	default:
		return nil, 0, discharge.Wrap(discharge.KindInternal, op, errors.New("DATABASE_URL must be a postgres:// URL"))
	}
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, 0, classify(op, err)
	}
	return db, eng, nil
}

// sqliteDSN opens the file in WAL mode with full sync (a commit is on disk
// when it returns), waits up to 10 s for a lock rather than failing at
// once, and begins read-write transactions IMMEDIATE so that the write lock
// is taken before anything is read: a transaction's checks and writes then
// see no other writer. (The driver begins read-only transactions deferred.)
// Temporary files stay in memory: a write group's savepoints
// (writegroup.go) keep each member's statement journal, which SQLite
// otherwise spills to a temporary file past 64 KiB, and that file's writes
// were a tenth of intake's CPU.
func sqliteDSN(path string) string {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(FULL)")
	q.Add("_pragma", "temp_store(MEMORY)")
	q.Set("_txlock", "immediate")
	return "file:" + path + "?" + q.Encode()
}

// errNotMigrated is what OpenCurrent says of a database for a database
// whose schema lacks migrations: run `gateway migrate` first.
var errNotMigrated = errors.New("the database schema is not current: run `gateway migrate` (or start with GATEWAY_MIGRATE=auto)")

// OpenCurrent connects as Open does but runs no migration: it refuses a
// database whose schema is not at the latest version, for deployments that
// migrate in a separate step (GATEWAY_MIGRATE=off) so that gateways never
// change the schema as they start.
func OpenCurrent(ctx context.Context, databaseURL, dataDir string) (*Store, error) {
	const op = "sqlstore.Open"
	db, eng, err := openDB(ctx, databaseURL, dataDir)
	if err != nil {
		return nil, err
	}
	p, err := provider(db, eng)
	if err != nil {
		db.Close()
		return nil, err
	}
	pending, err := p.HasPending(ctx)
	if err != nil || pending {
		db.Close()
		if err != nil && discharge.ErrorKind(classify(op, err)) == discharge.KindUnavailable {
			return nil, discharge.Wrap(discharge.KindUnavailable, op, err)
		}
		if err != nil {
			err = fmt.Errorf("%w (%v)", errNotMigrated, err)
		} else {
			err = errNotMigrated
		}
		return nil, discharge.Wrap(discharge.KindInternal, op, err)
	}
	return newStore(db, eng), nil
}

// Engine names the database behind the store: "postgres" or "sqlite".
func (s *Store) Engine() string {
	if s.eng == enginePostgres {
		return "postgres"
	}
	return "sqlite"
}

// Migration 9 serves placement's acceptance figures (Referral.ProviderAnswers):
// an index of offers by owner and creation on both engines and, on
// PostgreSQL, a SELECT-only policy that admits every offers row to a
// transaction that set app.answers (the figures span every trust's offers;
// only owner, state and times are read).
const (
	answersIndex          = `CREATE INDEX offers_owner_created ON offers (owner, created_at)`
	answersPolicyPostgres = `CREATE POLICY answer_figures ON offers FOR SELECT
		USING (current_setting('app.answers', true) = 'on')`
)

// provider is goose's migration provider for the embedded migrations.
// Version 8 (cases_projection.go) is the case worklist projection, its
// triggers written for each engine; version 9 serves placement's
// acceptance figures on both engines (see answersIndex).
// Versions 2 and 7 are the PostgreSQL security migrations (7 for the
// referral tables), no-ops on SQLite so both engines count the same
// versions. On PostgreSQL an advisory lock
// keeps two gateways starting at once from migrating together.
func provider(db *sql.DB, eng engine) (*goose.Provider, error) {
	const op = "sqlstore.Migrate"
	files, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		return nil, discharge.Wrap(discharge.KindInternal, op, err)
	}
	dialect := goose.DialectSQLite3
	security := func(context.Context, *sql.Tx) error { return nil }
	referralSecurity := security
	var opts []goose.ProviderOption
	if eng == enginePostgres {
		dialect = goose.DialectPostgres
		security = func(ctx context.Context, tx *sql.Tx) error {
			_, err := tx.ExecContext(ctx, securityPostgres)
			return err
		}
		referralSecurity = func(ctx context.Context, tx *sql.Tx) error {
			_, err := tx.ExecContext(ctx, securityReferralPostgres)
			return err
		}
		locker, err := lock.NewPostgresSessionLocker()
		if err != nil {
			return nil, discharge.Wrap(discharge.KindInternal, op, err)
		}
		opts = append(opts, goose.WithSessionLocker(locker))
	}
	answers := func(ctx context.Context, tx *sql.Tx) error {
		stmts := []string{answersIndex}
		if eng == enginePostgres {
			stmts = append(stmts, answersPolicyPostgres)
		}
		for _, q := range stmts {
			if _, err := tx.ExecContext(ctx, q); err != nil {
				return err
			}
		}
		return nil
	}
	opts = append(opts, goose.WithDisableGlobalRegistry(true),
		goose.WithGoMigrations(goose.NewGoMigration(2, &goose.GoFunc{RunTx: security}, nil),
			goose.NewGoMigration(7, &goose.GoFunc{RunTx: referralSecurity}, nil),
			goose.NewGoMigration(8, &goose.GoFunc{RunTx: migrateCaseWorklist(eng)}, nil),
			goose.NewGoMigration(9, &goose.GoFunc{RunTx: answers}, nil),
			// 11: Subscriptions (subscription.go).
			goose.NewGoMigration(11, &goose.GoFunc{RunTx: migrateSubscriptions(eng)}, nil),
			// 12: processed FHIR messages (messages.go).
			goose.NewGoMigration(12, &goose.GoFunc{RunTx: migrateProcessedMessages(eng)}, nil),
			// 14 and 15: the sitrep's counters and their backfill (sitrep.go).
			goose.NewGoMigration(14, &goose.GoFunc{RunTx: migrateSitrep(eng)}, nil),
			goose.NewGoMigration(15, &goose.GoFunc{RunTx: migrateSitrepBackfill(eng)}, nil),
			// 16: the virtual wards' daily figures (virtualward.go).
			goose.NewGoMigration(16, &goose.GoFunc{RunTx: migrateVirtualWards}, nil),
			// 17: the forecast's counters, kept forecasts and scores (forecast.go).
			goose.NewGoMigration(17, &goose.GoFunc{RunTx: migrateForecast(eng)}, nil),
			// 18: the NCTR stock at each day's close (sitrep_stock.go).
			goose.NewGoMigration(18, &goose.GoFunc{RunTx: migrateSitrepStock(eng)}, nil),
			// 19: the worklist's sort indexes (cases_projection.go).
			goose.NewGoMigration(19, &goose.GoFunc{RunTx: migrate19(eng)}, nil)))
	p, err := goose.NewProvider(dialect, db, files, opts...)
	if err != nil {
		return nil, discharge.Wrap(discharge.KindInternal, op, err)
	}
	return p, nil
}

// migrate applies the embedded migrations with goose.
func migrate(ctx context.Context, db *sql.DB, eng engine) error {
	const op = "sqlstore.Migrate"
	p, err := provider(db, eng)
	if err != nil {
		return err
	}
	if _, err := p.Up(ctx); err != nil {
		if discharge.ErrorKind(classify(op, err)) == discharge.KindUnavailable {
			return discharge.Wrap(discharge.KindUnavailable, op, err)
		}
		return discharge.Wrap(discharge.KindInternal, op, fmt.Errorf("migrate: %w", err))
	}
	return nil
}

// Close closes the database handle.
func (s *Store) Close() error {
	s.closeStmts()
	if s.writes != nil {
		s.writes.close()
	}
	return s.db.Close()
}

// newStore is the Store over db: on SQLite with its write group.
func newStore(db *sql.DB, eng engine) *Store {
	s := &Store{db: db, eng: eng, maxAttempts: defaultAttempts}
	if eng == engineSQLite {
		s.writes = newWriteGroup(db)
	}
	return s
}
