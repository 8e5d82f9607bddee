package gateway

import (
	"context"

	"github.com/dischargegateway/gateway/auth"
	"github.com/dischargegateway/gateway/directory"
	"github.com/dischargegateway/gateway/records"
)

// recordsDirectory is the directory service as the record service uses it
// (records.Directory): its ownership rules for directory writes and its
// geo index upkeep.
type recordsDirectory struct{ *directory.Service }

var _ records.Directory = recordsDirectory{}

// CheckWrite applies directory.Service.CheckWrite to a write of the record
// service (records.DirectoryWrite and directory.Write are the same shape).
func (d recordsDirectory) CheckWrite(ctx context.Context, p *auth.Principal, w records.DirectoryWrite) error {
	return d.Service.CheckWrite(ctx, p, directory.Write(w))
}
