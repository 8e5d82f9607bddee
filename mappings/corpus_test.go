package mappings_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/mappings"
)

const examples = "../../shared/fhir-examples"

// corpus lists the third-party Encounter and ServiceRequest examples.
func corpus(t testing.TB, resourceType string) []string {
	t.Helper()
	var out []string
	for _, dir := range []string{"hl7-r4", "uk-core-json"} {
		for _, pat := range []string{resourceType + "-*.json", "UKCore-" + resourceType + "-*.json"} {
			m, _ := filepath.Glob(filepath.Join(examples, dir, pat))
			out = append(out, m...)
		}
	}
	if len(out) == 0 {
		t.Skipf("no %s examples under %s", resourceType, examples)
	}
	return out
}

// checkErr asserts the mapping property: an error is a *discharge.Error
// whose issues all carry an expression.
func checkErr(t testing.TB, err error) {
	t.Helper()
	if err == nil {
		return
	}
	var de *discharge.Error
	if !errors.As(err, &de) {
		t.Fatalf("error %v is not a *discharge.Error", err)
	}
	if len(de.Issues) == 0 {
		t.Fatalf("error %v has no issues", err)
	}
	for _, is := range de.Issues {
		if is.Expression == "" {
			t.Fatalf("issue %+v has no expression", is)
		}
	}
}

func TestCorpusEncounters(t *testing.T) {
	tr := translator(t)
	cases := 0
	for _, f := range corpus(t, "Encounter") {
		t.Run(filepath.Base(f), func(t *testing.T) {
			raw, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			c, is, err := mappings.EncounterToCase(raw, nil, mappings.Options{Translator: tr, AsOf: asOf})
			checkErr(t, err)
			inpatient := strings.Contains(string(raw), `"code": "IMP"`)
			if inpatient && (c == nil || err != nil) {
				t.Errorf("inpatient Encounter gave no case: issues %+v, err %v", is, err)
			}
			if !inpatient && c != nil {
				t.Errorf("non-inpatient Encounter gave a case")
			}
			if c != nil {
				cases++
			}
		})
	}
	if cases == 0 {
		t.Error("no example Encounter produced a case")
	}
}

func TestCorpusServiceRequests(t *testing.T) {
	tr := translator(t)
	for _, f := range corpus(t, "ServiceRequest") {
		t.Run(filepath.Base(f), func(t *testing.T) {
			raw, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			n, is, err := mappings.ServiceRequestToNeed(raw, nil, mappings.Options{Translator: tr, AsOf: asOf})
			checkErr(t, err)
			// None of the published examples asks for post-discharge care.
			if n != nil || err != nil || len(is) == 0 || is[0].Kind != discharge.KindBusinessRule {
				t.Errorf("need %+v, issues %+v, err %v: want a not-a-care-request warning", n, is, err)
			}
		})
	}
}
