package gateway

import (
	"bytes"
	"context"
	"mime"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/dischargegateway/gateway/capacity"
	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/placement"
)

// CapacityStore keeps current capacity per location (adapters/rediscache).
type CapacityStore interface {
	Put(ctx context.Context, c discharge.Capacity, pos *discharge.Position, area string) (discharge.Capacity, bool, error)
	Get(ctx context.Context, ids ...string) (map[string]discharge.Capacity, error)
	// Versions returns each location's current posting version (0: none).
	Versions(ctx context.Context, ids ...string) ([]int64, error)
	Near(ctx context.Context, areas []string, beds []discharge.BedType, lat, lon, radiusKm float64, limit int) ([]placement.Nearby, error)
	// IndexLocation and NearLocations keep the geo index of directory
	// Locations behind Location?near=.
	IndexLocation(ctx context.Context, id string, pos discharge.Position, area string) error
	NearLocations(ctx context.Context, areas []string, lat, lon, radiusKm float64, limit int) ([]discharge.Nearby, error)
	// HistoryPage returns a page of a location's past postings, newest
	// first, and how many there are (every posting applied).
	HistoryPage(ctx context.Context, loc string, offset, count int) ([]discharge.Capacity, int, error)
	// Covering lists locations that have posted home care for a district.
	Covering(ctx context.Context, outcode string) ([]string, error)
}

// Geocoder places postcodes and names the geo shards near a point
// (adapters/geocode).
type Geocoder interface {
	Locate(postcode string) (discharge.Position, bool)
	AreaOf(postcode string, pos discharge.Position) string
	AreasNear(lat, lon, radiusKm float64) []string
	// OutcodeAt names the postcode district of a postcode, or the district
	// whose centroid is nearest a point.
	OutcodeAt(postcode string, pos discharge.Position) string
}

// putCapacity is PUT /api/v1/capacity/{locationId}: a care provider posts
// the vacancies of one of its own Locations.
func (s *Server) putCapacity(c echo.Context) error {
	p := principal(c)
	body, err := s.readBody(c, "")
	if err != nil {
		return err
	}
	var in wirePosting
	if err := decodeWire(body, &in); err != nil {
		return err
	}
	posting, err := fromWirePosting(c.Param("locationId"), in)
	if err != nil {
		return err
	}
	posted, err := s.capacities.Post(c.Request().Context(), p, posting, nil)
	if err != nil {
		return err
	}
	return writeJSON(c, http.StatusOK, toWirePosted(posted))
}

// getCapacity is GET /api/v1/capacity/{locationId}.
func (s *Server) getCapacity(c echo.Context) error {
	v, err := s.capacities.Get(c.Request().Context(), c.Param("locationId"))
	if err != nil {
		return err
	}
	return writeJSON(c, http.StatusOK, toWireCapacity(v))
}

// capacitySummary is GET /api/v1/capacity?near=lat,long&radiusKm=&setting=&bedType=
// (or postcode= for near): the vacancies near a point, each location with
// its freshness, and totals of beds accepting admissions by freshness; for
// home care, the offers for the postcode district.
func (s *Server) capacitySummary(c echo.Context) error {
	q, err := capacity.ParseSummaryQuery(c.QueryParams())
	if err != nil {
		return err
	}
	sum, err := s.capacities.Summarise(c.Request().Context(), q)
	if err != nil {
		return err
	}
	return writeJSON(c, http.StatusOK, toWireSummary(sum))
}

// importCapacity is POST /api/v1/capacity/import (text/csv): a vendor's
// batch export, one row per location and bed type. Each location's rows
// post together; a posting that breaks a rule, or is for a location the
// caller does not manage, rejects its rows with the reason.
func (s *Server) importCapacity(c echo.Context) error {
	p := principal(c)
	if mt, _, _ := mime.ParseMediaType(c.Request().Header.Get(echo.HeaderContentType)); mt != "text/csv" {
		return discharge.E(discharge.KindUnsupportedMedia, "", "The capacity import takes text/csv.")
	}
	body, err := s.readBody(c, "")
	if err != nil {
		return err
	}
	rep, err := s.capacities.ImportCSV(c.Request().Context(), p, bytes.NewReader(body))
	if err != nil {
		return err
	}
	return writeJSON(c, http.StatusOK, toWireCapacityReport(rep))
}

// round2 rounds a distance to two decimals (10 m), as answers show it.
func round2(f float64) float64 { return float64(int64(f*100+0.5)) / 100 }
