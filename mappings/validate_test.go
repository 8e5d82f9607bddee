package mappings_test

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/mappings"
)

func TestValidateRules(t *testing.T) {
	p := func(n int) *discharge.Pathway { x := discharge.Pathway(n); return &x }
	origins := mappings.Origins{
		"patient.nhsNumber":   "Patient.identifier[0].value",
		"pathway":             "Encounter.extension[2].valueCodeableConcept",
		"patient.homeOutcode": "Patient.address[0].postalCode",
		"requirements":        "ServiceRequest.orderDetail",
		"setting":             "ServiceRequest.code",
		"searchArea.outcode":  "ServiceRequest.extension[1].valueString",
		"requirements[1]":     "ServiceRequest.orderDetail[1]",
		"hoursPerWeek":        "ServiceRequest.quantityQuantity.value",
		"searchArea.latitude": "Patient.address[0].extension[0].extension[0].valueDecimal",
	}
	f := func(x float64) *float64 { return &x }
	good := discharge.Case{ID: "e1", Patient: discharge.Patient{NHSNumber: "9476719931", HomeOutcode: "M14"}, Pathway: p(3)}
	for _, tc := range []struct {
		name   string
		value  any
		want   []string // expressions
		detail string
	}{
		{"valid case", &good, nil, ""},
		{"bad check digit", &discharge.Case{Patient: discharge.Patient{NHSNumber: "9476719932"}}, []string{"Patient.identifier[0].value"}, "INVALID_CHECK_DIGIT"},
		{"pathway 4", &discharge.Case{Pathway: p(4)}, []string{"Encounter.extension[2].valueCodeableConcept"}, ""},
		{"pathway -1", &discharge.Case{Pathway: p(-1)}, []string{"Encounter.extension[2].valueCodeableConcept"}, ""},
		{"pathway 0 ok", &discharge.Case{Pathway: p(0)}, nil, ""},
		{"bad outcode", &discharge.Case{Patient: discharge.Patient{HomeOutcode: "14M"}}, []string{"Patient.address[0].postalCode"}, ""},
		{"unknown trust origin falls back to root", &discharge.Case{Trust: "R-X X"}, []string{"Encounter"}, ""},
		{"valid need", &discharge.CareNeed{Setting: discharge.CareHomeCare, Requirements: []discharge.Requirement{discharge.ReqHoist}, Priority: discharge.PriorityUrgent, SearchArea: &discharge.SearchArea{Outcode: "M14"}}, nil, ""},
		{"unknown setting", &discharge.CareNeed{Setting: "ct-scan"}, []string{"ServiceRequest.code"}, ""},
		{"missing setting", &discharge.CareNeed{}, []string{"ServiceRequest.code"}, ""},
		{"unknown requirement", &discharge.CareNeed{Setting: discharge.CareNursing, Requirements: []discharge.Requirement{"jetpack", "hoist"}}, []string{"ServiceRequest.orderDetail"}, ""},
		{"unknown requirement with its own origin", &discharge.CareNeed{Setting: discharge.CareNursing, Requirements: []discharge.Requirement{"hoist", "jetpack"}}, []string{"ServiceRequest.orderDetail[1]"}, ""},
		{"zero hours", &discharge.CareNeed{Setting: discharge.CareHomeCare, HoursPerWeek: f(0)}, []string{"ServiceRequest.quantityQuantity.value"}, ""},
		{"more hours than a week", &discharge.CareNeed{Setting: discharge.CareHomeCare, HoursPerWeek: f(168.5)}, []string{"ServiceRequest.quantityQuantity.value"}, ""},
		{"a whole week", &discharge.CareNeed{Setting: discharge.CareHomeCare, HoursPerWeek: f(168)}, nil, ""},
		{"latitude off the globe", &discharge.CareNeed{Setting: discharge.CareNursing, SearchArea: &discharge.SearchArea{Outcode: "M14", Latitude: f(90.5), Longitude: f(-2)}}, []string{"Patient.address[0].extension[0].extension[0].valueDecimal"}, ""},
		{"search area without outcode", &discharge.CareNeed{Setting: discharge.CareNursing, SearchArea: &discharge.SearchArea{}}, []string{"ServiceRequest.extension[1].valueString"}, ""},
		{"issues in field order", &discharge.Case{Trust: "R X", Patient: discharge.Patient{NHSNumber: "1", HomeOutcode: "x"}, Pathway: p(9)},
			[]string{"Encounter", "Patient.identifier[0].value", "Patient.address[0].postalCode", "Encounter.extension[2].valueCodeableConcept"}, ""},
		{"trust code too long", &discharge.Case{Trust: "RXX01234567"}, []string{"Encounter"}, ""},
		{"unknown funding and priority", &discharge.CareNeed{Setting: discharge.CareNursing, Funding: "lottery", Priority: "whenever"}, []string{"ServiceRequest", "ServiceRequest"}, ""},
		{"search area outcode", &discharge.CareNeed{Setting: discharge.CareNursing, SearchArea: &discharge.SearchArea{Outcode: "nowhere"}}, []string{"ServiceRequest.extension[1].valueString"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := "Encounter"
			if _, ok := tc.value.(*discharge.CareNeed); ok {
				root = "ServiceRequest"
			}
			is := origins.Rename(mappings.Validate(tc.value, asOf), root)
			if len(is) != len(tc.want) {
				t.Fatalf("issues = %+v, want %d", is, len(tc.want))
			}
			for i, want := range tc.want {
				if is[i].Kind != discharge.KindValue || is[i].Severity != discharge.SeverityError || is[i].Expression != want {
					t.Errorf("issue %d = %+v, want value error at %s", i, is[i], want)
				}
				if tc.detail != "" && is[i].Detail != tc.detail {
					t.Errorf("detail = %q, want %q", is[i].Detail, tc.detail)
				}
			}
		})
	}
}

