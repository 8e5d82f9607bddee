package sqlstore

import (
	"context"
	"database/sql"
	"sync"
	"time"
)

// maxCachedStmts bounds the statement cache: the store's statements of
// constant text are a few dozen; text built from a caller's list (an IN
// of n placeholders, a search's filters) varies, and beyond the bound it
// is simply prepared per call, as before.
const maxCachedStmts = 256

// stmtCache keeps prepared statements by their SQL text, on SQLite only.
// The modernc driver parses a statement on every call otherwise, and the
// parse was a fifth of a capacity posting's CPU and of a placement
// request's (bench/perf-2026-11-30.md). database/sql keeps each statement
// prepared per connection and Tx.StmtContext reuses the connection's, so
// a statement is parsed once per connection. On PostgreSQL pgx caches
// statements by text already, and reads go through partitionBatch.
type stmtCache struct {
	mu sync.RWMutex
	m  map[string]*sql.Stmt
	// preparing are the texts being prepared in the background.
	preparing map[string]bool
	// closed: the store is closing, and no more are prepared; Close waits
	// for those in flight (wg), so none opens a connection, and with it
	// the SQLite file's -wal and -shm, after Close returned.
	closed bool
	wg     sync.WaitGroup
}

// stmt returns q prepared for use in tx: from the cache on SQLite, else
// nil and the caller runs q as text. A text not cached yet is prepared in
// the background, never by the caller: preparing on the DB takes a free
// connection, and a caller inside a transaction holds one, so with every
// connection held by a transaction waiting to prepare, none would ever
// come free (it hung the referral suite's 50 concurrent accepts).
func (s *Store) stmt(ctx context.Context, tx *sql.Tx, q string) *sql.Stmt {
	if st := s.cached(q); st != nil {
		return tx.StmtContext(ctx, st)
	}
	return nil
}

// cached returns q prepared on the DB, from the cache on SQLite, else nil
// (and the caller runs q as text). A text not cached yet is prepared in
// the background (stmt says why never by the caller).
func (s *Store) cached(q string) *sql.Stmt {
	if s.eng != engineSQLite {
		return nil
	}
	s.stmts.mu.RLock()
	st, ok := s.stmts.m[q]
	s.stmts.mu.RUnlock()
	if ok {
		return st
	}
	s.stmts.mu.Lock()
	if _, ok := s.stmts.m[q]; !ok && !s.stmts.closed && !s.stmts.preparing[q] && len(s.stmts.m)+len(s.stmts.preparing) < maxCachedStmts {
		if s.stmts.preparing == nil {
			s.stmts.preparing = map[string]bool{}
		}
		s.stmts.preparing[q] = true
		s.stmts.wg.Add(1)
		go s.prepareStmt(q)
	}
	s.stmts.mu.Unlock()
	return nil
}

// prepareStmt prepares q on the DB and caches it (stmt). A failure is not
// cached as such: the text stays out of the cache and is run as text.
func (s *Store) prepareStmt(q string) {
	defer s.stmts.wg.Done()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := s.db.PrepareContext(ctx, q)
	s.stmts.mu.Lock()
	defer s.stmts.mu.Unlock()
	delete(s.stmts.preparing, q)
	if err != nil {
		return
	}
	if s.stmts.closed {
		_ = st.Close()
		return
	}
	if s.stmts.m == nil {
		s.stmts.m = map[string]*sql.Stmt{}
	}
	s.stmts.m[q] = st
}

// closeStmts stops the cache preparing, waits for the statements being
// prepared and closes every cached one: the first step of Store.Close.
func (s *Store) closeStmts() {
	s.stmts.mu.Lock()
	s.stmts.closed = true
	s.stmts.mu.Unlock()
	s.stmts.wg.Wait()
	s.stmts.mu.Lock()
	defer s.stmts.mu.Unlock()
	for q, st := range s.stmts.m {
		_ = st.Close()
		delete(s.stmts.m, q)
	}
}

// queryRow runs q in tx, prepared once per connection on SQLite.
func (s *Store) queryRow(ctx context.Context, tx *sql.Tx, q string, args ...any) *sql.Row {
	if st := s.stmt(ctx, tx, q); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return tx.QueryRowContext(ctx, q, args...)
}

// queryRowAlone runs q on its own, outside any transaction, prepared once
// per connection: on SQLite one statement in autocommit mode reads one
// snapshot (its own read transaction).
func (s *Store) queryRowAlone(ctx context.Context, q string, args ...any) *sql.Row {
	if st := s.cached(q); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return s.db.QueryRowContext(ctx, q, args...)
}

// queryAlone is queryRowAlone for a query of many rows.
func (s *Store) queryAlone(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	if st := s.cached(q); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return s.db.QueryContext(ctx, q, args...)
}

// query runs q in tx, prepared once per connection on SQLite.
func (s *Store) query(ctx context.Context, tx *sql.Tx, q string, args ...any) (*sql.Rows, error) {
	if st := s.stmt(ctx, tx, q); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return tx.QueryContext(ctx, q, args...)
}

// exec runs q in tx, prepared once per connection on SQLite.
func (s *Store) exec(ctx context.Context, tx *sql.Tx, q string, args ...any) (sql.Result, error) {
	if st := s.stmt(ctx, tx, q); st != nil {
		return st.ExecContext(ctx, args...)
	}
	return tx.ExecContext(ctx, q, args...)
}
