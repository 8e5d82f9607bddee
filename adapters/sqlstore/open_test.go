package sqlstore_test

import (
	"context"
	"testing"

	"github.com/dischargegateway/gateway/adapters/sqlstore"
	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/fhir"
)

// TestReopenKeepsDataAndMigratesOnce: a second Open (and an explicit
// Migrate, as `gateway migrate` runs it) finds the schema current and the
// data where it was.
func TestReopenKeepsDataAndMigratesOnce(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := sqlstore.Open(ctx, "", dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Commit(ctx, "p", []fhir.Write{{Resource: res("Patient", "a", 1, `{}`)}}, nil); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if err := sqlstore.Migrate(ctx, "", dir); err != nil {
		t.Fatalf("migrate again: %v", err)
	}
	s, err = sqlstore.Open(ctx, "", dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if r, err := s.Read(ctx, "p", "Patient", "a"); err != nil || r.VersionID != 1 {
		t.Fatalf("after reopen: %+v %v", r, err)
	}
}

func TestOpenRefusesWhatItCannotUse(t *testing.T) {
	for name, args := range map[string][2]string{
		"another scheme":           {"mysql://u@localhost/db", ""},
		"no URL and no data dir":   {"", ""},
		"unreachable postgres":     {"postgres://u@127.0.0.1:1/db?connect_timeout=1", ""},
		"data dir is a plain file": {"", "/dev/null/x"},
	} {
		t.Run(name, func(t *testing.T) {
			s, err := sqlstore.Open(context.Background(), args[0], args[1])
			if err == nil {
				s.Close()
				t.Fatal("opened")
			}
			if name == "unreachable postgres" && kindOf(err) != discharge.KindUnavailable {
				t.Fatalf("%v, want unavailable", err)
			}
		})
	}
}
