package gateway

import (
	"time"

	"github.com/dischargegateway/gateway/capacity"
	"github.com/dischargegateway/gateway/discharge"
)

// The /api/v1/capacity JSON shapes (described in openapi.json) and their
// converters. The domain types carry no JSON names; these do.

// wireBed is one bed type's counts (the DHSC mandate's four fields, plus
// whether the home is closed to admissions for it).
type wireBed struct {
	Type                discharge.BedType `json:"type"`
	MaxCapacity         int               `json:"maxCapacity"`
	Occupied            int               `json:"occupied"`
	Reserved            int               `json:"reserved"`
	AcceptingAdmissions int               `json:"acceptingAdmissions"`
	ClosedToAdmissions  bool              `json:"closedToAdmissions"`
}

// wireHomeCare is home care that can start, for the districts served.
type wireHomeCare struct {
	Outcodes      []string       `json:"outcodes"`
	HoursPerWeek  float64        `json:"hoursPerWeek"`
	Packages      int            `json:"packages"`
	EarliestStart discharge.Date `json:"earliestStart"`
}

// wirePosting is the body of PUT /api/v1/capacity/{locationId}.
type wirePosting struct {
	AsOf     string         `json:"asOf"`
	Beds     []wireBed      `json:"beds"`
	HomeCare []wireHomeCare `json:"homeCare"`
}

// wireCapacity is a location's capacity as every read shows it: with its
// freshness.
type wireCapacity struct {
	LocationID string              `json:"locationId"`
	AsOf       time.Time           `json:"asOf"`
	Version    int64               `json:"version"`
	Beds       []wireBedHeld       `json:"beds,omitempty"`
	HomeCare   []wireHomeCare      `json:"homeCare,omitempty"`
	Freshness  discharge.Freshness `json:"freshness"`
	// Warnings say where active holds exceed the posted vacancies.
	Warnings []wireWarning `json:"warnings,omitempty"`
}

// wireBedHeld is a bed type as a read shows it: as posted, with the
// active holds on it (beds promised to accepted offers) and what remains
// bookable. Only reads with the referral loop carry them (View.Held not
// nil); a posting's body is wireBed.
type wireBedHeld struct {
	wireBed
	Held     *int `json:"held,omitempty"`
	Bookable *int `json:"bookable,omitempty"`
}

// wireWarning is a warning in an /api/v1 answer.
type wireWarning struct {
	Expression string `json:"expression"`
	Message    string `json:"message"`
}

// wirePosted answers PUT /api/v1/capacity/{locationId}.
type wirePosted struct {
	Applied  bool          `json:"applied"`
	Capacity wireCapacity  `json:"capacity"`
	Warnings []wireWarning `json:"warnings,omitempty"`
}

// wireCapacityReport answers POST /api/v1/capacity/import.
type wireCapacityReport struct {
	Rows     int            `json:"rows"`
	Accepted int            `json:"accepted"`
	Ignored  int            `json:"ignoredAsOlder"`
	Rejected []wireRowIssue `json:"rejected"`
}

// wireLatLon is a point.
type wireLatLon struct {
	Latitude  float64 `json:"latitude"`
	Longitude float64 `json:"longitude"`
}

// wireFreshnessPolicy says when capacity becomes stale and then unknown.
type wireFreshnessPolicy struct {
	StaleAfter   string `json:"staleAfter"`
	UnknownAfter string `json:"unknownAfter"`
}

// wireBedSummary answers GET /api/v1/capacity for bed types. Its fields
// are in name order, as the answer has always been written.
type wireBedSummary struct {
	// AcceptingByFreshness counts bookable beds: accepting admissions
	// and not held.
	AcceptingByFreshness map[discharge.Freshness]int `json:"acceptingByFreshness"`
	BedTypes             []discharge.BedType         `json:"bedTypes"`
	FreshnessPolicy      wireFreshnessPolicy         `json:"freshnessPolicy"`
	Locations            []wireSummaryLocation       `json:"locations"`
	LocationsByFreshness map[discharge.Freshness]int `json:"locationsByFreshness"`
	Near                 wireLatLon                  `json:"near"`
	RadiusKm             float64                     `json:"radiusKm"`
	Warnings             []wireWarning               `json:"warnings,omitempty"`
}

// wireSummaryLocation is one location of a bed summary.
type wireSummaryLocation struct {
	LocationID string              `json:"locationId"`
	DistanceKm float64             `json:"distanceKm"`
	AsOf       *time.Time          `json:"asOf,omitempty"`
	Freshness  discharge.Freshness `json:"freshness"`
	Accepting  int                 `json:"acceptingAdmissions"` // bookable: not held
	Beds       []wireBed           `json:"beds,omitempty"`
	// Held are the active holds per bed type (absent: none).
	Held map[discharge.BedType]int `json:"held,omitempty"`
}

// wireHomeCareSummary answers GET /api/v1/capacity for home care and
// reablement, by district. Its fields are in name order.
type wireHomeCareSummary struct {
	HoursByFreshness map[discharge.Freshness]float64 `json:"hoursPerWeekByFreshness"`
	Outcode          string                          `json:"outcode"`
	Providers        []wireHomeCareProvider          `json:"providers"`
	Setting          string                          `json:"setting"`
}

