package sitrep

import (
	"context"
	"sync"

	"github.com/dischargegateway/gateway/capacity"
	"github.com/dischargegateway/gateway/discharge"
)

// Summariser answers capacity summaries (capacity.Service.Summarise: the
// posted vacancies net of active holds, and the holds).
type Summariser interface {
	Summarise(ctx context.Context, q capacity.SummaryQuery) (capacity.Summary, error)
}

// SupplyRadiusKm is how far from a district's centre its bed supply is
// counted: bed postings are indexed by position, not by district.
const SupplyRadiusKm = 5

// MaxSupplyDistricts bounds the districts one forecast reads supply for
// (those with the most demand): each costs a few capacity reads. The
// others' supply is reported as not known.
const MaxSupplyDistricts = 100

// CapacitySupply reads districts' supply from capacity summaries: for
// care-home, residential and nursing beds (dementia included) and for
// step-down-bed, transitional beds, within SupplyRadiusKm of the
// district's centre, bookable (accepting admissions, not held) with their
// holds; for home-care, the packages offered for the district by
// home-care providers that cover it (no holds: offers are not held).
// Counts too old to trust (capacity's unknown freshness) are not counted.
// A district the geocoder does not know is left out (its supply not
// known).
type CapacitySupply struct{ Capacity Summariser }

var _ Supply = CapacitySupply{}

// Supply reads the supply of up to MaxSupplyDistricts districts, a few at
// a time.
func (c CapacitySupply) Supply(ctx context.Context, districts []string) ([]discharge.SupplyCount, error) {
	if len(districts) > MaxSupplyDistricts {
		districts = districts[:MaxSupplyDistricts]
	}
	got := make([][]discharge.SupplyCount, len(districts))
	errs := make([]error, len(districts))
	sem := make(chan struct{}, readers)
	var wg sync.WaitGroup
	for i, d := range districts {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			got[i], errs[i] = c.district(ctx, d)
		}()
	}
	wg.Wait()
	var out []discharge.SupplyCount
	for i := range districts {
		if errs[i] != nil {
			if discharge.ErrorKind(errs[i]) == discharge.KindValue {
				continue // not known to the geocoder
			}
			return nil, errs[i]
		}
		out = append(out, got[i]...)
	}
	return out, nil
}

func (c CapacitySupply) district(ctx context.Context, d string) ([]discharge.SupplyCount, error) {
	beds := func(settings ...discharge.CareSetting) (vacant, held int, err error) {
		for _, s := range settings {
			sum, err := c.Capacity.Summarise(ctx, capacity.SummaryQuery{Postcode: d, RadiusKm: SupplyRadiusKm, Setting: s})
			if err != nil {
				return 0, 0, err
			}
			if sum.Beds == nil {
				continue
			}
			for _, l := range sum.Beds.Locations {
				if l.Freshness == discharge.Unknown {
					continue
				}
				vacant += l.Accepting
				for _, n := range l.Held {
					held += n
				}
			}
		}
		return vacant, held, nil
	}
	homeV, homeH, err := beds(discharge.CareResidential, discharge.CareNursing)
	if err != nil {
		return nil, err
	}
	stepV, stepH, err := beds(discharge.CareD2ABed)
	if err != nil {
		return nil, err
	}
	hc, err := c.Capacity.Summarise(ctx, capacity.SummaryQuery{Postcode: d, Setting: discharge.CareHomeCare})
	if err != nil {
		return nil, err
	}
	packages := 0
	if hc.HomeCare != nil {
		for _, p := range hc.HomeCare.Providers {
			if p.Freshness == discharge.Unknown {
				continue
			}
			for _, o := range p.Offers {
				packages += o.Packages
			}
		}
	}
	return []discharge.SupplyCount{
		{Setting: discharge.ForecastHomeCare, Outcode: d, Vacant: packages},
		{Setting: discharge.ForecastStepDownBed, Outcode: d, Vacant: stepV, Held: stepH},
		{Setting: discharge.ForecastCareHome, Outcode: d, Vacant: homeV, Held: homeH},
	}, nil
}
