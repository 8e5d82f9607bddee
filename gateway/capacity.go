package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/dischargegateway/gateway/auth"
	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/placement"
)

// CapacityStore keeps current capacity per location (adapters/rediscache).
type CapacityStore interface {
	Put(ctx context.Context, c discharge.Capacity, pos *discharge.Position, area string) (discharge.Capacity, bool, error)
	Get(ctx context.Context, ids ...string) (map[string]discharge.Capacity, error)
	// Versions returns each location's current posting version (0: none).
	Versions(ctx context.Context, ids ...string) ([]int64, error)
	Near(ctx context.Context, areas []string, beds []discharge.BedType, lat, lon, radiusKm float64, limit int) ([]discharge.Nearby, error)
	// IndexLocation and NearLocations keep the geo index of directory
	// Locations behind Location?near=.
	IndexLocation(ctx context.Context, id string, pos discharge.Position, area string) error
	NearLocations(ctx context.Context, areas []string, lat, lon, radiusKm float64, limit int) ([]discharge.Nearby, error)
	// History returns past postings of a location, newest first.
	History(ctx context.Context, loc string, n int64) ([]discharge.Capacity, error)
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

// postingJSON is the JSON shape of PUT /api/v1/capacity/{locationId}
// (described in openapi.json).
type postingJSON struct {
	AsOf     string                    `json:"asOf"`
	Beds     []discharge.BedCapacity   `json:"beds"`
	HomeCare []discharge.HomeCareOffer `json:"homeCare"`
}

// capacityView is a location's capacity as every read shows it: with its
// freshness.
type capacityView struct {
	discharge.Capacity
	Freshness discharge.Freshness `json:"freshness"`
}

// putCapacity is PUT /api/v1/capacity/{locationId}: a care provider posts
// the vacancies of one of its own Locations.
func (s *Server) putCapacity(c echo.Context) error {
	ctx := c.Request().Context()
	p := principal(c)
	if p == nil || p.Role != auth.RoleCareProvider {
		return discharge.E(discharge.KindForbidden, "", "Only a care provider posts capacity.")
	}
	locID := c.Param("locationId")
	body, err := s.readBody(c, "")
	if err != nil {
		return err
	}
	var in postingJSON
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		return jsonDecodeError(err)
	}
	posting := discharge.Capacity{LocationID: locID, Beds: in.Beds, HomeCare: in.HomeCare}
	if in.AsOf != "" {
		t, err := time.Parse(time.RFC3339, in.AsOf)
		if err != nil {
			return discharge.E(discharge.KindValue, "asOf", "asOf must be an RFC 3339 date-time with a time zone.")
		}
		posting.AsOf = t.UTC()
	}
	cur, applied, err := s.postCapacity(ctx, p, posting, func(path string) string { return path })
	if err != nil {
		return err
	}
	out := map[string]any{"applied": applied, "capacity": capacityView{cur, s.cfg.Freshness.Of(cur.AsOf, s.now())}}
	if !applied {
		out["warnings"] = []map[string]string{{"expression": "asOf", "message": olderMessage(cur)}}
	}
	b, _ := json.Marshal(out)
	return c.Blob(http.StatusOK, plainJSON, b)
}

func olderMessage(cur discharge.Capacity) string {
	return "A newer posting is already stored (as of " + cur.AsOf.Format(time.RFC3339) + "); this one was ignored."
}

// postCapacity is every capacity shape's common path: the Location must be
// the caller's, the posting valid (paths renamed by at for the shape it
// came in), then it is stored unless a newer one is.
func (s *Server) postCapacity(ctx context.Context, p *auth.Principal, posting discharge.Capacity, at func(string) string) (discharge.Capacity, bool, error) {
	locDoc, err := s.ownLocation(ctx, p, posting.LocationID)
	if err != nil {
		return posting, false, err
	}
	if issues := posting.Validate(s.now()); len(issues) > 0 {
		for i := range issues {
			issues[i].Expression = at(issues[i].Expression)
		}
		return posting, false, issues.Err(discharge.KindValue, "capacity")
	}
	pos, area := s.placeLocation(locDoc)
	return s.capacity.Put(ctx, posting, pos, area)
}

