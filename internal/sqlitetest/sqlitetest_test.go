package sqlitetest_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/dischargegateway/gateway/adapters/sqlstore"
	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/fhir"
	"github.com/dischargegateway/gateway/internal/sqlitetest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	sqlitetest.Cleanup()
	os.Exit(code)
}

// TestDirsAreMigratedAndIndependent: every directory's database is at the
// latest migration (OpenCurrent refuses one that is not), and what one
// test writes no other directory sees.
func TestDirsAreMigratedAndIndependent(t *testing.T) {
	ctx := context.Background()
	a, b := sqlitetest.Dir(t), sqlitetest.Dir(t)
	if a == b {
		t.Fatal("the same directory twice")
	}
	sa, err := sqlstore.OpenCurrent(ctx, "", a)
	if err != nil {
		t.Fatalf("the copy is not migrated: %v", err)
	}
	defer sa.Close()
	now := time.Now().UTC()
	w := fhir.Write{Resource: fhir.Resource{Type: "Patient", ID: "p1", VersionID: 1, LastUpdated: now,
		JSON: []byte(`{"resourceType":"Patient","id":"p1","meta":{"versionId":"1"}}`)}}
	if err := sa.Commit(ctx, "RXA", []fhir.Write{w}, nil); err != nil {
		t.Fatal(err)
	}
	sb, err := sqlstore.OpenCurrent(ctx, "", b)
	if err != nil {
		t.Fatalf("the copy is not migrated: %v", err)
	}
	defer sb.Close()
	if _, err := sb.Read(ctx, "RXA", "Patient", "p1"); discharge.ErrorKind(err) != discharge.KindNotFound {
		t.Fatalf("another directory's database: %v, want not found", err)
	}
	if _, err := sa.Read(ctx, "RXA", "Patient", "p1"); err != nil {
		t.Fatalf("the write is lost: %v", err)
	}
}