// A pathway code outside 0–3 in the gateway code system reaches the model
// and is caught by the validator at the extension that carried it.
func TestPathwayOutOfRangeNamesExtension(t *testing.T) {
	enc := []byte(`{"resourceType":"Encounter","id":"e","status":"in-progress",
	 "class":{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","code":"IMP"},
	 "extension":[{"url":"https://fhir.discharge-gateway.example/StructureDefinition/discharge-ready-date","valueDate":"2026-01-01"},
	  {"url":"https://fhir.discharge-gateway.example/StructureDefinition/discharge-pathway",
	   "valueCodeableConcept":{"coding":[{"system":"https://fhir.discharge-gateway.example/CodeSystem/discharge-pathway","code":"7"}]}}]}`)
	_, _, err := mappings.EncounterToCase(enc, read(t, "patient.json"), mappings.Options{AsOf: asOf})
	checkErr(t, err)
	if discharge.ErrorKind(err) != discharge.KindValue {
		t.Fatalf("err = %v, want kind value", err)
	}
	if got := asErr(t, err).Issues[0].Expression; got != "Encounter.extension[1].valueCodeableConcept" {
		t.Errorf("expression = %q", got)
	}
}

func TestBadNHSNumberNamesIdentifier(t *testing.T) {
	pat := []byte(`{"resourceType":"Patient","identifier":[{"system":"urn:x","value":"1"},{"system":"https://fhir.nhs.uk/Id/nhs-number","value":"9476719932"}]}`)
	_, _, err := mappings.EncounterToCase(read(t, "encounter-inpatient.json"), pat, mappings.Options{Translator: translator(t), AsOf: asOf})
	checkErr(t, err)
	de := asErr(t, err)
	// The request is the Encounter: its issue points at the reference it
	// holds, and the message names the Patient element.
	if de.Issues[0].Expression != "Encounter.subject" || de.Issues[0].Detail != "INVALID_CHECK_DIGIT" ||
		!strings.Contains(de.Issues[0].Message, "Patient.identifier[1].value") {
		t.Errorf("issue = %+v", de.Issues[0])
	}
}

