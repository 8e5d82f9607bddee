package discharge

// Position is a WGS84 point.
type Position struct {
	Lat float64 `json:"latitude"`
	Lon float64 `json:"longitude"`
}

// Nearby is a location found near a point.
type Nearby struct {
	LocationID string
	DistanceKm float64
}
