package mappings_test

import (
	"errors"
	"strings"
	"testing"

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
		value  mappings.Model
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
			is := mappings.Validate(tc.value, root, origins)
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

func asErr(t *testing.T, err error) *discharge.Error {
	t.Helper()
	var de *discharge.Error
	if !errors.As(err, &de) {
		t.Fatalf("err = %v, want a *discharge.Error", err)
	}
	return de
}