// getCapacity is GET /api/v1/capacity/{locationId}.
func (s *Server) getCapacity(c echo.Context) error {
	id := c.Param("locationId")
	got, err := s.capacity.Get(c.Request().Context(), id)
	if err != nil {
		return err
	}
	cp, ok := got[id]
	if !ok {
		return discharge.E(discharge.KindNotFound, "locationId", "No capacity has been posted for this location.")
	}
	b, _ := json.Marshal(capacityView{cp, s.cfg.Freshness.Of(cp.AsOf, s.now())})
	return c.Blob(http.StatusOK, plainJSON, b)
}

// summaryLocation is one location of a capacity summary.
type summaryLocation struct {
	LocationID string                  `json:"locationId"`
	DistanceKm float64                 `json:"distanceKm"`
	AsOf       *time.Time              `json:"asOf,omitempty"`
	Freshness  discharge.Freshness     `json:"freshness"`
	Accepting  int                     `json:"acceptingAdmissions"`
	Beds       []discharge.BedCapacity `json:"beds,omitempty"`
}

// maxSummary bounds the locations one summary lists.
const maxSummary = 200

// capacitySummary is GET /api/v1/capacity?near=lat,long&radiusKm=&setting=&bedType=:
// the vacancies near a point, each location with its freshness, and totals
// of beds accepting admissions by freshness. Unknown capacity counts as no
// vacancy.
func (s *Server) capacitySummary(c echo.Context) error {
	q := c.QueryParams()
	for name := range q {
		switch name {
		case "near", "postcode", "radiusKm", "setting", "bedType":
		default:
			return discharge.E(discharge.KindNotSupported, name, "Unknown parameter '"+name+"': use near or postcode, radiusKm, setting and bedType.")
		}
	}
	var lat, lon float64
	var err error
	if pc := q.Get("postcode"); pc != "" && q.Get("near") == "" {
		p, ok := s.geo.Locate(pc)
		if !ok {
			return discharge.E(discharge.KindValue, "postcode", "The postcode (or district) is not known to the geocoder.")
		}
		lat, lon = p.Lat, p.Lon
	} else if lat, lon, err = parseNear(q.Get("near")); err != nil {
		return err
	}
	radius := placement.DefaultRadiusKm
	if v := q.Get("radiusKm"); v != "" {
		if radius, err = strconv.ParseFloat(v, 64); err != nil || radius <= 0 || radius > placement.MaxRadiusKm {
			return discharge.E(discharge.KindValue, "radiusKm", fmt.Sprintf("radiusKm must be a number above 0 and at most %g.", placement.MaxRadiusKm))
		}
	}
	beds := discharge.BedTypes()
	var want []discharge.BedType
	switch {
	case q.Get("bedType") != "":
		bt := discharge.BedType(q.Get("bedType"))
		if !bt.Valid() {
			return discharge.E(discharge.KindCodeInvalid, "bedType", "Unknown bed type: use the gateway's bed-type code system.")
		}
		want = []discharge.BedType{bt}
	case q.Get("setting") != "":
		st := discharge.CareSetting(q.Get("setting"))
		if !st.Valid() {
			return discharge.E(discharge.KindCodeInvalid, "setting", "Unknown care setting: use the gateway's care-setting code system.")
		}
		if want = discharge.BedTypesFor(st); want == nil {
			if st == discharge.CareHomeCare || st == discharge.CareReablement {
				return s.homeCareSummary(c, lat, lon, q.Get("postcode"))
			}
			return discharge.E(discharge.KindBusinessRule, "setting", "This care setting has no capacity postings to summarise.")
		}
	default:
		for _, b := range beds {
			want = append(want, discharge.BedType(b.Code))
		}
	}
	ctx := c.Request().Context()
	hits, err := s.capacity.Near(ctx, s.geo.AreasNear(lat, lon, radius), want, lat, lon, radius, maxSummary)
	if err != nil {
		return err
	}
	ids := make([]string, len(hits))
	for i, h := range hits {
		ids[i] = h.LocationID
	}
	caps, err := s.capacity.Get(ctx, ids...)
	if err != nil {
		return err
	}
	now := s.now()
	totals := map[discharge.Freshness]int{discharge.Fresh: 0, discharge.Stale: 0, discharge.Unknown: 0}
	counts := map[discharge.Freshness]int{discharge.Fresh: 0, discharge.Stale: 0, discharge.Unknown: 0}
	locs := make([]summaryLocation, 0, len(hits))
	for _, h := range hits {
		sl := summaryLocation{LocationID: h.LocationID, DistanceKm: round2(h.DistanceKm), Freshness: discharge.Unknown}
		if cp, ok := caps[h.LocationID]; ok {
			asOf := cp.AsOf
			sl.AsOf = &asOf
			sl.Freshness = s.cfg.Freshness.Of(cp.AsOf, now)
			for _, b := range cp.Beds {
				for _, w := range want {
					if b.Type == w {
						sl.Beds = append(sl.Beds, b)
						sl.Accepting += cp.Vacant(b.Type)
					}
				}
			}
			if sl.Freshness == discharge.Unknown {
				sl.Accepting = 0 // too old to count
			}
		}
		totals[sl.Freshness] += sl.Accepting
		counts[sl.Freshness]++
		locs = append(locs, sl)
	}
	sort.SliceStable(locs, func(i, j int) bool { return locs[i].DistanceKm < locs[j].DistanceKm })
	out := map[string]any{
		"near": map[string]float64{"latitude": lat, "longitude": lon}, "radiusKm": radius, "bedTypes": want,
		"locations":            locs,
		"acceptingByFreshness": totals,
		"locationsByFreshness": counts,
		"freshnessPolicy":      map[string]string{"staleAfter": s.cfg.Freshness.StaleAfter.String(), "unknownAfter": s.cfg.Freshness.ExpireAfter.String()},
	}
	b, _ := json.Marshal(out)
	return c.Blob(http.StatusOK, plainJSON, b)
}

