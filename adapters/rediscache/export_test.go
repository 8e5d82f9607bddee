package rediscache

import (
	"context"

	"github.com/dischargegateway/gateway/auth"
)

// SearchBounded is Audit.Search with its own bound on entries read and
// chunk size, so tests can reach the bound with a few hundred entries.
func (a *Audit) SearchBounded(ctx context.Context, q auth.AuditQuery, bound, chunk int) (auth.AuditPage, error) {
	return a.search(ctx, q, bound, chunk)
}
