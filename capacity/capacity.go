// Package capacity is the application service for care providers'
// vacancies: postings (one JSON body, a FHIR MeasureReport or a CSV batch,
// all through one rule set), reads with their freshness, history, and the
// summaries trusts and hubs read near a point or for a postcode district.
//
// A care provider posts only for the Locations its organisation manages;
// the directory (directory.Service) says which those are and where they
// are. The service speaks neither HTTP nor Redis: the store and the
// geocoder are interfaces declared here, and the caller is an
// *auth.Principal.
package capacity

import (
	"context"
	"time"

	"github.com/dischargegateway/gateway/auth"
	"github.com/dischargegateway/gateway/directory"
	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/mappings"
	"github.com/dischargegateway/gateway/placement"
)

// Store keeps current capacity per location, its history and the geo index
// of locations by bed type: Recorded, the record (its history) behind the
// cache (adapters/rediscache.CapacityStore).
type Store interface {
	// Put stores a posting unless a newer one is stored; it returns the
	// capacity now current and whether the posting was applied.
	Put(ctx context.Context, c discharge.Capacity, pos *discharge.Position, area string) (discharge.Capacity, bool, error)
	// Get returns the current capacity of locations; those without a
	// posting are absent.
	Get(ctx context.Context, ids ...string) (map[string]discharge.Capacity, error)
	// Near finds locations indexed for any of beds within radiusKm, nearest
	// first.
	Near(ctx context.Context, areas []string, beds []discharge.BedType, lat, lon, radiusKm float64, limit int) ([]placement.Nearby, error)
	// HistoryPage returns a page of a location's past postings, newest
	// first, and how many the history holds (every posting applied).
	HistoryPage(ctx context.Context, loc string, offset, count int) ([]discharge.Capacity, int, error)
	// Covering lists locations that have posted home care for a district.
	Covering(ctx context.Context, outcode string) ([]string, error)
}

// Geocoder places postcodes and names the geo shards near a point
// (adapters/geocode).
type Geocoder interface {
	Locate(postcode string) (discharge.Position, bool)
	AreasNear(lat, lon, radiusKm float64) []string
	// OutcodeAt names the postcode district of a postcode, or the district
	// whose centroid is nearest a point.
	OutcodeAt(postcode string, pos discharge.Position) string
}

// Locations says whether a caller manages a directory Location and where it
// is (directory.Service).
type Locations interface {
	OwnLocation(ctx context.Context, p *auth.Principal, id string) (directory.Place, error)
}

var _ Locations = (*directory.Service)(nil)

// Service is the capacity application service.
type Service struct {
	store     Store
	geo       Geocoder
	locations Locations
	// parseCSV reads the bulk import's files (ImportCSV).
	parseCSV  CSVParser
	freshness discharge.FreshnessPolicy
	now       func() time.Time
	// holds are the referral record's active holds (UseHolds); nil: none.
	holds Holds
}

// New returns the capacity service. parseCSV reads vendors' bulk files; nil:
// ImportCSV refuses them. A nil now is time.Now.
func New(store Store, geo Geocoder, locations Locations, parseCSV CSVParser, freshness discharge.FreshnessPolicy, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	return &Service{store: store, geo: geo, locations: locations, parseCSV: parseCSV, freshness: freshness, now: now}
}

// View is a location's capacity as every read shows it: with its
// freshness now.
type View struct {
	discharge.Capacity
	Freshness discharge.Freshness
	// Held are the active holds on the location's beds by bed type, not
	// nil when a read saw the referral record's holds (nil on a posting's
	// answer, or without a referral loop): bookable is the vacancies
	// accepting admissions minus these.
	Held map[discharge.BedType]int
	// Warnings say where the holds exceed the posted vacancies.
	Warnings discharge.Issues
}

// Posted is the outcome of a posting: the capacity now current, and
// whether this posting was applied (false: a newer one was already stored
// and kept).
type Posted struct {
	View
	Applied bool
}

// OlderMessage says why a posting was not applied.
func (p Posted) OlderMessage() string {
	return "A newer posting is already stored (as of " + p.AsOf.Format(time.RFC3339) + "); this one was ignored."
}

// FreshnessPolicy is the policy freshness is judged by.
func (s *Service) FreshnessPolicy() discharge.FreshnessPolicy { return s.freshness }

func (s *Service) view(c discharge.Capacity, now time.Time) View {
	return View{Capacity: c, Freshness: s.freshness.Of(c.AsOf, now)}
}

// MayPost checks that the caller is a care provider: only care providers
// post capacity.
func MayPost(p *auth.Principal) error {
	if p == nil || p.Role != auth.RoleCareProvider {
		return discharge.E(discharge.KindForbidden, "", "Only a care provider posts capacity.")
	}
	return nil
}

// Post stores a posting for one of the caller's own Locations. The posting
// must be valid (mappings.Validate, the one rule set of the shared model);
// at renames its issues' model paths for the shape it came in (MeasureReport
// elements, CSV columns); the JSON API keeps them, its wire names being the
// same. It is stored unless a newer one
// is, and geo-indexed where the Location is.
func (s *Service) Post(ctx context.Context, p *auth.Principal, posting discharge.Capacity, at func(string) string) (Posted, error) {
	if err := MayPost(p); err != nil {
		return Posted{}, err
	}
	place, err := s.locations.OwnLocation(ctx, p, posting.LocationID)
	if err != nil {
		return Posted{}, err
	}
	now := s.now()
	if issues := mappings.Validate(posting, now); len(issues) > 0 {
		if at != nil {
			for i := range issues {
				issues[i].Expression = at(issues[i].Expression)
			}
		}
		return Posted{}, issues.Err(discharge.KindValue, "capacity")
	}
	cur, applied, err := s.store.Put(ctx, posting, place.Position, place.Area)
	if err != nil {
		return Posted{}, err
	}
	return Posted{View: s.view(cur, now), Applied: applied}, nil
}

// Get returns a location's current capacity: KindNotFound at locationId
// when none has been posted.
func (s *Service) Get(ctx context.Context, id string) (View, error) {
	got, err := s.store.Get(ctx, id)
	if err != nil {
		return View{}, err
	}
	cp, ok := got[id]
	if !ok {
		return View{}, discharge.E(discharge.KindNotFound, "locationId", "No capacity has been posted for this location.")
	}
	held, err := s.heldAt(ctx, []string{id})
	if err != nil {
		return View{}, err
	}
	v := s.view(cp, s.now())
	if s.holds != nil {
		v.Held = held[id]
		if v.Held == nil {
			v.Held = map[discharge.BedType]int{}
		}
	}
	overHeld(cp, v.Held, &v.Warnings)
	return v, nil
}

// History returns a page of a location's postings, newest first, each with
// its freshness now, and how many postings the location has made that were
// applied (the record keeps them all).
func (s *Service) History(ctx context.Context, id string, offset, count int) ([]View, int, error) {
	hist, total, err := s.store.HistoryPage(ctx, id, offset, count)
	if err != nil {
		return nil, 0, err
	}
	now := s.now()
	out := make([]View, len(hist))
	for i, h := range hist {
		h.LocationID = id
		out[i] = s.view(h, now)
	}
	return out, total, nil
}
