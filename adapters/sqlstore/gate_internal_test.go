package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/dischargegateway/gateway/discharge"
)

// TestSQLiteWritersQueueWithoutConnections: while one write transaction
// holds SQLite's write lock, more writers than the pool has connections
// queue for the store's write group (once its write gate), holding none,
// so reads go on beside them; once the first commits, every queued writer
// commits.
// Without the queue the waiting writers each held a connection in BEGIN
// IMMEDIATE (SQLite's busy handler sleeping between tries), and with the
// pool's eight taken no read could start until the first writer ended.
func TestSQLiteWritersQueueWithoutConnections(t *testing.T) {
	ctx := context.Background()
	s := openSQLite(t)
	// write takes a hold lock's row; with wait, it first tells entered
	// it is inside its transaction and waits.
	entered := make(chan struct{}, 1)
	write := func(ctx context.Context, wait <-chan struct{}) error {
		return s.inTx(ctx, "test", "", false, func(tx *sql.Tx) error {
			if wait != nil {
				entered <- struct{}{}
				<-wait
			}
			_, err := tx.ExecContext(ctx, "INSERT INTO hold_locks (location, bed_type, takes) VALUES ('L', 'nursing', 1) ON CONFLICT (location, bed_type) DO UPDATE SET takes = hold_locks.takes + 1")
			return err
		})
	}
	release := make(chan struct{})
	first := make(chan error, 1)
	go func() { first <- write(ctx, release) }()
	<-entered
	const writers = 12 // more than the pool's 8 connections
	var wg sync.WaitGroup
	errs := make([]error, writers)
	for i := range writers {
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = write(ctx, nil) }()
	}
	time.Sleep(100 * time.Millisecond) // the writers queue
	rctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	for range 4 {
		_, err := s.Read(rctx, "RXA", "Patient", "nobody")
		if discharge.ErrorKind(err) != discharge.KindNotFound {
			t.Fatalf("a read beside the queued writers: %v, want not found", err)
		}
	}
	close(release)
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("writer %d: %v", i, err)
		}
	}
	var takes int
	if err := s.db.QueryRowContext(ctx, "SELECT takes FROM hold_locks WHERE location = 'L'").Scan(&takes); err != nil || takes != writers+1 {
		t.Fatalf("takes %d (%v), want %d", takes, err, writers+1)
	}

	// A writer whose context ends while it queues gives up as a timeout,
	// having written nothing.
	release = make(chan struct{})
	go func() { first <- write(ctx, release) }()
	<-entered
	qctx, qcancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer qcancel()
	err := write(qctx, nil)
	close(release)
	if ferr := <-first; ferr != nil {
		t.Fatal(ferr)
	}
	if discharge.ErrorKind(err) != discharge.KindTimeout && !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a writer that gave up while queued: %v, want a timeout", err)
	}
	if err := s.db.QueryRowContext(ctx, "SELECT takes FROM hold_locks WHERE location = 'L'").Scan(&takes); err != nil || takes != writers+2 {
		t.Fatalf("takes %d (%v), want %d", takes, err, writers+2)
	}
}
