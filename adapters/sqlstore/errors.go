package sqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/dischargegateway/gateway/discharge"
)

// classify turns a database error into the gateway's kinds: no row is
// KindNotFound, an expired context KindTimeout, a unique violation
// KindRetry (another commit won a race for the same key), anything that
// says the database cannot be reached or cannot take the transaction now
// KindUnavailable, and the rest KindInternal.
func classify(op string, err error) error {
	var de *discharge.Error
	switch {
	case err == nil:
		return nil
	case errors.As(err, &de):
		return err
	case errors.Is(err, sql.ErrNoRows):
		return discharge.Wrap(discharge.KindNotFound, op, err)
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return discharge.Wrap(discharge.KindTimeout, op, err)
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch {
		case pe.Code == "23505": // unique_violation
			return discharge.Wrap(discharge.KindRetry, op, err)
		case retryablePg(pe.Code),
			strings.HasPrefix(pe.Code, "08"),  // connection exception
			strings.HasPrefix(pe.Code, "53"),  // insufficient resources (too many connections, disk full)
			strings.HasPrefix(pe.Code, "57P"), // operator intervention: shutdown, crash, cannot connect now
			pe.Code == "25006":                // read_only_sql_transaction: a standby after a failover
			return discharge.Wrap(discharge.KindUnavailable, op, err)
		}
		return discharge.Wrap(discharge.KindInternal, op, err)
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() {
		case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			return discharge.Wrap(discharge.KindRetry, op, err)
		}
		switch se.Code() & 0xff { // the primary result code
		case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_FULL,
			sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_READONLY, sqlite3.SQLITE_PROTOCOL:
			return discharge.Wrap(discharge.KindUnavailable, op, err)
		}
		return discharge.Wrap(discharge.KindInternal, op, err)
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return discharge.Wrap(discharge.KindTimeout, op, err)
	}
	var ce *pgconn.ConnectError
	var oe *net.OpError
	if errors.As(err, &ce) || errors.As(err, &oe) || pgconn.SafeToRetry(err) ||
		errors.Is(err, driver.ErrBadConn) || errors.Is(err, sql.ErrConnDone) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return discharge.Wrap(discharge.KindUnavailable, op, err)
	}
	return discharge.Wrap(discharge.KindInternal, op, err)
}

// retryablePg reports a PostgreSQL error after which the server has rolled
// the transaction back and running it again may succeed.
func retryablePg(code string) bool {
	return code == "40001" || code == "40P01" // serialization_failure, deadlock_detected
}

// retryable reports an error that rolled the whole transaction back and is
// worth running it again for: a serialization failure, a deadlock, or
// SQLite's busy/locked (the busy timeout ran out).
func retryable(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return retryablePg(pe.Code)
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		c := se.Code() & 0xff
		return c == sqlite3.SQLITE_BUSY || c == sqlite3.SQLITE_LOCKED
	}
	return false
}

// refused reports an error the database answered a statement with, which
// therefore changed nothing, other than one that says it cannot take the
// statement now (busy, shutting down, out of resources).
func refused(err error) bool {
	var pe *pgconn.PgError
	var se *sqlite.Error
	if !errors.As(err, &pe) && !errors.As(err, &se) {
		return false
	}
	k := discharge.ErrorKind(classify("", err))
	return k != discharge.KindUnavailable && k != discharge.KindTimeout
}
