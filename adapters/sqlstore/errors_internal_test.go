package sqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/dischargegateway/gateway/discharge"
)

func TestClassify(t *testing.T) {
	pgErr := func(code string) error { return fmt.Errorf("exec: %w", &pgconn.PgError{Code: code}) }
	tests := []struct {
		name string
		err  error
		want discharge.Kind
	}{
		{"no rows", sql.ErrNoRows, discharge.KindNotFound},
		{"deadline", context.DeadlineExceeded, discharge.KindTimeout},
		{"canceled", context.Canceled, discharge.KindTimeout},
		{"unique violation", pgErr("23505"), discharge.KindRetry},
		{"serialization failure", pgErr("40001"), discharge.KindUnavailable},
		{"deadlock", pgErr("40P01"), discharge.KindUnavailable},
		{"connection failure", pgErr("08006"), discharge.KindUnavailable},
		{"too many connections", pgErr("53300"), discharge.KindUnavailable},
		{"admin shutdown", pgErr("57P01"), discharge.KindUnavailable},
		{"read-only standby", pgErr("25006"), discharge.KindUnavailable},
		{"syntax error", pgErr("42601"), discharge.KindInternal},
		{"connect error", &pgconn.ConnectError{}, discharge.KindUnavailable},
		{"refused", &net.OpError{Op: "dial", Err: syscall.ECONNREFUSED}, discharge.KindUnavailable},
		{"reset", fmt.Errorf("read: %w", syscall.ECONNRESET), discharge.KindUnavailable},
		{"eof", io.ErrUnexpectedEOF, discharge.KindUnavailable},
		{"bad conn", driver.ErrBadConn, discharge.KindUnavailable},
		{"conn done", sql.ErrConnDone, discharge.KindUnavailable},
		{"kept kind", discharge.Wrap(discharge.KindRetry, "x", nil), discharge.KindRetry},
		{"other", errors.New("boom"), discharge.KindInternal},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := discharge.ErrorKind(classify("op", tc.err)); got != tc.want {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
}

// TestRetriesAreBounded: a transaction that keeps failing with a
// serialization failure runs maxAttempts times, then is unavailable; one
// that fails otherwise runs once.
func TestRetriesAreBounded(t *testing.T) {
	s := openSQLite(t)
	tests := []struct {
		name     string
		err      error
		runs     int
		wantKind discharge.Kind
	}{
		{"serialization failure", &pgconn.PgError{Code: "40001"}, defaultAttempts, discharge.KindUnavailable},
		{"deadlock", &pgconn.PgError{Code: "40P01"}, defaultAttempts, discharge.KindUnavailable},
		{"unique violation", &pgconn.PgError{Code: "23505"}, 1, discharge.KindRetry},
		{"version check", &discharge.Error{Kind: discharge.KindRetry}, 1, discharge.KindRetry},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			runs := 0
			before := s.Retries()
			err := s.inTx(context.Background(), "test", "p", false, func(*sql.Tx) error { runs++; return tc.err })
			if runs != tc.runs || discharge.ErrorKind(err) != tc.wantKind || s.Retries()-before != int64(tc.runs-1) {
				t.Fatalf("%d runs, %d retries, %v", runs, s.Retries()-before, err)
			}
		})
	}
	// A transient failure that clears is invisible to the caller.
	runs := 0
	err := s.inTx(context.Background(), "test", "p", false, func(*sql.Tx) error {
		if runs++; runs < 3 {
			return &pgconn.PgError{Code: "40001"}
		}
		return nil
	})
	if err != nil || runs != 3 {
		t.Fatalf("%d runs: %v", runs, err)
	}
}

// TestRefused pins which failures of an audit group are retried row by
// row: only statements the server answered with a refusal, never a lost
// connection (the group may have been written) or a busy server.
func TestRefused(t *testing.T) {
	pgErr := func(code string) error { return fmt.Errorf("exec: %w", &pgconn.PgError{Code: code}) }
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"invalid byte sequence", pgErr("22021"), true},
		{"unique violation", pgErr("23505"), true},
		{"serialization failure", pgErr("40001"), false},
		{"shutting down", pgErr("57P01"), false},
		{"connection lost", io.ErrUnexpectedEOF, false},
		{"deadline", context.DeadlineExceeded, false},
		{"nil", nil, false},
	} {
		if got := refused(tc.err); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}

// A transaction whose caller's context ends midway is a timeout, not an
// internal error: database/sql rolls it back, and the next statement fails
// with sql.ErrTxDone, which classify alone calls internal.
func TestDeadlineInsideATransactionIsATimeout(t *testing.T) {
	s := openSQLite(t)
	ctx, cancel := context.WithCancel(context.Background())
	err := s.inTx(ctx, "test.read", "RXX", true, func(tx *sql.Tx) error {
		cancel()
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); {
			var n int
			// sql.ErrTxDone once database/sql's rollback has run. Before
			// it, the driver may fail a statement with the context's own
			// error (it interrupts a statement when the transaction's
			// context ends), which classify already calls a timeout: the
			// case pinned here is the one it does not.
			if err := tx.QueryRow("SELECT 1").Scan(&n); errors.Is(err, sql.ErrTxDone) {
				return err
			}
		}
		return errors.New("the transaction was never rolled back")
	})
	if !errors.Is(err, sql.ErrTxDone) || discharge.ErrorKind(err) != discharge.KindTimeout {
		t.Fatalf("a read whose context ended: %v (kind %q), want sql.ErrTxDone as %q", err, discharge.ErrorKind(err), discharge.KindTimeout)
	}
}
