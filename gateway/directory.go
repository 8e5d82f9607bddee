package gateway

import (
	"context"

	"github.com/dischargegateway/gateway/auth"
	"github.com/dischargegateway/gateway/directory"
)

// checkOwnership applies the directory's ownership rules
// (directory.Service.CheckWrite) to a directory resource being written.
func (s *Server) checkOwnership(ctx context.Context, cd *candidate, loc local) error {
	return s.directory.CheckWrite(ctx, auth.PrincipalFrom(ctx), directory.Write{
		Type: cd.typ, ID: cd.id, Path: cd.path, Doc: cd.doc, Replaces: cd.expect > 0, Pending: loc})
}

// indexLocations keeps the geo index of the directory Locations just
// committed (directory.Service.IndexLocation).
func (s *Server) indexLocations(ctx context.Context, cds []*candidate) {
	for _, cd := range cds {
		if cd.typ == "Location" {
			s.directory.IndexLocation(ctx, cd.id, cd.doc)
		}
	}
}
