package sitrep

import (
	"context"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/dischargegateway/gateway/auth"
	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/fhir"
	"github.com/dischargegateway/gateway/mappings"
)

// Virtual wards (issue 18): occupancy of virtual wards against the 80 %
// target per ward, ICB and postcode district, day by day, from the rows
// the store keeps as wards post capacity (adapters/sqlstore/virtualward.go)
// and the directory's Locations. docs/sitrep.md records the decisions.

// WardDays are the virtual wards' daily figures.
type WardDays interface {
	// WardDays returns every ward's rows for the days [fromDay, toDay]
	// (discharge.DayNumber).
	WardDays(ctx context.Context, fromDay, toDay int64) ([]discharge.WardDay, error)
}

// WardPlaces says where wards are: name, postcode district and ICB.
type WardPlaces interface {
	WardPlaces(ctx context.Context, ids []string) (map[string]discharge.WardPlace, error)
}

// DefaultWardDays is the trend a report shows when no period is asked
// for: the last two weeks, today included.
const DefaultWardDays = 14

// VirtualWards computes virtual-ward occupancy.
type VirtualWards struct {
	days   WardDays
	places WardPlaces
	now    func() time.Time
}

// NewVirtualWards returns the service over the wards' rows and places; now
// is the clock (time.Now when nil).
func NewVirtualWards(days WardDays, places WardPlaces, now func() time.Time) *VirtualWards {
	if now == nil {
		now = time.Now
	}
	return &VirtualWards{days: days, places: places, now: now}
}

// WardRequest is what one virtual-ward report is asked for.
type WardRequest struct {
	// ICB keeps the wards of one ICB (ODS code); Location keeps one ward.
	// Both empty: every ward.
	ICB, Location string
	// From and To are the days (inclusive); zero To is today, zero From
	// the DefaultWardDays ending To.
	From, To discharge.Date
}

// Subject is how the report names what it covers: the ICB's ODS code,
// Location/{id}, or "" for every ward.
func (r WardRequest) Subject() string {
	if r.Location != "" {
		return "Location/" + r.Location
	}
	return r.ICB
}

// WardReport is one virtual-ward report with when it was computed.
type WardReport struct {
	Subject   string
	Generated time.Time
	discharge.VirtualWardReport
}

// MayReadVirtualWards is the virtual-ward report's access rule, which the
// route table declares: every trust and every hub reads every ward.
// Occupancy is the providers' capacity, not patient data, and virtual
// wards take patients across ICB boundaries, as trusts and hubs already
// read every care provider's capacity. Care providers (including the
// wards' own, which read their postings at /api/v1/capacity) and
// operators do not. A commissioner (system) role, when auth has one, is
// to be admitted here.
func MayReadVirtualWards(p *auth.Principal) error {
	if p == nil || (p.Role != auth.RoleTrust && p.Role != auth.RoleHub) {
		return discharge.E(discharge.KindForbidden, "", "Only a trust or a hub reads virtual-ward occupancy.")
	}
	return nil
}

// Report computes the report r asks for.
func (s *VirtualWards) Report(ctx context.Context, p *auth.Principal, r WardRequest) (WardReport, error) {
	if err := MayReadVirtualWards(p); err != nil {
		return WardReport{}, err
	}
	now := s.now()
	if r.To.IsZero() {
		r.To = discharge.Today(now)
	}
	if r.From.IsZero() {
		r.From = discharge.DateOfDay(discharge.DayNumber(r.To) - DefaultWardDays + 1)
	}
	if r.To.Before(r.From) {
		return WardReport{}, discharge.E(discharge.KindValue, "period", "The period ends before it starts.")
	}
	if discharge.Days(r.From, r.To) >= MaxDays {
		return WardReport{}, discharge.E(discharge.KindTooLarge, "period", "A report covers at most 92 days.")
	}
	rows, err := s.days.WardDays(ctx, discharge.DayNumber(r.From)-discharge.VirtualWardCarryDays, discharge.DayNumber(r.To))
	if err != nil {
		return WardReport{}, err
	}
	var ids []string
	seen := map[string]bool{}
	for _, w := range rows {
		if !seen[w.Location] && (r.Location == "" || w.Location == r.Location) {
			seen[w.Location] = true
			ids = append(ids, w.Location)
		}
	}
	places, err := s.places.WardPlaces(ctx, ids)
	if err != nil {
		return WardReport{}, err
	}
	keep := func(loc string, pl discharge.WardPlace) bool {
		return seen[loc] && (r.ICB == "" || pl.ICB == r.ICB)
	}
	return WardReport{Subject: r.Subject(), Generated: now,
		VirtualWardReport: discharge.ComputeVirtualWards(r.From, r.To, rows, places, keep)}, nil
}

