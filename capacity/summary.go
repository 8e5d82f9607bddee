package capacity

import (
	"context"
	"fmt"
	"math"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/placement"
)

// maxSummary bounds the locations one summary lists.
const maxSummary = 200

// SummaryQuery asks for the capacity near a point or postcode.
type SummaryQuery struct {
	// Near is the point; when nil, Postcode is geocoded.
	Near     *discharge.Position
	Postcode string
	RadiusKm float64
	// Exactly one of BedType and Setting narrows the bed types; neither
	// means every bed type.
	BedType discharge.BedType
	Setting discharge.CareSetting
}

// ParseSummaryQuery reads GET /api/v1/capacity's parameters: near=lat,long
// or postcode=, radiusKm (a finite number above 0 and at most
// placement.MaxRadiusKm, placement.DefaultRadiusKm when not given: every
// search by distance shares the limits), setting and bedType. An unknown
// parameter is refused.
func ParseSummaryQuery(q url.Values) (SummaryQuery, error) {
	for name := range q {
		switch name {
		case "near", "postcode", "radiusKm", "setting", "bedType":
		default:
			return SummaryQuery{}, discharge.E(discharge.KindNotSupported, name, "Unknown parameter '"+name+"': use near or postcode, radiusKm, setting and bedType.")
		}
	}
	sq := SummaryQuery{Postcode: q.Get("postcode"), RadiusKm: placement.DefaultRadiusKm,
		BedType: discharge.BedType(q.Get("bedType")), Setting: discharge.CareSetting(q.Get("setting"))}
	if sq.Postcode == "" || q.Get("near") != "" {
		lat, lon, err := parseNear(q.Get("near"))
		if err != nil {
			return SummaryQuery{}, err
		}
		sq.Near = &discharge.Position{Lat: lat, Lon: lon}
	}
	if v := q.Get("radiusKm"); v != "" {
		r, err := strconv.ParseFloat(v, 64)
		// NaN fails every comparison, so it is refused by name, not by
		// range; "Inf" parses too and is above the range.
		if err != nil || math.IsNaN(r) || r <= 0 || r > placement.MaxRadiusKm {
			return SummaryQuery{}, discharge.E(discharge.KindValue, "radiusKm", fmt.Sprintf("radiusKm must be a number above 0 and at most %g.", placement.MaxRadiusKm))
		}
		sq.RadiusKm = r
	}
	if sq.BedType != "" && !sq.BedType.Valid() {
		return SummaryQuery{}, discharge.E(discharge.KindCodeInvalid, "bedType", "Unknown bed type: use the gateway's bed-type code system.")
	}
	if sq.BedType == "" && sq.Setting != "" && !sq.Setting.Valid() {
		return SummaryQuery{}, discharge.E(discharge.KindCodeInvalid, "setting", "Unknown care setting: use the gateway's care-setting code system.")
	}
	return sq, nil
}

// parseNear reads "lat,long" in decimal degrees.
func parseNear(v string) (lat, lon float64, err error) {
	bad := discharge.E(discharge.KindValue, "near", "near must be latitude,longitude in decimal degrees, e.g. 53.44,-2.22.")
	a, b, ok := strings.Cut(v, ",")
	if !ok {
		if v == "" {
			return 0, 0, discharge.E(discharge.KindRequired, "near", "near=latitude,longitude (or postcode=) is required.")
		}
		return 0, 0, bad
	}
	lat, err1 := strconv.ParseFloat(strings.TrimSpace(a), 64)
	lon, err2 := strconv.ParseFloat(strings.TrimSpace(b), 64)
	// The range checks are written so that NaN fails them.
	if err1 != nil || err2 != nil || !(lat >= -90 && lat <= 90) || !(lon >= -180 && lon <= 180) {
		return 0, 0, bad
	}
	return lat, lon, nil
}

// Summary answers a SummaryQuery: vacancies by distance (Beds), or, for
// home care and reablement, offers for the postcode district (HomeCare).
// Exactly one is set.
type Summary struct {
	Beds     *BedSummary
	HomeCare *HomeCareSummary
}

// BedSummary is the bed vacancies near a point: each location with its
// freshness, nearest first, and totals of beds accepting admissions by
// freshness. Unknown capacity counts as no vacancy.
type BedSummary struct {
	Near                 discharge.Position
	RadiusKm             float64
	BedTypes             []discharge.BedType
	Locations            []LocationSummary
	AcceptingByFreshness map[discharge.Freshness]int
	LocationsByFreshness map[discharge.Freshness]int
	Policy               discharge.FreshnessPolicy
	// Warnings say where active holds exceed the posted vacancies.
	Warnings discharge.Issues
}

// LocationSummary is one location of a bed summary.
type LocationSummary struct {
	LocationID string
	DistanceKm float64    // to two decimals
	AsOf       *time.Time // nil: never posted
	Freshness  discharge.Freshness
	// Accepting is the beds of the asked types accepting admissions and
	// not held for an accepted offer (bookable); 0 when unknown.
	Accepting int
	Beds      []discharge.BedCapacity
	// Held are the active holds on the asked bed types.
	Held map[discharge.BedType]int
}

// HomeCareSummary is the home care offered for one postcode district:
// home care is posted by the districts served, not by distance.
type HomeCareSummary struct {
	Outcode   string
	Providers []HomeCareProvider
	// HoursByFreshness totals the hours per week offered; unknown offers
	// are not counted.
	HoursByFreshness map[discharge.Freshness]float64
}

// HomeCareProvider is one location's offers for the district.
type HomeCareProvider struct {
	LocationID string
	AsOf       time.Time
	Freshness  discharge.Freshness
	Offers     []discharge.HomeCareOffer
}

