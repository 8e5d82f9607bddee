package records

import (
	"context"

	"github.com/dischargegateway/gateway/auth"
	"github.com/dischargegateway/gateway/fhir"
)

// MessageLog keeps the answer to each FHIR message a partition took, in
// the same atomic commit as the writes the message caused, so a re-sent
// message finds its answer and never writes twice.
type MessageLog interface {
	// CommitMessage is fhir.Store.Commit with one more row: response under
	// (partition, id). When the partition already holds a response for
	// id, nothing is written and the error is KindDuplicate.
	CommitMessage(ctx context.Context, partition string, writes []fhir.Write, guards []fhir.Guard, id string, response []byte) error
}

// Message runs body, a transaction Bundle made from a FHIR message, exactly
// as Bundle runs a transaction (the same validation, intake, tenancy and
// all-or-nothing commit), except that the commit goes through log with the
// message's id and response: respond builds the response from the writes
// about to be committed (a retried commit builds it again).
func (s *Service) Message(ctx context.Context, p *auth.Principal, body []byte, base string,
	log MessageLog, id string, respond func([]fhir.Write) ([]byte, error)) (BundleResult, error) {
	// A copy of the service whose store commits through the log: the
	// write path itself is Bundle's, unchanged.
	c := *s
	c.store = messageStore{Store: s.store, log: log, id: id, respond: respond}
	return c.Bundle(ctx, p, body, base)
}

// messageStore is a Store whose Commit also records a message's response.
type messageStore struct {
	Store
	log     MessageLog
	id      string
	respond func([]fhir.Write) ([]byte, error)
}

func (m messageStore) Commit(ctx context.Context, partition string, writes []fhir.Write, guards []fhir.Guard) error {
	resp, err := m.respond(writes)
	if err != nil {
		return err
	}
	return m.log.CommitMessage(ctx, partition, writes, guards, m.id, resp)
}
