// Package postingjson is the storage format of a capacity posting, shared
// by the record (adapters/sqlstore, its posting column) and the cache
// (adapters/rediscache, a location's doc field and history entries), so one
// posting reads the same in both and a cache rebuilt from the record holds
// exactly what was posted. Its JSON names are read back from postings
// already stored, so they never change with the domain type; the domain
// type (discharge.Capacity) carries no tags.
package postingjson

import (
	"encoding/json"
	"time"

	"github.com/dischargegateway/gateway/discharge"
)

type doc struct {
	LocationID string        `json:"locationId"`
	AsOf       time.Time     `json:"asOf"`
	Version    int64         `json:"version"`
	Beds       []bedDoc      `json:"beds,omitempty"`
	HomeCare   []homeCareDoc `json:"homeCare,omitempty"`
}

type bedDoc struct {
	Type                discharge.BedType `json:"type"`
	MaxCapacity         int               `json:"maxCapacity"`
	Occupied            int               `json:"occupied"`
	Reserved            int               `json:"reserved"`
	AcceptingAdmissions int               `json:"acceptingAdmissions"`
	ClosedToAdmissions  bool              `json:"closedToAdmissions"`
}

type homeCareDoc struct {
	Outcodes      []string       `json:"outcodes"`
	HoursPerWeek  float64        `json:"hoursPerWeek"`
	Packages      int            `json:"packages"`
	EarliestStart discharge.Date `json:"earliestStart"`
}

// Encode writes a posting in the storage format (its Version too, which
// Decode ignores: each store keeps the version it assigned beside the doc).
func Encode(c discharge.Capacity) ([]byte, error) {
	d := doc{LocationID: c.LocationID, AsOf: c.AsOf, Version: c.Version}
	if c.Beds != nil {
		d.Beds = make([]bedDoc, len(c.Beds))
		for i, b := range c.Beds {
			d.Beds[i] = bedDoc(b)
		}
	}
	if c.HomeCare != nil {
		d.HomeCare = make([]homeCareDoc, len(c.HomeCare))
		for i, h := range c.HomeCare {
			d.HomeCare[i] = homeCareDoc(h)
		}
	}
	return json.Marshal(d)
}

// Decode reads a posting in the storage format; version, the one its store
// assigned, overrides any in the document.
func Decode(b []byte, version int64) (discharge.Capacity, error) {
	var d doc
	if err := json.Unmarshal(b, &d); err != nil {
		return discharge.Capacity{}, err
	}
	c := discharge.Capacity{LocationID: d.LocationID, AsOf: d.AsOf, Version: version}
	if d.Beds != nil {
		c.Beds = make([]discharge.BedCapacity, len(d.Beds))
		for i, b := range d.Beds {
			c.Beds[i] = discharge.BedCapacity(b)
		}
	}
	if d.HomeCare != nil {
		c.HomeCare = make([]discharge.HomeCareOffer, len(d.HomeCare))
		for i, h := range d.HomeCare {
			c.HomeCare[i] = discharge.HomeCareOffer(h)
		}
	}
	return c, nil
}