// WardOccupancy is one ward's figures on a day, for the dashboard.
type WardOccupancy struct {
	Name               string
	Occupied, Capacity int
}

// Occupancy is every ward's occupancy on day (today when zero), by ward
// id, for the dashboard's table.
func (s *VirtualWards) Occupancy(ctx context.Context, p *auth.Principal, day discharge.Date) ([]WardOccupancy, error) {
	if day.IsZero() {
		day = discharge.Today(s.now())
	}
	rep, err := s.Report(ctx, p, WardRequest{From: day, To: day})
	if err != nil {
		return nil, err
	}
	last := rep.Last()
	out := make([]WardOccupancy, len(last.Wards))
	for i, f := range last.Wards {
		out[i] = WardOccupancy{Name: f.Name, Occupied: f.Occupied, Capacity: f.Capacity}
	}
	return out, nil
}

// ParseWardSubject reads subject: Organization/{ICB ODS code} (or the bare
// code) for one ICB's wards, Location/{id} for one ward; both empty when
// absent. Errors name subject.
func ParseWardSubject(q url.Values) (icb, location string, err error) {
	v := q.Get("subject")
	if v == "" {
		return "", "", nil
	}
	bad := discharge.E(discharge.KindValue, "subject", "subject is Organization/{ICB ODS code} or Location/{id} of a virtual ward.")
	if strings.Contains(v, "/") {
		typ, id, ok := fhir.SplitRef(v)
		switch {
		case !ok || strings.Count(v, "/") != 1:
			return "", "", bad
		case typ == "Organization":
			v = id
		case typ == "Location" && fhirID.MatchString(id):
			return "", id, nil
		default:
			return "", "", bad
		}
	}
	if !odsCode.MatchString(v) {
		return "", "", bad
	}
	return strings.ToUpper(v), "", nil
}

// odsCode is an ODS organisation code's shape; fhirID a FHIR id's.
var (
	odsCode = regexp.MustCompile(`^[A-Za-z0-9]{1,10}$`)
	fhirID  = regexp.MustCompile(`^[A-Za-z0-9\-.]{1,64}$`)
)

// Reader reads directory resources (fhir.Store).
type Reader interface {
	ReadMany(ctx context.Context, partition string, refs []fhir.Ref) (map[string]fhir.Resource, error)
}

// DirectoryPlaces places wards by their directory Location and its
// managing Organization (mappings.VirtualWardPlace).
type DirectoryPlaces struct{ Store Reader }

var _ WardPlaces = DirectoryPlaces{}

// WardPlaces reads the wards' Locations, then their provider
// Organizations, each in one ReadMany (a statement per few hundred). A ward
// not in the directory has no place (reported as unknown); an outage fails
// the report. (One Read per ward, four at a time, cost SQLite 5x as much:
// bench/virtual-wards.md.)
func (d DirectoryPlaces) WardPlaces(ctx context.Context, ids []string) (map[string]discharge.WardPlace, error) {
	refs := make([]fhir.Ref, len(ids))
	for i, id := range ids {
		refs[i] = fhir.Ref{Type: "Location", ID: id}
	}
	locs, err := d.Store.ReadMany(ctx, fhir.DirectoryPartition, refs)
	if err != nil {
		return nil, err
	}
	docs := make(map[string]map[string]any, len(locs))
	wardOrg, seen := map[string]string{}, map[string]bool{}
	var orgRefs []fhir.Ref
	for _, id := range ids {
		r, ok := locs["Location/"+id]
		if !ok {
			continue
		}
		doc, err := fhir.DecodeDoc(r.JSON)
		if err != nil {
			return nil, err
		}
		docs[id] = doc
		if ref, ok := mappings.LocationManagingOrganization(doc); ok {
			if typ, oid, ok := fhir.SplitRef(ref); ok && typ == "Organization" {
				key := "Organization/" + oid
				if !seen[key] {
					seen[key] = true
					orgRefs = append(orgRefs, fhir.Ref{Type: typ, ID: oid})
				}
				wardOrg[id] = key
			}
		}
	}
	orgs := map[string]fhir.Resource{}
	if len(orgRefs) > 0 {
		if orgs, err = d.Store.ReadMany(ctx, fhir.DirectoryPartition, orgRefs); err != nil {
			return nil, err
		}
	}
	orgDocs := map[string]map[string]any{}
	out := make(map[string]discharge.WardPlace, len(docs))
	for id, doc := range docs {
		var org map[string]any
		if key := wardOrg[id]; key != "" {
			if o, ok := orgDocs[key]; ok {
				org = o
			} else if r, ok := orgs[key]; ok {
				if org, err = fhir.DecodeDoc(r.JSON); err != nil {
					return nil, err
				}
				orgDocs[key] = org
			}
		}
		out[id] = mappings.VirtualWardPlace(doc, org)
	}
	return out, nil
}
