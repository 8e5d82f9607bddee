package mappings_test

import (
	"os"
	"testing"

	"github.com/dischargegateway/gateway/mappings"
)

func seed(f *testing.F, resourceType string, extra ...string) {
	for _, p := range corpus(f, resourceType) {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	for _, p := range extra {
		f.Add(read(f, p))
	}
	f.Add([]byte(`{"resourceType":"` + resourceType + `"}`))
	f.Add([]byte(`null`))
}

func FuzzEncounterToCase(f *testing.F) {
	seed(f, "Encounter", "encounter-inpatient.json")
	tr := translator(f)
	pat, enc := read(f, "patient.json"), read(f, "encounter-inpatient.json")
	f.Fuzz(func(t *testing.T, raw []byte) {
		_, _, err := mappings.EncounterToCase(raw, pat, mappings.Options{Translator: tr, AsOf: asOf, Trust: "RXA"})
		checkErr(t, err)
		// The same bytes as the subject Patient.
		_, _, err = mappings.EncounterToCase(enc, raw, mappings.Options{Translator: tr, AsOf: asOf})
		checkErr(t, err)
	})
}

func FuzzServiceRequestToNeed(f *testing.F) {
	seed(f, "ServiceRequest", "servicerequest-nursing-dementia.json", "servicerequest-home-care.json",
		"servicerequest-unknown-requirement.json", "servicerequest-trust-local.json")
	tr := translator(f)
	pat := read(f, "patient.json")
	f.Fuzz(func(t *testing.T, raw []byte) {
		_, _, err := mappings.ServiceRequestToNeed(raw, pat, mappings.Options{Translator: tr, AsOf: asOf})
		checkErr(t, err)
	})
}
