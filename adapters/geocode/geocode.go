// Package geocode places UK postcodes on the map from CSV reference tables:
// the outcode-centroid table shipped in configs/geo (Open Government
// Licence, OS data) and, optionally, a full-postcode table in the ONS
// Postcode Directory or Code-Point Open column layout.
package geocode

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/dischargegateway/gateway/discharge"
)

// Precision says how exactly a point locates a postcode.
type Precision string

// Precisions, best first.
const (
	PrecisionPostcode Precision = "postcode" // the postcode's own point
	PrecisionOutcode  Precision = "outcode"  // the centroid of its district: a few km
)

// Point is a WGS84 position.
type Point struct {
	Lat, Lon  float64
	Precision Precision
}

// Table geocodes postcodes. It is read-only after loading and safe for
// concurrent use.
type Table struct {
	outcodes  map[string]Point
	postcodes map[string]Point

	boxOnce   sync.Once
	areaBoxes map[string]areaBox
}

// Lookup places a postcode or a bare outcode: a full postcode from the
// postcode table when one is loaded, else its district's centroid.
func (t *Table) Lookup(postcode string) (Point, bool) {
	norm := discharge.NormalisePostcode(postcode)
	if p, ok := t.postcodes[norm]; ok {
		return p, true
	}
	p, ok := t.outcodes[discharge.Outcode(norm)]
	return p, ok
}

// Outcodes returns the number of districts known.
func (t *Table) Outcodes() int { return len(t.outcodes) }

// EachOutcode calls f for every district centroid, for synthetic data and
// shard planning.
func (t *Table) EachOutcode(f func(outcode string, p Point)) {
	for k, p := range t.outcodes {
		f(k, p)
	}
}

// LoadFiles loads the outcode table and, if postcodesPath is not empty, a
// full-postcode table.
func LoadFiles(outcodesPath, postcodesPath string) (*Table, error) {
	t := &Table{outcodes: map[string]Point{}, postcodes: map[string]Point{}}
	if err := loadFile(outcodesPath, func(r io.Reader) error { return t.LoadOutcodes(r) }); err != nil {
		return nil, err
	}
	if postcodesPath != "" {
		if err := loadFile(postcodesPath, func(r io.Reader) error { return t.LoadPostcodes(r) }); err != nil {
			return nil, err
		}
	}
	return t, nil
}

// New returns an empty table.
func New() *Table { return &Table{outcodes: map[string]Point{}, postcodes: map[string]Point{}} }

func loadFile(path string, load func(io.Reader) error) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := load(f); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// LoadOutcodes reads a CSV with columns outcode, latitude, longitude (named
// in a header row, in any order).
func (t *Table) LoadOutcodes(r io.Reader) error {
	return readTable(r, []string{"outcode"}, func(key string, p Point) error {
		key = strings.ToUpper(strings.TrimSpace(key))
		if !discharge.ValidOutcode(key) {
			return fmt.Errorf("%q is not an outcode", key)
		}
		p.Precision = PrecisionOutcode
		t.outcodes[key] = p
		return nil
	})
}

// LoadPostcodes reads a full-postcode CSV: a postcode column named pcds, pcd
// or postcode, and lat/long or latitude/longitude. Rows without coordinates
// (terminated or non-geographic postcodes) are skipped.
func (t *Table) LoadPostcodes(r io.Reader) error {
	return readTable(r, []string{"pcds", "pcd", "postcode"}, func(key string, p Point) error {
		p.Precision = PrecisionPostcode
		t.postcodes[discharge.NormalisePostcode(key)] = p
		return nil
	})
}

var errNoCoordinates = errors.New("no coordinates")

func readTable(r io.Reader, keyNames []string, add func(string, Point) error) error {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	header, err := cr.Read()
	if err != nil {
		return fmt.Errorf("header: %w", err)
	}
	col := func(names ...string) int {
		for _, n := range names {
			for i, h := range header {
				if strings.EqualFold(strings.TrimSpace(h), n) {
					return i
				}
			}
		}
		return -1
	}
	ki, lat, lon := col(keyNames...), col("latitude", "lat"), col("longitude", "long", "lon")
	if ki < 0 || lat < 0 || lon < 0 {
		return fmt.Errorf("header must name %s, latitude and longitude columns", strings.Join(keyNames, "/"))
	}
	for line := 2; ; line++ {
		rec, err := cr.Read()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("line %d: %w", line, err)
		}
		if len(rec) <= max(ki, lat, lon) {
			return fmt.Errorf("line %d: too few columns", line)
		}
		p, err := point(rec[lat], rec[lon])
		if errors.Is(err, errNoCoordinates) {
			continue
		}
		if err != nil {
			return fmt.Errorf("line %d: %w", line, err)
		}
		if err := add(rec[ki], p); err != nil {
			return fmt.Errorf("line %d: %w", line, err)
		}
	}
}