// Validate names each failing field of a case or a need by its model path,
// one error issue per field, in field order.
func TestValidateModelPaths(t *testing.T) {
	pw := func(n int) *discharge.Pathway { p := discharge.Pathway(n); return &p }
	f := func(x float64) *float64 { return &x }
	for _, tc := range []struct {
		name  string
		value any
		want  []string
	}{
		{"empty case", &discharge.Case{}, nil},
		{"good case", &discharge.Case{Trust: "RXX01", Patient: discharge.Patient{NHSNumber: "9476719931", HomeOutcode: "M14"}, Pathway: pw(0)}, nil},
		{"bad case", &discharge.Case{Trust: "RXX-1", Patient: discharge.Patient{NHSNumber: "9476719932", HomeOutcode: "m14"}, Pathway: pw(4)},
			[]string{"trust", "patient.nhsNumber", "patient.homeOutcode", "pathway"}},
		{"need without setting", &discharge.CareNeed{}, []string{"setting"}},
		{"good need", &discharge.CareNeed{Setting: discharge.CareHomeCare, HoursPerWeek: f(168), Requirements: []discharge.Requirement{discharge.ReqHoist},
			Funding: "chc", SearchArea: &discharge.SearchArea{Outcode: "M14", Latitude: f(-90), Longitude: f(180)}, Priority: discharge.PriorityStat}, nil},
		{"bad need", &discharge.CareNeed{Setting: "ct-scan", HoursPerWeek: f(math.NaN()), Requirements: []discharge.Requirement{discharge.ReqHoist, "jetpack"},
			Funding: "lottery", SearchArea: &discharge.SearchArea{Latitude: f(91), Longitude: f(math.Inf(-1))}, Priority: "whenever"},
			[]string{"setting", "hoursPerWeek", "requirements[1]", "funding", "searchArea.outcode", "searchArea.latitude", "searchArea.longitude", "priority"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			is := mappings.Validate(tc.value, asOf)
			if len(is) != len(tc.want) {
				t.Fatalf("issues = %+v, want at %v", is, tc.want)
			}
			for i, want := range tc.want {
				if is[i].Kind != discharge.KindValue || is[i].Severity != discharge.SeverityError || is[i].Expression != want {
					t.Errorf("issue %d = %+v, want a value error at %s", i, is[i], want)
				}
			}
		})
	}
}