// wireHomeCareProvider is one location's offers for the district.
type wireHomeCareProvider struct {
	LocationID string              `json:"locationId"`
	AsOf       time.Time           `json:"asOf"`
	Freshness  discharge.Freshness `json:"freshness"`
	Offers     []wireHomeCare      `json:"homeCare"`
}

// fromWirePosting converts a PUT body to a posting for locID.
func fromWirePosting(locID string, in wirePosting) (discharge.Capacity, error) {
	c := discharge.Capacity{LocationID: locID}
	if in.Beds != nil {
		c.Beds = make([]discharge.BedCapacity, len(in.Beds))
		for i, b := range in.Beds {
			c.Beds[i] = discharge.BedCapacity(b)
		}
	}
	if in.HomeCare != nil {
		c.HomeCare = make([]discharge.HomeCareOffer, len(in.HomeCare))
		for i, h := range in.HomeCare {
			c.HomeCare[i] = discharge.HomeCareOffer(h)
		}
	}
	if in.AsOf != "" {
		t, err := time.Parse(time.RFC3339, in.AsOf)
		if err != nil {
			return c, discharge.E(discharge.KindValue, "asOf", "asOf must be an RFC 3339 date-time with a time zone.")
		}
		c.AsOf = t.UTC()
	}
	return c, nil
}

func toWireBeds(bs []discharge.BedCapacity) []wireBed {
	if bs == nil {
		return nil
	}
	out := make([]wireBed, len(bs))
	for i, b := range bs {
		out[i] = wireBed(b)
	}
	return out
}

func toWireHomeCare(hs []discharge.HomeCareOffer) []wireHomeCare {
	if hs == nil {
		return nil
	}
	out := make([]wireHomeCare, len(hs))
	for i, h := range hs {
		out[i] = wireHomeCare(h)
	}
	return out
}

// toWireCapacity converts a capacity read.
func toWireCapacity(v capacity.View) wireCapacity {
	out := wireCapacity{LocationID: v.LocationID, AsOf: v.AsOf, Version: v.Version,
		HomeCare: toWireHomeCare(v.HomeCare), Freshness: v.Freshness, Warnings: toWireWarnings(v.Warnings)}
	if v.Beds != nil {
		out.Beds = make([]wireBedHeld, len(v.Beds))
		for i, b := range v.Beds {
			out.Beds[i] = wireBedHeld{wireBed: wireBed(b)}
			if v.Held != nil {
				h, bk := v.Held[b.Type], max(v.Vacant(b.Type)-v.Held[b.Type], 0)
				out.Beds[i].Held, out.Beds[i].Bookable = &h, &bk
			}
		}
	}
	return out
}

// toWireWarnings converts an answer's warnings; nil when there are none.
func toWireWarnings(is discharge.Issues) []wireWarning {
	if len(is) == 0 {
		return nil
	}
	out := make([]wireWarning, len(is))
	for i, x := range is {
		out[i] = wireWarning{Expression: x.Expression, Message: x.Message}
	}
	return out
}

// toWirePosted converts a posting's outcome; one not applied says why.
func toWirePosted(p capacity.Posted) wirePosted {
	out := wirePosted{Applied: p.Applied, Capacity: toWireCapacity(p.View)}
	if !p.Applied {
		out.Warnings = []wireWarning{{Expression: "asOf", Message: p.OlderMessage()}}
	}
	return out
}

// toWireCapacityReport converts a bulk import's report.
func toWireCapacityReport(r capacity.ImportReport) wireCapacityReport {
	return wireCapacityReport{Rows: r.Rows, Accepted: r.Accepted, Ignored: r.Ignored, Rejected: toWireRowIssues(r.Rejected)}
}

// toWireSummary converts a summary to its bed or home-care shape.
func toWireSummary(s capacity.Summary) any {
	if hc := s.HomeCare; hc != nil {
		out := wireHomeCareSummary{HoursByFreshness: hc.HoursByFreshness, Outcode: hc.Outcode, Setting: "home-care",
			Providers: make([]wireHomeCareProvider, len(hc.Providers))}
		for i, p := range hc.Providers {
			out.Providers[i] = wireHomeCareProvider{LocationID: p.LocationID, AsOf: p.AsOf, Freshness: p.Freshness, Offers: toWireHomeCare(p.Offers)}
		}
		return out
	}
	b := s.Beds
	out := wireBedSummary{AcceptingByFreshness: b.AcceptingByFreshness, BedTypes: b.BedTypes,
		FreshnessPolicy:      wireFreshnessPolicy{StaleAfter: b.Policy.StaleAfter.String(), UnknownAfter: b.Policy.ExpireAfter.String()},
		Locations:            make([]wireSummaryLocation, len(b.Locations)),
		LocationsByFreshness: b.LocationsByFreshness, Near: wireLatLon{b.Near.Lat, b.Near.Lon}, RadiusKm: b.RadiusKm,
		Warnings: toWireWarnings(b.Warnings)}
	for i, l := range b.Locations {
		out.Locations[i] = wireSummaryLocation{LocationID: l.LocationID, DistanceKm: l.DistanceKm, AsOf: l.AsOf,
			Freshness: l.Freshness, Accepting: l.Accepting, Beds: toWireBeds(l.Beds), Held: l.Held}
	}
	return out
}