func point(latS, lonS string) (Point, error) {
	latS, lonS = strings.TrimSpace(latS), strings.TrimSpace(lonS)
	if latS == "" || lonS == "" {
		return Point{}, errNoCoordinates
	}
	lat, err1 := strconv.ParseFloat(latS, 64)
	lon, err2 := strconv.ParseFloat(lonS, 64)
	switch {
	case err1 != nil || err2 != nil:
		return Point{}, fmt.Errorf("coordinates are not numbers")
	case lat == 99.999999 && lon == 0:
		// ONSPD's placeholder for postcodes without a grid reference.
		return Point{}, errNoCoordinates
	case lat < -90 || lat > 90 || lon < -180 || lon > 180:
		return Point{}, fmt.Errorf("coordinates out of range")
	}
	return Point{Lat: lat, Lon: lon}, nil
}

// Area returns the postcode area of a postcode or outcode: its leading
// letters ("M" for M14 4AB, "SK" for SK3).
func Area(postcode string) string {
	o := discharge.Outcode(discharge.NormalisePostcode(postcode))
	i := 0
	for i < len(o) && o[i] >= 'A' && o[i] <= 'Z' {
		i++
	}
	return o[:i]
}

// areaBox is the bounding box of an area's district centroids.
type areaBox struct{ minLat, maxLat, minLon, maxLon float64 }

// areaMarginKm widens each area's box: districts reach beyond their
// centroids, by up to about 15 km in rural areas.
const areaMarginKm = 20

func (t *Table) boxes() map[string]areaBox {
	t.boxOnce.Do(func() {
		t.areaBoxes = map[string]areaBox{}
		for oc, p := range t.outcodes {
			a := Area(oc)
			b, ok := t.areaBoxes[a]
			if !ok {
				b = areaBox{p.Lat, p.Lat, p.Lon, p.Lon}
			}
			b.minLat, b.maxLat = math.Min(b.minLat, p.Lat), math.Max(b.maxLat, p.Lat)
			b.minLon, b.maxLon = math.Min(b.minLon, p.Lon), math.Max(b.maxLon, p.Lon)
			t.areaBoxes[a] = b
		}
	})
	return t.areaBoxes
}

// AreasNear lists the postcode areas that may hold a point within radiusKm
// of (lat, lon): the shards a geo search must read.
func (t *Table) AreasNear(lat, lon, radiusKm float64) []string {
	dLat := (radiusKm + areaMarginKm) / 111.0
	dLon := dLat / math.Max(math.Cos(lat*math.Pi/180), 0.1)
	var out []string
	for a, b := range t.boxes() {
		if lat+dLat >= b.minLat && lat-dLat <= b.maxLat && lon+dLon >= b.minLon && lon-dLon <= b.maxLon {
			out = append(out, a)
		}
	}
	sort.Strings(out)
	return out
}

// NearestArea returns the area of the district centroid nearest a point,
// for a location known only by its position.
func (t *Table) NearestArea(lat, lon float64) string {
	return Area(t.OutcodeAt("", discharge.Position{Lat: lat, Lon: lon}))
}

// Locate places a postcode (gateway.Geocoder).
func (t *Table) Locate(postcode string) (discharge.Position, bool) {
	p, ok := t.Lookup(postcode)
	return discharge.Position{Lat: p.Lat, Lon: p.Lon}, ok
}

// AreaOf returns the postcode area of a postcode, or, without one, of the
// district nearest pos (gateway.Geocoder).
func (t *Table) AreaOf(postcode string, pos discharge.Position) string {
	if a := Area(postcode); a != "" {
		return a
	}
	return t.NearestArea(pos.Lat, pos.Lon)
}

// OutcodeAt names the district of a postcode, or, without a known one, the
// district whose centroid is nearest pos (gateway.Geocoder).
func (t *Table) OutcodeAt(postcode string, pos discharge.Position) string {
	if oc := discharge.Outcode(discharge.NormalisePostcode(postcode)); oc != "" {
		if _, ok := t.outcodes[oc]; ok {
			return oc
		}
	}
	best, bestD := "", math.Inf(1)
	for oc, p := range t.outcodes {
		d := (p.Lat-pos.Lat)*(p.Lat-pos.Lat) + (p.Lon-pos.Lon)*(p.Lon-pos.Lon)*math.Cos(pos.Lat*math.Pi/180)
		if d < bestD {
			best, bestD = oc, d
		}
	}
	return best
}