// TestValidatePosting: a capacity posting's issues, kinds and model paths
// (capacity.Service.Post renames the paths for a MeasureReport or a CSV).
func TestValidatePosting(t *testing.T) {
	now := time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
	good := func() discharge.Capacity {
		return discharge.Capacity{LocationID: "l", AsOf: now.Add(-time.Hour), Beds: []discharge.BedCapacity{
			{Type: discharge.BedNursing, MaxCapacity: 30, Occupied: 25, Reserved: 1, AcceptingAdmissions: 4}}}
	}
	if is := mappings.Validate(good(), now); len(is) != 0 {
		t.Fatalf("valid posting: %+v", is)
	}
	tests := []struct {
		name string
		mut  func(*discharge.Capacity)
		kind discharge.Kind
		path string
	}{
		{"no asOf", func(c *discharge.Capacity) { c.AsOf = time.Time{} }, discharge.KindRequired, "asOf"},
		{"asOf in the future", func(c *discharge.Capacity) { c.AsOf = now.Add(6 * time.Minute) }, discharge.KindValue, "asOf"},
		{"nothing posted", func(c *discharge.Capacity) { c.Beds = nil }, discharge.KindRequired, "beds"},
		// JSON's "beds": [] is a list, not nil, and posts nothing either.
		{"empty lists posted", func(c *discharge.Capacity) {
			c.Beds, c.HomeCare = []discharge.BedCapacity{}, []discharge.HomeCareOffer{}
		}, discharge.KindRequired, "beds"},
		// Time's zero instant is no time, in whatever zone it is written.
		{"zero asOf in another zone", func(c *discharge.Capacity) { c.AsOf = time.Time{}.In(time.FixedZone("BST", 3600)) }, discharge.KindRequired, "asOf"},
		{"unknown bed type", func(c *discharge.Capacity) { c.Beds[0].Type = "luxury" }, discharge.KindCodeInvalid, "beds[0].type"},
		{"duplicate bed type", func(c *discharge.Capacity) { c.Beds = append(c.Beds, c.Beds[0]) }, discharge.KindValue, "beds[1].type"},
		{"negative maxCapacity", func(c *discharge.Capacity) { c.Beds[0].MaxCapacity = -1 }, discharge.KindValue, "beds[0].maxCapacity"},
		{"negative occupied", func(c *discharge.Capacity) { c.Beds[0].Occupied = -1 }, discharge.KindValue, "beds[0].occupied"},
		{"negative reserved", func(c *discharge.Capacity) { c.Beds[0].Reserved = -1 }, discharge.KindValue, "beds[0].reserved"},
		{"negative accepting", func(c *discharge.Capacity) { c.Beds[0].AcceptingAdmissions = -1 }, discharge.KindValue, "beds[0].acceptingAdmissions"},
		{"empty bed type", func(c *discharge.Capacity) { c.Beds[0].Type = "" }, discharge.KindCodeInvalid, "beds[0].type"},
		{"home care negative hours", func(c *discharge.Capacity) {
			c.HomeCare = []discharge.HomeCareOffer{{Outcodes: []string{"M14"}, HoursPerWeek: -1, EarliestStart: discharge.DateOf(now)}}
		}, discharge.KindValue, "homeCare[0]"},
		{"home care NaN hours", func(c *discharge.Capacity) {
			c.HomeCare = []discharge.HomeCareOffer{{Outcodes: []string{"M14"}, HoursPerWeek: math.NaN(), EarliestStart: discharge.DateOf(now)}}
		}, discharge.KindValue, "homeCare[0]"},
		{"home care without start", func(c *discharge.Capacity) {
			c.HomeCare = []discharge.HomeCareOffer{{Outcodes: []string{"M14"}, HoursPerWeek: 10}}
		}, discharge.KindRequired, "homeCare[0].earliestStart"},
		{"over capacity", func(c *discharge.Capacity) { c.Beds[0].AcceptingAdmissions = 5 }, discharge.KindValue, "beds[0]"},
		{"home care without districts", func(c *discharge.Capacity) {
			c.HomeCare = []discharge.HomeCareOffer{{HoursPerWeek: 10, EarliestStart: discharge.DateOf(now)}}
		}, discharge.KindRequired, "homeCare[0].outcodes"},
		{"home care bad district", func(c *discharge.Capacity) {
			c.HomeCare = []discharge.HomeCareOffer{{Outcodes: []string{"NOT A CODE"}, EarliestStart: discharge.DateOf(now)}}
		}, discharge.KindValue, "homeCare[0].outcodes[0]"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := good()
			tc.mut(&c)
			found := false
			for _, is := range mappings.Validate(c, now) {
				if is.Kind == tc.kind && is.Expression == tc.path {
					found = true
				}
			}
			if !found {
				t.Fatalf("no %s at %s: %+v", tc.kind, tc.path, mappings.Validate(c, now))
			}
		})
	}
	// Five minutes ahead is tolerated (clock skew), not more.
	for _, ahead := range []time.Duration{4 * time.Minute, 5 * time.Minute} {
		c := good()
		c.AsOf = now.Add(ahead)
		if is := mappings.Validate(c, now); len(is) != 0 {
			t.Fatalf("%v ahead: %+v", ahead, is)
		}
	}
	// A hospice posting is accepted: hospice beds are the gateway's own bed
	// type, so a hospice need can match one.
	hospice := discharge.Capacity{LocationID: "h", AsOf: time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC),
		Beds: []discharge.BedCapacity{{Type: discharge.BedHospice, MaxCapacity: 12, Occupied: 10, AcceptingAdmissions: 2}}}
	if is := mappings.Validate(hospice, hospice.AsOf); len(is) != 0 {
		t.Fatalf("a hospice posting is refused: %+v", is)
	}
	// Exactly full is fine; every count zero is fine.
	c := good()
	c.Beds = append(c.Beds, discharge.BedCapacity{Type: discharge.BedResidential, MaxCapacity: 3, Occupied: 1, Reserved: 1, AcceptingAdmissions: 1},
		discharge.BedCapacity{Type: discharge.BedTransitional})
	c.HomeCare = []discharge.HomeCareOffer{{Outcodes: []string{"M14", "SK3"}, Packages: 2, EarliestStart: discharge.DateOf(now)}}
	if is := mappings.Validate(c, now); len(is) != 0 {
		t.Fatalf("%+v", is)
	}
	// Several faults come out in the same order every time.
	bad := good()
	bad.Beds[0] = discharge.BedCapacity{Type: discharge.BedNursing, MaxCapacity: -1, Occupied: -2, Reserved: -3, AcceptingAdmissions: -4}
	first := fmt.Sprint(mappings.Validate(bad, now))
	for range 50 {
		if got := fmt.Sprint(mappings.Validate(bad, now)); got != first {
			t.Fatalf("order changed:\n%s\n%s", first, got)
		}
	}
}

