package directory

import (
	"context"

	"github.com/dischargegateway/gateway/mappings"
)

// IndexLocation puts a stored directory Location into the geo index behind
// near, at its position or its postcode's. The index is derived data: a
// failure is logged, not returned, and is mended by the next write of the
// Location, so it never undoes the commit that came before it.
func (s *Service) IndexLocation(ctx context.Context, id string, doc map[string]any) {
	if s.index == nil {
		return
	}
	pos, area := s.Place(mappings.LocationPlace(doc))
	if pos == nil {
		return
	}
	if err := s.index.IndexLocation(ctx, id, *pos, area); err != nil {
		s.log.Warn("location geo index not updated", "error", err.Error())
	}
}
