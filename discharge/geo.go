package discharge

import "math"

// Position is a WGS84 point. (The brief that specified matching calls it
// LatLon; Position came first and the adapters use it.)
type Position struct {
	Lat float64
	Lon float64
}

// Valid reports whether p is a finite point with latitude in [-90, 90] and
// longitude in [-180, 180].
func (p Position) Valid() bool {
	return p.Lat >= -90 && p.Lat <= 90 && p.Lon >= -180 && p.Lon <= 180
}

// Validate reports an out-of-range position as value issues at at+".latitude"
// and at+".longitude" (the model's paths, see validate.go), so a caller can
// prefix its own path.
func (p Position) Validate(at string) Issues {
	if at != "" {
		at += "."
	}
	var is Issues
	if !(p.Lat >= -90 && p.Lat <= 90) { // also catches NaN
		is.Add(KindValue, at+"latitude", "latitude must be between -90 and 90.")
	}
	if !(p.Lon >= -180 && p.Lon <= 180) {
		is.Add(KindValue, at+"longitude", "longitude must be between -180 and 180.")
	}
	return is
}

// earthRadiusKm is the mean Earth radius (IUGG). Over England's distances
// the spherical error against the ellipsoid is under 0.5 %, well inside the
// error of a postcode centroid.
const earthRadiusKm = 6371.0088

// DistanceKm is the great-circle (haversine) distance between a and b.
func DistanceKm(a, b Position) float64 {
	const rad = math.Pi / 180
	dLat := (b.Lat - a.Lat) * rad
	dLon := (b.Lon - a.Lon) * rad
	h := math.Sin(dLat/2)*math.Sin(dLat/2) +
		math.Cos(a.Lat*rad)*math.Cos(b.Lat*rad)*math.Sin(dLon/2)*math.Sin(dLon/2)
	// Rounding can push h a hair over 1 for antipodal points.
	return 2 * earthRadiusKm * math.Asin(math.Sqrt(math.Min(1, h)))
}

// Nearby is a location found near a point.
type Nearby struct {
	LocationID string
	DistanceKm float64
}
