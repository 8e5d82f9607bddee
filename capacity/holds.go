package capacity

import (
	"context"
	"slices"
	"strconv"

	"github.com/dischargegateway/gateway/discharge"
)

// Holds counts the active holds (beds promised to accepted offers) at
// locations by bed type, in one query to the record
// (adapters/sqlstore.Referral.ActiveHolds).
type Holds interface {
	ActiveHolds(ctx context.Context, locations []string) (map[string]map[discharge.BedType]int, error)
}

// UseHolds makes capacity reads subtract the record's active holds from
// the posted vacancies and show them. Call it once, before serving.
func (s *Service) UseHolds(h Holds) { s.holds = h }

// heldAt reads the active holds at locations; nil without a referral
// record. The cache has the vacancies, the record the holds: a read that
// cannot see the holds fails (KindUnavailable) rather than show beds as
// bookable that are promised to other patients.
func (s *Service) heldAt(ctx context.Context, ids []string) (map[string]map[discharge.BedType]int, error) {
	if s.holds == nil || len(ids) == 0 {
		return nil, nil
	}
	held, err := s.holds.ActiveHolds(ctx, ids)
	if err != nil {
		switch discharge.ErrorKind(err) {
		case discharge.KindUnavailable, discharge.KindTimeout:
			return nil, err
		}
		return nil, discharge.Wrap(discharge.KindUnavailable, "capacity.holds", err)
	}
	return held, nil
}

// overHeld warns about each bed type of c whose posted vacancies accepting
// admissions are fewer than its active holds: a later posting lowered them
// and the holds stand (a bed promised is not taken back by a count), so
// nothing there is bookable until the vacancies exceed the holds.
func overHeld(c discharge.Capacity, held map[discharge.BedType]int, is *discharge.Issues) {
	types := make([]discharge.BedType, 0, len(held))
	for bt := range held {
		types = append(types, bt)
	}
	slices.Sort(types)
	for _, bt := range types {
		if n, v := held[bt], c.Vacant(bt); n > v {
			is.Warn(discharge.KindBusinessRule, "beds", "Location/"+c.LocationID+" "+string(bt)+": "+strconv.Itoa(n)+
				" beds are held for accepted offers but the latest posting shows "+strconv.Itoa(v)+
				" accepting admissions. The holds stand; none is bookable until the vacancies exceed them.")
		}
	}
}