func round2(f float64) float64 { return float64(int64(f*100+0.5)) / 100 }

// parseNear reads "lat,long".
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
	if err1 != nil || err2 != nil || lat < -90 || lat > 90 || lon < -180 || lon > 180 {
		return 0, 0, bad
	}
	return lat, lon, nil
}

// ownLocation returns a directory Location the caller's organisation
// manages: 404 if there is no such Location, 403 if another provider's.
func (s *Server) ownLocation(ctx context.Context, p *auth.Principal, id string) (map[string]any, error) {
	r, err := s.store.Read(ctx, directoryPartition, "Location", id)
	if err != nil {
		if discharge.ErrorKind(err) == discharge.KindNotFound {
			return nil, discharge.E(discharge.KindNotFound, "locationId", "No such Location in the directory: register it first.")
		}
		return nil, err
	}
	doc, err := decodeDoc(r.JSON)
	if err != nil {
		return nil, err
	}
	if err := s.ownedOrganization(ctx, p, doc["managingOrganization"], "Location.managingOrganization", nil); err != nil {
		return nil, discharge.E(discharge.KindForbidden, "locationId", "This Location belongs to another provider.")
	}
	return doc, nil
}

// placeLocation finds where a Location is on the map: its position, else
// its postcode's; and the postcode area whose geo shard holds it.
func (s *Server) placeLocation(doc map[string]any) (*discharge.Position, string) {
	postcode := ""
	if addr, ok := doc["address"].(map[string]any); ok {
		postcode, _ = addr["postalCode"].(string)
	}
	var pos *discharge.Position
	if p, ok := doc["position"].(map[string]any); ok {
		lat, err1 := numberOf(p["latitude"])
		lon, err2 := numberOf(p["longitude"])
		if err1 == nil && err2 == nil {
			pos = &discharge.Position{Lat: lat, Lon: lon}
		}
	}
	if pos == nil && postcode != "" {
		if p, ok := s.geo.Locate(postcode); ok {
			pos = &p
		}
	}
	if pos == nil {
		return nil, ""
	}
	return pos, s.geo.AreaOf(postcode, *pos)
}

func numberOf(v any) (float64, error) {
	switch n := v.(type) {
	case json.Number:
		return n.Float64()
	case float64:
		return n, nil
	}
	return 0, errors.New("not a number")
}

// jsonDecodeError names the JSON field a decoding error is about.
func jsonDecodeError(err error) error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return discharge.E(discharge.KindStructure, te.Field, fmt.Sprintf("Wrong JSON type for %s: want %s.", te.Field, te.Type))
	}
	// encoding/json reports an unknown field only in its message text; there
	// is no typed error to test with errors.As.
	msg := err.Error()
	if f, ok := strings.CutPrefix(msg, "json: unknown field "); ok {
		f = strings.Trim(f, `"`)
		return discharge.E(discharge.KindStructure, f, "Unknown field '"+f+"'.")
	}
	return discharge.E(discharge.KindStructure, "", "The body is not valid JSON for this API.")
}

