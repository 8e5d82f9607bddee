package sqlstore

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/dischargegateway/gateway/auth"
)

// TestSQLiteAuditGroupsAndABadEntryFailsAlone: on SQLite a group of audit
// entries is one transaction stepping a one-row INSERT. Entries queued
// while the database's write lock is held go together once it is
// released; a row the database refuses (here a trigger refuses one
// client's rows) fails its own Record only, and no row of its group is
// lost or written twice.
func TestSQLiteAuditGroupsAndABadEntryFailsAlone(t *testing.T) {
	ctx := context.Background()
	s := openSQLite(t)
	if _, err := s.db.ExecContext(ctx, `CREATE TRIGGER refuse_bad BEFORE INSERT ON audit_log
		WHEN NEW.client = 'bad' BEGIN SELECT RAISE(ABORT, 'refused'); END`); err != nil {
		t.Fatal(err)
	}
	a := NewAudit(s)
	entry := func(client, req string) auth.AuditEntry {
		return auth.AuditEntry{Time: time.Now(), ClientID: client, Org: "RXA", Action: "R", ResourceType: "Patient", ResourceID: "p", Status: 200, RequestID: req}
	}
	// Another connection holds the write lock, so the writers wait and
	// the entries queue behind them.
	hold, err := s.db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer hold.Close()
	if _, err := hold.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	const n = 40
	errs := make([]error, n+1)
	var wg sync.WaitGroup
	for i := range n + 1 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			client := "c"
			if i == n {
				client = "bad"
			}
			errs[i] = a.Record(ctx, entry(client, fmt.Sprint("r", i)))
		}()
	}
	time.Sleep(300 * time.Millisecond)
	if _, err := hold.ExecContext(ctx, "ROLLBACK"); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	for i, err := range errs[:n] {
		if err != nil {
			t.Errorf("entry %d: %v", i, err)
		}
	}
	if errs[n] == nil {
		t.Error("the refused entry's Record returned nil")
	}
	pg, err := a.Search(ctx, auth.AuditQuery{Count: 100})
	if err != nil || pg.Total != n {
		t.Fatalf("%d entries (%v), want %d", pg.Total, err, n)
	}
	seen := map[string]bool{}
	for _, e := range pg.Entries {
		if e.ClientID != "c" || seen[e.RequestID] {
			t.Errorf("unexpected or repeated entry %+v", e)
		}
		seen[e.RequestID] = true
	}
	// The first writers each took what had queued when they started;
	// the rest went together after the lock was released.
	if g := a.groups.Load(); g > auditWriters+2 {
		t.Errorf("%d group writes for %d entries: the queued entries did not go together", g, n+1)
	}
}
