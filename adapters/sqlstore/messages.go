package sqlstore

import (
	"context"
	"database/sql"
	"time"

	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/fhir"
)

// Migration 12: processed_messages keeps the response to each FHIR
// message ($process-message) a partition took, written in the same
// transaction as the resources the message created, so a re-sent message
// (the same MessageHeader id) is answered from here and writes nothing.
// The key is (partition, message_id): ids are the senders', so two
// organisations' messages never collide. PostgreSQL row-level security
// admits only the partition's own rows, as for resources.
const processedMessagesTable = `CREATE TABLE processed_messages (
    partition  TEXT   NOT NULL,
    message_id TEXT   NOT NULL,
    response   TEXT   NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (partition, message_id)
)`

const processedMessagesPolicyPostgres = `ALTER TABLE processed_messages ENABLE ROW LEVEL SECURITY;
ALTER TABLE processed_messages FORCE ROW LEVEL SECURITY;
CREATE POLICY partition_isolation ON processed_messages
    USING (partition = current_setting('app.partition', true))
    WITH CHECK (partition = current_setting('app.partition', true))`

// migrateProcessedMessages is migration 12 (registered in provider).
func migrateProcessedMessages(eng engine) func(ctx context.Context, tx *sql.Tx) error {
	return func(ctx context.Context, tx *sql.Tx) error {
		stmts := []string{processedMessagesTable}
		if eng == enginePostgres {
			stmts = append(stmts, processedMessagesPolicyPostgres)
		}
		for _, q := range stmts {
			if _, err := tx.ExecContext(ctx, q); err != nil {
				return err
			}
		}
		return nil
	}
}

// CommitMessage stores writes as Commit does, and the message's response
// under (partition, id), in one transaction (records.MessageLog). The
// message's row is inserted first: a concurrent commit of the same
// message waits on its key and then finds it taken, so exactly one of two
// racing deliveries writes anything; the other gets KindDuplicate.
func (s *Store) CommitMessage(ctx context.Context, partition string, writes []fhir.Write, guards []fhir.Guard, id string, response []byte) error {
	const op = "sqlstore.CommitMessage"
	ps, distinct, err := prepareCommit(op, writes, guards)
	if err != nil {
		return err
	}
	errSeen := &discharge.Error{Kind: discharge.KindDuplicate, Op: op, Message: "message already processed"}
	return s.inTx(ctx, op, partition, false, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx,
			`INSERT INTO processed_messages (partition, message_id, response, created_at) VALUES ($1, $2, $3, $4)
			 ON CONFLICT DO NOTHING`, partition, id, string(response), toNanos(time.Now()))
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n != 1 {
			return errSeen
		}
		return s.commitTx(ctx, tx, partition, ps, distinct)
	})
}

// MessageResponse returns the response stored for message id in
// partition; KindNotFound when the partition took no such message.
func (s *Store) MessageResponse(ctx context.Context, partition, id string) ([]byte, error) {
	var body string
	err := s.readRow(ctx, "sqlstore.MessageResponse", partition,
		`SELECT response FROM processed_messages WHERE partition = $1 AND message_id = $2`,
		[]any{partition, id}, func(r scanner) error { return r.Scan(&body) })
	if err != nil {
		return nil, err
	}
	return []byte(body), nil
}
