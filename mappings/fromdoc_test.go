package mappings_test

import (
	"encoding/json"
	"reflect"
	"testing"

	r4 "github.com/samply/golang-fhir-models/fhir-models/fhir"

	"github.com/dischargegateway/gateway/fhir"
	"github.com/dischargegateway/gateway/mappings"
)

// FuzzFromDoc holds the models filled from the validator's document
// (EncounterFromDoc, ServiceRequestFromDoc, PatientFromDoc) to the models
// encoding/json decodes from the same bytes: for every body the strict
// validator accepts as the type, both succeed or both fail, and succeed
// equal. The seeds are HL7's and UK Core's examples of each type and the
// gateway's own.
func FuzzFromDoc(f *testing.F) {
	for _, typ := range []string{"Encounter", "ServiceRequest", "Patient"} {
		seed(f, typ)
	}
	for _, name := range []string{"encounter-inpatient.json", "patient.json", "servicerequest-nursing-dementia.json",
		"servicerequest-home-care.json", "servicerequest-trust-local.json", "servicerequest-unknown-funding.json"} {
		f.Add(read(f, name))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		p, err := fhir.Validate(raw, "", fhir.DefaultLimits)
		if err != nil {
			return
		}
		switch p.ResourceType {
		case "Encounter":
			same(t, raw, p.Doc, mappings.DecodeEncounter, mappings.EncounterFromDoc)
		case "ServiceRequest":
			same(t, raw, p.Doc, mappings.DecodeServiceRequest, mappings.ServiceRequestFromDoc)
		case "Patient":
			same(t, raw, p.Doc, mappings.DecodePatient, mappings.PatientFromDoc)
		}
	})
}

func same[T any](t *testing.T, raw []byte, doc map[string]any, decode func([]byte) (*T, error), fromDoc func(map[string]any) (*T, error)) {
	t.Helper()
	want, werr := decode(raw)
	got, gerr := fromDoc(doc)
	if (werr == nil) != (gerr == nil) {
		t.Fatalf("decode error %v, from the document %v", werr, gerr)
	}
	if werr == nil && !reflect.DeepEqual(want, got) {
		w, _ := json.Marshal(want)
		g, _ := json.Marshal(got)
		t.Fatalf("from the document:\n%s\ndecoded:\n%s", g, w)
	}
}

// TestFromDocKeepsNumbersAndCodes: a decimal keeps its digits, a code goes
// through the model's own UnmarshalJSON, and an unknown code fails as
// decoding fails.
func TestFromDocKeepsNumbersAndCodes(t *testing.T) {
	raw := []byte(`{"resourceType":"ServiceRequest","status":"active","intent":"order","subject":{"reference":"Patient/1"},
		"quantityQuantity":{"value":1.50,"unit":"h"},"extension":[{"url":"urn:x","valueDecimal":0.10000000000000000001}]}`)
	p, err := fhir.Validate(raw, "ServiceRequest", fhir.DefaultLimits)
	if err != nil {
		t.Fatal(err)
	}
	sr, err := mappings.ServiceRequestFromDoc(p.Doc)
	if err != nil {
		t.Fatal(err)
	}
	if sr.QuantityQuantity == nil || sr.QuantityQuantity.Value == nil || *sr.QuantityQuantity.Value != "1.50" {
		t.Errorf("quantity %+v, want the value 1.50 as written", sr.QuantityQuantity)
	}
	if v := sr.Extension[0].ValueDecimal; v == nil || *v != "0.10000000000000000001" {
		t.Errorf("valueDecimal %v, want every digit", v)
	}
	if sr.Status != r4.RequestStatusActive || sr.Intent != r4.RequestIntentOrder {
		t.Errorf("status %v intent %v", sr.Status, sr.Intent)
	}
	p.Doc["status"] = "no-such-status"
	if _, err := mappings.ServiceRequestFromDoc(p.Doc); err == nil {
		t.Error("an unknown status code was taken")
	}
	if _, err := mappings.EncounterFromDoc(p.Doc); err == nil {
		t.Error("a ServiceRequest was taken as an Encounter")
	}
}

// TestDecodeOnePassAgrees: the one-pass decode (the model beside its
// resourceType) gives the model the two-pass read gave (resourceType
// first, then the model), on the gateway's own resources.
func TestDecodeOnePassAgrees(t *testing.T) {
	for _, name := range []string{"encounter-inpatient.json", "patient.json", "servicerequest-nursing-dementia.json"} {
		raw := read(t, name)
		var want any
		var got any
		var err error
		switch {
		case name[0] == 'e':
			var m r4.Encounter
			err = json.Unmarshal(raw, &m)
			want = &m
			got, _ = mappings.DecodeEncounter(raw)
		case name[0] == 'p':
			var m r4.Patient
			err = json.Unmarshal(raw, &m)
			want = &m
			got, _ = mappings.DecodePatient(raw)
		default:
			var m r4.ServiceRequest
			err = json.Unmarshal(raw, &m)
			want = &m
			got, _ = mappings.DecodeServiceRequest(raw)
		}
		if err != nil || !reflect.DeepEqual(want, got) {
			t.Errorf("%s: the one-pass decode differs (%v)", name, err)
		}
	}
	if _, err := mappings.DecodeEncounter(read(t, "patient.json")); err == nil {
		t.Error("a Patient was decoded as an Encounter")
	}
}

// BenchmarkIncomingEncounter compares the write path's mapping check on the
// validator's document (doc: mappings.IncomingIssues, the model filled in
// memory) with the way it was done before, in the same run (reencode: the
// document encoded, then EncounterToCase parsing the bytes again).
func BenchmarkIncomingEncounter(b *testing.B) {
	raw, pat := read(b, "encounter-inpatient.json"), read(b, "patient.json")
	p, err := fhir.Validate(raw, "Encounter", fhir.DefaultLimits)
	if err != nil {
		b.Fatal(err)
	}
	opt := mappings.Options{Translator: translator(b), AsOf: asOf}
	b.Run("reencode", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			enc, err := fhir.EncodeDoc(p.Doc)
			if err != nil {
				b.Fatal(err)
			}
			if _, _, err := mappings.EncounterToCase(enc, pat, opt); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("doc", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if _, err := mappings.IncomingIssues("Encounter", p.Doc, mappings.Subject{JSON: pat}, opt); err != nil {
				b.Fatal(err)
			}
		}
	})
}