// CapacityParser reads a bulk capacity file (adapters/capacitycsv) into
// postings, each with its source rows.
type CapacityParser func(io.Reader) ([]discharge.BulkPosting, []discharge.RowIssue, error)

// capacityReport is the answer to a bulk capacity import.
type capacityReport struct {
	Rows     int                  `json:"rows"`
	Accepted int                  `json:"accepted"`
	Ignored  int                  `json:"ignoredAsOlder"`
	Rejected []discharge.RowIssue `json:"rejected"`
}

// importCapacity is POST /api/v1/capacity/import (text/csv): a vendor's
// batch export, one row per location and bed type. Each location's rows
// post together; a posting that breaks a rule, or is for a location the
// caller does not manage, rejects its rows with the reason.
func (s *Server) importCapacity(c echo.Context) error {
	ctx := c.Request().Context()
	p := principal(c)
	if p == nil || p.Role != auth.RoleCareProvider {
		return discharge.E(discharge.KindForbidden, "", "Only a care provider posts capacity.")
	}
	if mt, _, _ := mime.ParseMediaType(c.Request().Header.Get(echo.HeaderContentType)); mt != "text/csv" {
		return discharge.E(discharge.KindUnsupportedMedia, "", "The capacity import takes text/csv.")
	}
	body, err := s.readBody(c, "")
	if err != nil {
		return err
	}
	postings, rejected, err := s.parseCapacity(bytes.NewReader(body))
	if err != nil {
		return discharge.E(discharge.KindStructure, "", "The CSV cannot be read: "+err.Error())
	}
	rep := capacityReport{Rows: len(rejected), Rejected: rejected}
	for _, pr := range postings {
		rep.Rows += len(pr.Rows)
		_, applied, err := s.postCapacity(ctx, p, pr.Capacity, func(path string) string { return path })
		if err != nil {
			de := toError(err)
			if statusOf(de.Kind) >= 500 {
				return err
			}
			reason := de.Kind.String()
			column := ""
			if len(de.Issues) > 0 {
				reason, column = de.Issues[0].Message, de.Issues[0].Expression
			}
			for _, row := range pr.Rows {
				rep.Rejected = append(rep.Rejected, discharge.RowIssue{Row: row, Column: column, Reason: reason})
			}
			continue
		}
		if applied {
			rep.Accepted += len(pr.Rows)
		} else {
			rep.Ignored += len(pr.Rows)
		}
	}
	sort.Slice(rep.Rejected, func(i, j int) bool { return rep.Rejected[i].Row < rep.Rejected[j].Row })
	b, _ := json.Marshal(rep)
	return c.Blob(http.StatusOK, plainJSON, b)
}

// homeCareSummary lists the home-care offers posted for the district of the
// point (or postcode): home care is posted by districts served, not by
// distance.
func (s *Server) homeCareSummary(c echo.Context, lat, lon float64, postcode string) error {
	ctx := c.Request().Context()
	oc := s.geo.OutcodeAt(postcode, discharge.Position{Lat: lat, Lon: lon})
	ids, err := s.capacity.Covering(ctx, oc)
	if err != nil {
		return err
	}
	caps, err := s.capacity.Get(ctx, ids...)
	if err != nil {
		return err
	}
	now := s.now()
	type offer struct {
		LocationID string                    `json:"locationId"`
		AsOf       time.Time                 `json:"asOf"`
		Freshness  discharge.Freshness       `json:"freshness"`
		Offers     []discharge.HomeCareOffer `json:"homeCare"`
	}
	offers := []offer{}
	hours := map[discharge.Freshness]float64{discharge.Fresh: 0, discharge.Stale: 0, discharge.Unknown: 0}
	for _, id := range ids {
		cp, ok := caps[id]
		if !ok {
			continue
		}
		o := offer{LocationID: id, AsOf: cp.AsOf, Freshness: s.cfg.Freshness.Of(cp.AsOf, now)}
		for _, h := range cp.HomeCare {
			for _, d := range h.Outcodes {
				if d == oc {
					o.Offers = append(o.Offers, h)
					if o.Freshness != discharge.Unknown {
						hours[o.Freshness] += h.HoursPerWeek
					}
				}
			}
		}
		if len(o.Offers) > 0 {
			offers = append(offers, o)
		}
	}
	b, _ := json.Marshal(map[string]any{"outcode": oc, "setting": "home-care", "providers": offers, "hoursPerWeekByFreshness": hours})
	return c.Blob(http.StatusOK, plainJSON, b)
}
