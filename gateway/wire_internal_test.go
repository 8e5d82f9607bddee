package gateway

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/dischargegateway/gateway/capacity"
	"github.com/dischargegateway/gateway/directory"
	"github.com/dischargegateway/gateway/discharge"
)

// The /api/v1 shapes are the API's contract, written here in full so a
// change to a domain type cannot change them unnoticed.

func TestWireCase(t *testing.T) {
	met, hours, lat, lon := false, 14.0, 53.44, -2.22
	pathway := discharge.Pathway(2)
	d := &discharge.Date{Year: 2026, Month: time.November, Day: 24}
	c := &discharge.Case{ID: "e1", Trust: "RXA", Patient: discharge.Patient{NHSNumber: "9000000009", AgeBand: "80-89",
		HomePostcode: "M14 4AB", HomeOutcode: "M14"}, AdmissionDate: d, Ward: "W1", ExpectedDischargeDate: d,
		DischargeReadyDate: d, CriteriaToReside: &discharge.CriteriaToReside{Met: &met, Since: d}, Pathway: &pathway,
		DelayReasons: []string{"x"}, DischargeDestination: "home", LegalStatus: "01", Status: "in-progress", NoUKPosition: true}
	n := &discharge.CareNeed{ID: "s1", CaseID: "e1", Setting: "home-care", HoursPerWeek: &hours,
		Requirements: []discharge.Requirement{"dementia"}, Funding: "chc",
		SearchArea: &discharge.SearchArea{Outcode: "M14", Latitude: &lat, Longitude: &lon}, StartDate: d,
		PreferredProviders: []string{"Organization/a"}, ExcludedProviders: []string{"Organization/b"}, Priority: "urgent", Status: "active"}
	for _, tc := range []struct {
		name string
		v    any
		want string
	}{
		{"case", toWireCase(c), `{"id":"e1","trust":"RXA","patient":{"nhsNumber":"9000000009","ageBand":"80-89","homePostcode":"M14 4AB","homeOutcode":"M14"},` +
			`"admissionDate":"2026-11-24","ward":"W1","expectedDischargeDate":"2026-11-24","dischargeReadyDate":"2026-11-24",` +
			`"criteriaToReside":{"met":false,"since":"2026-11-24"},"pathway":2,"delayReasons":["x"],"dischargeDestination":"home",` +
			`"legalStatus":"01","status":"in-progress","noUKPosition":true}`},
		{"empty case", toWireCase(&discharge.Case{ID: "e2"}), `{"id":"e2","patient":{},"status":""}`},
		{"no case", toWireCase(nil), `null`},
		{"need", toWireCareNeed(n), `{"id":"s1","caseId":"e1","setting":"home-care","hoursPerWeek":14,"requirements":["dementia"],"funding":"chc",` +
			`"searchArea":{"outcode":"M14","latitude":53.44,"longitude":-2.22},"startDate":"2026-11-24","preferredProviders":["Organization/a"],` +
			`"excludedProviders":["Organization/b"],"priority":"urgent","status":"active"}`},
		{"empty need", toWireCareNeed(&discharge.CareNeed{}), `{"id":"","setting":"","priority":"","status":""}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := json.Marshal(tc.v)
			if err != nil || string(b) != tc.want {
				t.Fatalf("got  %s\nwant %s (%v)", b, tc.want, err)
			}
		})
	}
}

func TestWireCapacity(t *testing.T) {
	asOf := time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC)
	in := wirePosting{AsOf: "2026-11-24T10:00:00+01:00",
		Beds:     []wireBed{{Type: "nursing", MaxCapacity: 10, Occupied: 7, Reserved: 1, AcceptingAdmissions: 2}},
		HomeCare: []wireHomeCare{{Outcodes: []string{"M14"}, HoursPerWeek: 40, Packages: 2, EarliestStart: discharge.Date{Year: 2026, Month: 11, Day: 25}}}}
	c, err := fromWirePosting("L1", in)
	if err != nil || c.LocationID != "L1" || !c.AsOf.Equal(asOf) || c.AsOf.Location() != time.UTC || len(c.Beds) != 1 || c.Beds[0].AcceptingAdmissions != 2 || len(c.HomeCare) != 1 {
		t.Fatalf("%+v %v", c, err)
	}
	if _, err := fromWirePosting("L1", wirePosting{AsOf: "2026-11-24T10:00:00"}); discharge.ErrorKind(err) != discharge.KindValue {
		t.Fatalf("as-of without zone: %v", err)
	}
	c.Version = 3
	posted := capacity.Posted{View: capacity.View{Capacity: c, Freshness: discharge.Stale}}
	b, _ := json.Marshal(toWirePosted(posted))
	want := `{"applied":false,"capacity":{"locationId":"L1","asOf":"2026-11-24T09:00:00Z","version":3,` +
		`"beds":[{"type":"nursing","maxCapacity":10,"occupied":7,"reserved":1,"acceptingAdmissions":2,"closedToAdmissions":false}],` +
		`"homeCare":[{"outcodes":["M14"],"hoursPerWeek":40,"packages":2,"earliestStart":"2026-11-25"}],"freshness":"stale"},` +
		`"warnings":[{"expression":"asOf","message":"A newer posting is already stored (as of 2026-11-24T09:00:00Z); this one was ignored."}]}`
	if string(b) != want {
		t.Fatalf("got  %s\nwant %s", b, want)
	}
	sum := capacity.Summary{Beds: &capacity.BedSummary{Near: discharge.Position{Lat: 53.4, Lon: -2.2}, RadiusKm: 10,
		BedTypes: []discharge.BedType{"nursing"}, Policy: discharge.DefaultFreshness,
		Locations:            []capacity.LocationSummary{{LocationID: "L1", DistanceKm: 1.25, AsOf: &asOf, Freshness: discharge.Fresh, Accepting: 2, Beds: c.Beds}},
		AcceptingByFreshness: map[discharge.Freshness]int{discharge.Fresh: 2},
		LocationsByFreshness: map[discharge.Freshness]int{discharge.Fresh: 1}}}
	b, _ = json.Marshal(toWireSummary(sum))
	want = `{"acceptingByFreshness":{"fresh":2},"bedTypes":["nursing"],"freshnessPolicy":{"staleAfter":"24h0m0s","unknownAfter":"168h0m0s"},` +
		`"locations":[{"locationId":"L1","distanceKm":1.25,"asOf":"2026-11-24T09:00:00Z","freshness":"fresh","acceptingAdmissions":2,` +
		`"beds":[{"type":"nursing","maxCapacity":10,"occupied":7,"reserved":1,"acceptingAdmissions":2,"closedToAdmissions":false}]}],` +
		`"locationsByFreshness":{"fresh":1},"near":{"latitude":53.4,"longitude":-2.2},"radiusKm":10}`
	if string(b) != want {
		t.Fatalf("got  %s\nwant %s", b, want)
	}
	hc := capacity.Summary{HomeCare: &capacity.HomeCareSummary{Outcode: "M14", Providers: []capacity.HomeCareProvider{{LocationID: "L1", AsOf: asOf,
		Freshness: discharge.Fresh, Offers: c.HomeCare}}, HoursByFreshness: map[discharge.Freshness]float64{discharge.Fresh: 40}}}
	b, _ = json.Marshal(toWireSummary(hc))
	want = `{"hoursPerWeekByFreshness":{"fresh":40},"outcode":"M14","providers":[{"locationId":"L1","asOf":"2026-11-24T09:00:00Z","freshness":"fresh",` +
		`"homeCare":[{"outcodes":["M14"],"hoursPerWeek":40,"packages":2,"earliestStart":"2026-11-25"}]}],"setting":"home-care"}`
	if string(b) != want {
		t.Fatalf("got  %s\nwant %s", b, want)
	}
}

func TestWireImportReports(t *testing.T) {
	for _, tc := range []struct {
		name string
		v    any
		want string
	}{
		{"directory, nothing rejected", toWireImportReport(directory.ImportReport{Rows: 2, Accepted: 2, Created: 1, Unchanged: 1}),
			`{"rows":2,"accepted":2,"created":1,"updated":0,"unchanged":1,"rejected":[]}`},
		{"directory, a row rejected", toWireImportReport(directory.ImportReport{Rows: 1, Rejected: []discharge.RowIssue{{Row: 2, Column: "providerId", Reason: "r"}, {Row: 3, Reason: "s"}}}),
			`{"rows":1,"accepted":0,"created":0,"updated":0,"unchanged":0,"rejected":[{"row":2,"column":"providerId","reason":"r"},{"row":3,"reason":"s"}]}`},
		{"capacity", toWireCapacityReport(capacity.ImportReport{Rows: 3, Accepted: 1, Ignored: 1, Rejected: []discharge.RowIssue{{Row: 2, Column: "beds[0]", Reason: "r"}}}),
			`{"rows":3,"accepted":1,"ignoredAsOlder":1,"rejected":[{"row":2,"column":"beds[0]","reason":"r"}]}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := json.Marshal(tc.v)
			if err != nil || string(b) != tc.want {
				t.Fatalf("got  %s\nwant %s (%v)", b, tc.want, err)
			}
		})
	}
}
