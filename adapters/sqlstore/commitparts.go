package sqlstore

import (
	"context"

	"github.com/dischargegateway/gateway/fhir"
)

// CommitParts stores writes that stand alone (see fhir.Store). One SQL
// transaction holds a whole partition, so the parts are one: it is Commit
// without guards, all or nothing.
func (s *Store) CommitParts(ctx context.Context, partition string, writes []fhir.Write) error {
	return s.Commit(ctx, partition, writes, nil)
}
