package mappings_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/mappings"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/golden")

var asOf = time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)

func translator(t testing.TB) *mappings.Translator {
	t.Helper()
	tr, err := mappings.LoadTranslator(os.DirFS("../configs/conceptmaps"))
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

func read(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// golden compares v, as JSON, with testdata/golden/name, as parsed JSON.
func golden(t *testing.T, name string, v any) {
	t.Helper()
	got, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, append(got, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(want, &w); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(g, w) {
		t.Errorf("%s differs from golden:\n got %s\nwant %s", name, got, bytes.TrimSpace(want))
	}
}

// issueView is what tests compare about an issue: never the message text.
type issueView struct {
	Kind       string `json:"kind"`
	Severity   int    `json:"severity"`
	Expression string `json:"expression"`
	Detail     string `json:"detail,omitempty"`
}

func views(is []discharge.Issue) []issueView {
	out := []issueView{}
	for _, i := range is {
		out = append(out, issueView{i.Kind.String(), int(i.Severity), i.Expression, i.Detail})
	}
	return out
}

type result struct {
	Value  any         `json:"value"`
	Issues []issueView `json:"issues"`
	Error  []issueView `json:"error,omitempty"`
	Kind   string      `json:"errorKind,omitempty"`
}

func toResult(t *testing.T, v any, is discharge.Issues, err error) result {
	t.Helper()
	r := result{Value: v, Issues: views(is)}
	if err != nil {
		var de *discharge.Error
		if !errors.As(err, &de) {
			t.Fatalf("error %v is not a *discharge.Error", err)
		}
		r.Error, r.Kind = views(de.Issues), de.Kind.String()
	}
	return r
}

func TestEncounterToCase(t *testing.T) {
	tr := translator(t)
	for _, tc := range []struct {
		name, encounter, patient string
	}{
		{"inpatient-with-patient", "encounter-inpatient.json", "patient.json"},
		{"inpatient-without-patient", "encounter-inpatient.json", ""},
		{"ukcore-inpatient", "../../../shared/fhir-examples/uk-core-json/UKCore-Encounter-InpatientEncounter-Example.json", "../../../shared/fhir-examples/uk-core-json/UKCore-Patient-RichardSmith-Example.json"},
		{"hl7-emerg-no-patient", "../../../shared/fhir-examples/hl7-r4/Encounter-emerg.json", ""},
		{"hl7-ambulatory", "../../../shared/fhir-examples/hl7-r4/Encounter-f001.json", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var pat []byte
			if tc.patient != "" {
				pat = read(t, tc.patient)
			}
			c, is, err := mappings.EncounterToCase(read(t, tc.encounter), pat, mappings.Options{Translator: tr, AsOf: asOf, Trust: "RXX"})
			if err == nil && c == nil && len(is.Warnings()) == 0 {
				t.Fatal("no case and no warning")
			}
			golden(t, "case-"+tc.name+".json", toResult(t, goldenOfCase(c), is, err))
		})
	}
}

func TestEncounterToCaseDetails(t *testing.T) {
	c, _, err := mappings.EncounterToCase(read(t, "encounter-inpatient.json"), read(t, "patient.json"), mappings.Options{Translator: translator(t), AsOf: asOf, Trust: "RXX"})
	if err != nil {
		t.Fatal(err)
	}
	if c.Patient.NHSNumber != "9476719931" || c.Patient.HomeOutcode != "M14" || c.Patient.AgeBand != "80-89" {
		t.Errorf("patient = %+v", c.Patient)
	}
	if c.Pathway == nil || *c.Pathway != 3 || !c.NCTR() || c.Trust != "RXX" || c.Ward != "Ward 12 (Care of the Elderly)" {
		t.Errorf("case = %+v", c)
	}
	if c.ExpectedDischargeDate.String() != "2026-11-20" || c.DischargeReadyDate.String() != "2026-11-18" {
		t.Errorf("dates = %v %v", c.ExpectedDischargeDate, c.DischargeReadyDate)
	}
}

func TestServiceRequestToNeed(t *testing.T) {
	tr := translator(t)
	const ukcore = "../../../shared/fhir-examples/uk-core-json/"
	for _, tc := range []struct {
		name, file, patient string
		wantNeed            bool
		wantErr             discharge.Kind
		wantExpr            string
	}{
		{"nursing-dementia", "servicerequest-nursing-dementia.json", "patient.json", true, 0, ""},
		{"home-care", "servicerequest-home-care.json", "", true, 0, ""},
		{"ct-scan", ukcore + "UKCore-ServiceRequest-CTChestScan-Example.json", "", false, 0, "ServiceRequest.code"},
		{"unknown-requirement", "servicerequest-unknown-requirement.json", "patient.json", false, discharge.KindCodeInvalid, "ServiceRequest.orderDetail[1].coding[0]"},
		{"unknown-funding", "servicerequest-unknown-funding.json", "patient.json", false, discharge.KindCodeInvalid, "ServiceRequest.extension[0].valueCodeableConcept.coding[0]"},
		{"trust-local", "servicerequest-trust-local.json", "patient.json", true, 0, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var pat []byte
			if tc.patient != "" {
				pat = read(t, tc.patient)
			}
			n, is, err := mappings.ServiceRequestToNeed(read(t, tc.file), pat, mappings.Options{Translator: tr, AsOf: asOf})
			if (n != nil) != tc.wantNeed {
				t.Fatalf("need = %+v, issues %+v, err %v", n, is, err)
			}
			if tc.wantErr != 0 {
				if !errors.Is(err, discharge.KindOf(tc.wantErr)) {
					t.Fatalf("err = %v, want kind %v", err, tc.wantErr)
				}
				var de *discharge.Error
				errors.As(err, &de)
				if de.Issues[0].Expression != tc.wantExpr {
					t.Errorf("expression = %q, want %q", de.Issues[0].Expression, tc.wantExpr)
				}
			} else if err != nil {
				t.Fatal(err)
			} else if !tc.wantNeed && (len(is) == 0 || is[0].Expression != tc.wantExpr || is[0].Kind != discharge.KindBusinessRule || is[0].Severity != discharge.SeverityWarning) {
				t.Errorf("issues = %+v, want a business-rule warning at %s", is, tc.wantExpr)
			}
			golden(t, "need-"+tc.name+".json", toResult(t, goldenOfNeed(n), is, err))
		})
	}
}

func TestWalkthroughBundle(t *testing.T) {
	var b struct {
		Entry []struct {
			FullURL  string          `json:"fullUrl"`
			Resource json.RawMessage `json:"resource"`
		} `json:"entry"`
	}
	if err := json.Unmarshal(read(t, "walkthrough-bundle.json"), &b); err != nil {
		t.Fatal(err)
	}
	if len(b.Entry) != 3 {
		t.Fatalf("%d entries", len(b.Entry))
	}
	tr := translator(t)
	pat, enc, sr := b.Entry[0].Resource, b.Entry[1].Resource, b.Entry[2].Resource
	c, _, err := mappings.EncounterToCase(enc, pat, mappings.Options{Translator: tr, AsOf: asOf})
	if err != nil || c == nil || *c.Pathway != 3 || c.Patient.NHSNumber != "9476719931" {
		t.Fatalf("case %+v, err %v", c, err)
	}
	n, _, err := mappings.ServiceRequestToNeed(sr, pat, mappings.Options{Translator: tr, AsOf: asOf})
	if err != nil || n == nil || n.Setting != discharge.CareNursingDementia || n.Funding != discharge.FundCHC ||
		!n.Has(discharge.ReqHoist) || !n.Has(discharge.ReqTwoCarers) || n.SearchArea.Outcode != "M14" {
		t.Fatalf("need %+v, err %v", n, err)
	}
	if n.CaseID != b.Entry[1].FullURL {
		t.Errorf("CaseID = %q: an unresolved urn:uuid reference should be kept as written", n.CaseID)
	}
}

func TestHoursUnits(t *testing.T) {
	base := `{"resourceType":"ServiceRequest","id":"h","status":"active","intent":"order",
	 "code":{"coding":[{"system":"https://fhir.discharge-gateway.example/CodeSystem/care-setting","code":"%s"}]},
	 "encounter":{"reference":"Encounter/e"},
	 "extension":[{"url":"https://fhir.discharge-gateway.example/StructureDefinition/search-area","valueString":"M14"}],
	 "quantityQuantity":{"value":2,"system":"http://unitsofmeasure.org","code":"%s"}}`
	for _, tc := range []struct {
		setting, unit string
		want          float64 // 0 = no hours
		wantErr       bool
	}{
		{"home-care", "h/wk", 2, false},
		{"home-care", "h/d", 14, false},
		{"home-care", "min", 0, true},
		{"nursing", "1", 0, false}, // ignored on a bed request
	} {
		t.Run(tc.setting+"-"+tc.unit, func(t *testing.T) {
			n, _, err := mappings.ServiceRequestToNeed([]byte(fmt.Sprintf(base, tc.setting, tc.unit)), nil, mappings.Options{AsOf: asOf})
			checkErr(t, err)
			if tc.wantErr {
				if discharge.ErrorKind(err) != discharge.KindValue {
					t.Fatalf("err = %v, want value", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := n.HoursPerWeek; (got == nil) != (tc.want == 0) || (got != nil && *got != tc.want) {
				t.Errorf("hours = %v, want %v", got, tc.want)
			}
		})
	}
}
