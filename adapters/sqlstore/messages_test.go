package sqlstore_test

import (
	"context"
	"testing"

	"github.com/dischargegateway/gateway/adapters/sqlstore"
	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/fhir"
)

// TestCommitMessage: a message's response is stored with its writes, in
// one transaction: a second commit of the same message writes nothing
// (KindDuplicate), a commit whose writes fail leaves no response behind,
// and the key is per partition.
func TestCommitMessage(t *testing.T) {
	ctx := context.Background()
	sqlEngines(t, map[string]func(t *testing.T, s *sqlstore.Store){
		"stored with its writes": func(t *testing.T, s *sqlstore.Store) {
			if err := s.CommitMessage(ctx, "RXA", []fhir.Write{patientWrite("p1")}, nil, "m1", []byte(`{"a":1}`)); err != nil {
				t.Fatal(err)
			}
			got, err := s.MessageResponse(ctx, "RXA", "m1")
			if err != nil || string(got) != `{"a":1}` {
				t.Fatalf("%q %v", got, err)
			}
			if _, err := s.Read(ctx, "RXA", "Patient", "p1"); err != nil {
				t.Fatal(err)
			}
			// The same message again: nothing written.
			err = s.CommitMessage(ctx, "RXA", []fhir.Write{patientWrite("p2")}, nil, "m1", []byte(`{"a":2}`))
			if discharge.ErrorKind(err) != discharge.KindDuplicate {
				t.Fatalf("second commit: %v", err)
			}
			if _, err := s.Read(ctx, "RXA", "Patient", "p2"); discharge.ErrorKind(err) != discharge.KindNotFound {
				t.Fatalf("a duplicate message wrote: %v", err)
			}
			if got, _ := s.MessageResponse(ctx, "RXA", "m1"); string(got) != `{"a":1}` {
				t.Fatalf("response replaced: %s", got)
			}
			// Another partition's message with the same id is its own.
			if err := s.CommitMessage(ctx, "RXB", nil, nil, "m1", []byte(`{"b":1}`)); err != nil {
				t.Fatal(err)
			}
			if _, err := s.MessageResponse(ctx, "RXC", "m1"); discharge.ErrorKind(err) != discharge.KindNotFound {
				t.Fatalf("unknown message: %v", err)
			}
		},
		"failed writes leave no response": func(t *testing.T, s *sqlstore.Store) {
			if err := s.Commit(ctx, "RXA", []fhir.Write{patientWrite("p1")}, nil); err != nil {
				t.Fatal(err)
			}
			// A create of an existing resource fails the version check.
			err := s.CommitMessage(ctx, "RXA", []fhir.Write{patientWrite("p1")}, nil, "m2", []byte(`{}`))
			if discharge.ErrorKind(err) != discharge.KindRetry {
				t.Fatalf("want KindRetry, got %v", err)
			}
			if _, err := s.MessageResponse(ctx, "RXA", "m2"); discharge.ErrorKind(err) != discharge.KindNotFound {
				t.Fatalf("a failed commit left its response: %v", err)
			}
		},
	})
}