// TestValidatePostingIssues pins every issue of a posting with many faults:
// kind, model path and message, in the order a provider has always read
// them (per bed: its type, its four counts, their total; per offer: its
// districts, its size, its start).
func TestValidatePostingIssues(t *testing.T) {
	now := time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
	posting := discharge.Capacity{LocationID: "l",
		Beds: []discharge.BedCapacity{{Type: "luxury", MaxCapacity: 1, Occupied: 2},
			{Type: discharge.BedNursing, MaxCapacity: -1, Occupied: -2, Reserved: -3, AcceptingAdmissions: -4},
			{Type: discharge.BedNursing}},
		HomeCare: []discharge.HomeCareOffer{{Outcodes: []string{"M14", "NOT A CODE"}, HoursPerWeek: math.NaN()}}}
	want := discharge.Issues{
		{Kind: discharge.KindRequired, Expression: "asOf", Message: "asOf, the time the figures were true, is required."},
		{Kind: discharge.KindCodeInvalid, Expression: "beds[0].type", Message: `Unknown bed type "luxury": use the gateway's bed-type code system.`},
		{Kind: discharge.KindValue, Expression: "beds[0]", Message: "occupied + reserved + acceptingAdmissions exceeds maxCapacity."},
		{Kind: discharge.KindValue, Expression: "beds[1].maxCapacity", Message: "maxCapacity must be 0 or more."},
		{Kind: discharge.KindValue, Expression: "beds[1].occupied", Message: "occupied must be 0 or more."},
		{Kind: discharge.KindValue, Expression: "beds[1].reserved", Message: "reserved must be 0 or more."},
		{Kind: discharge.KindValue, Expression: "beds[1].acceptingAdmissions", Message: "acceptingAdmissions must be 0 or more."},
		{Kind: discharge.KindValue, Expression: "beds[2].type", Message: `Bed type "nursing" appears twice.`},
		{Kind: discharge.KindValue, Expression: "homeCare[0].outcodes[1]", Message: "Not a postcode district (outcode)."},
		{Kind: discharge.KindValue, Expression: "homeCare[0]", Message: "hoursPerWeek and packages must be 0 or more."},
		{Kind: discharge.KindRequired, Expression: "homeCare[0].earliestStart", Message: "earliestStart is required."},
	}
	for _, v := range []any{posting, &posting} {
		if got := mappings.Validate(v, now); !reflect.DeepEqual(got, want) {
			t.Errorf("%T:\n got %+v\nwant %+v", v, got, want)
		}
	}
	later := posting
	later.AsOf = now.Add(discharge.MaxFutureSkew + time.Nanosecond)
	if got := mappings.Validate(later, now); got[0] != (discharge.Issue{Kind: discharge.KindValue, Expression: "asOf", Message: "asOf is more than 5 minutes in the future."}) {
		t.Errorf("future asOf: %+v", got[0])
	}
}

// TestOneWayToValidate: the shared model's rules are its validate tags, read
// by mappings.Validate, and nothing else: no value checks itself.
func TestOneWayToValidate(t *testing.T) {
	for _, v := range []any{&discharge.Case{}, &discharge.CareNeed{}, &discharge.Capacity{}} {
		typ := reflect.TypeOf(v)
		if _, ok := typ.MethodByName("Validate"); ok {
			t.Errorf("%s has its own Validate method: validate it with mappings.Validate", typ.Elem())
		}
		tagged := false
		for i := range typ.Elem().NumField() {
			if _, ok := typ.Elem().Field(i).Tag.Lookup("validate"); ok {
				tagged = true
			}
		}
		if !tagged {
			t.Errorf("%s carries no validate tag", typ.Elem())
		}
	}
}

func asErr(t *testing.T, err error) *discharge.Error {
	t.Helper()
	var de *discharge.Error
	if !errors.As(err, &de) {
		t.Fatalf("err = %v, want a *discharge.Error", err)
	}
	return de
}