// Summarise answers a summary query.
func (s *Service) Summarise(ctx context.Context, q SummaryQuery) (Summary, error) {
	var at discharge.Position
	if q.Near != nil {
		at = *q.Near
	} else {
		p, ok := s.geo.Locate(q.Postcode)
		if !ok {
			return Summary{}, discharge.E(discharge.KindValue, "postcode", "The postcode (or district) is not known to the geocoder.")
		}
		at = p
	}
	radius := q.RadiusKm
	if radius == 0 {
		radius = placement.DefaultRadiusKm
	}
	var want []discharge.BedType
	switch {
	case q.BedType != "":
		want = []discharge.BedType{q.BedType}
	case q.Setting != "":
		if want = discharge.BedTypesFor(q.Setting); want == nil {
			if q.Setting == discharge.CareHomeCare || q.Setting == discharge.CareReablement {
				hc, err := s.homeCare(ctx, at, q.Postcode)
				return Summary{HomeCare: hc}, err
			}
			return Summary{}, discharge.E(discharge.KindBusinessRule, "setting", "This care setting has no capacity postings to summarise.")
		}
	default:
		for _, b := range discharge.BedTypes() {
			// Virtual-ward places are care at home, not beds near a
			// point: only bedType=virtual-ward summarises them.
			if discharge.BedType(b.Code) == discharge.BedVirtualWard {
				continue
			}
			want = append(want, discharge.BedType(b.Code))
		}
	}
	beds, err := s.beds(ctx, at, radius, want)
	return Summary{Beds: beds}, err
}

func (s *Service) beds(ctx context.Context, at discharge.Position, radius float64, want []discharge.BedType) (*BedSummary, error) {
	hits, err := s.store.Near(ctx, s.geo.AreasNear(at.Lat, at.Lon, radius), want, at.Lat, at.Lon, radius, maxSummary)
	if err != nil {
		return nil, err
	}
	ids := make([]string, len(hits))
	for i, h := range hits {
		ids[i] = h.LocationID
	}
	caps, err := s.store.Get(ctx, ids...)
	if err != nil {
		return nil, err
	}
	held, err := s.heldAt(ctx, ids)
	if err != nil {
		return nil, err
	}
	now := s.now()
	out := &BedSummary{Near: at, RadiusKm: radius, BedTypes: want, Policy: s.freshness,
		Locations:            make([]LocationSummary, 0, len(hits)),
		AcceptingByFreshness: map[discharge.Freshness]int{discharge.Fresh: 0, discharge.Stale: 0, discharge.Unknown: 0},
		LocationsByFreshness: map[discharge.Freshness]int{discharge.Fresh: 0, discharge.Stale: 0, discharge.Unknown: 0}}
	for _, h := range hits {
		sl := LocationSummary{LocationID: h.LocationID, DistanceKm: round2(h.DistanceKm), Freshness: discharge.Unknown}
		if cp, ok := caps[h.LocationID]; ok {
			asOf := cp.AsOf
			sl.AsOf = &asOf
			sl.Freshness = s.freshness.Of(cp.AsOf, now)
			hl := held[h.LocationID]
			for _, b := range cp.Beds {
				for _, w := range want {
					if b.Type == w {
						sl.Beds = append(sl.Beds, b)
						sl.Accepting += max(cp.Vacant(b.Type)-hl[b.Type], 0)
						if hl[b.Type] > 0 {
							if sl.Held == nil {
								sl.Held = map[discharge.BedType]int{}
							}
							sl.Held[b.Type] = hl[b.Type]
						}
					}
				}
			}
			overHeld(cp, sl.Held, &out.Warnings)
			if sl.Freshness == discharge.Unknown {
				sl.Accepting = 0 // too old to count
			}
		}
		out.AcceptingByFreshness[sl.Freshness] += sl.Accepting
		out.LocationsByFreshness[sl.Freshness]++
		out.Locations = append(out.Locations, sl)
	}
	sort.SliceStable(out.Locations, func(i, j int) bool { return out.Locations[i].DistanceKm < out.Locations[j].DistanceKm })
	return out, nil
}

func (s *Service) homeCare(ctx context.Context, at discharge.Position, postcode string) (*HomeCareSummary, error) {
	oc := s.geo.OutcodeAt(postcode, at)
	ids, err := s.store.Covering(ctx, oc)
	if err != nil {
		return nil, err
	}
	caps, err := s.store.Get(ctx, ids...)
	if err != nil {
		return nil, err
	}
	now := s.now()
	out := &HomeCareSummary{Outcode: oc, Providers: []HomeCareProvider{},
		HoursByFreshness: map[discharge.Freshness]float64{discharge.Fresh: 0, discharge.Stale: 0, discharge.Unknown: 0}}
	for _, id := range ids {
		cp, ok := caps[id]
		if !ok {
			continue
		}
		o := HomeCareProvider{LocationID: id, AsOf: cp.AsOf, Freshness: s.freshness.Of(cp.AsOf, now)}
		for _, h := range cp.HomeCare {
			for _, d := range h.Outcodes {
				if d == oc {
					o.Offers = append(o.Offers, h)
					if o.Freshness != discharge.Unknown {
						out.HoursByFreshness[o.Freshness] += h.HoursPerWeek
					}
				}
			}
		}
		if len(o.Offers) > 0 {
			out.Providers = append(out.Providers, o)
		}
	}
	return out, nil
}

// round2 rounds a distance to two decimals (10 m), as summaries show it.
func round2(f float64) float64 { return float64(int64(f*100+0.5)) / 100 }
