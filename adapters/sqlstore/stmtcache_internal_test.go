package sqlstore

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/dischargegateway/gateway/fhir"
)

// TestCloseWaitsForBackgroundPrepares: Close returns only after the
// statements being prepared in the background have finished, and leaves
// none cached or in flight. A prepare still running after Close opened a
// connection, and with it the SQLite file's -wal and -shm, while a caller
// removed the data directory ("directory not empty" in a CI run of
// TestSeedOnTheEmbeddedStore).
func TestCloseWaitsForBackgroundPrepares(t *testing.T) {
	ctx := context.Background()
	// Each round opens a copy of one migrated file: migrating anew took
	// 1.3 s a round under the race detector, and the rounds are about
	// Close, not migrations.
	tmpl := t.TempDir()
	if s, err := Open(ctx, "", tmpl); err != nil {
		t.Fatal(err)
	} else if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	image, err := os.ReadFile(filepath.Join(tmpl, SQLiteFile))
	if err != nil {
		t.Fatal(err)
	}
	for round := 0; round < 20; round++ {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, SQLiteFile), image, 0o600); err != nil {
			t.Fatal(err)
		}
		s, err := Open(ctx, "", dir)
		if err != nil {
			t.Fatal(err)
		}
		tx, err := s.db.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		// Distinct texts, each new to the cache: each starts a prepare.
		for i := 0; i < 40; i++ {
			if _, err := s.exec(ctx, tx, fmt.Sprintf("SELECT %d", i)); err != nil {
				t.Fatal(err)
			}
		}
		if err := tx.Rollback(); err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.Search(ctx, "RXA", fhir.Query{Type: "Patient"}); err != nil {
			t.Fatal(err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		s.stmts.mu.Lock()
		inFlight, cached := len(s.stmts.preparing), len(s.stmts.m)
		s.stmts.mu.Unlock()
		if inFlight != 0 || cached != 0 {
			t.Fatalf("round %d: after Close, %d statements still being prepared and %d cached", round, inFlight, cached)
		}
		if err := os.RemoveAll(dir); err != nil {
			t.Fatalf("round %d: removing the data directory after Close: %v", round, err)
		}
	}
}
