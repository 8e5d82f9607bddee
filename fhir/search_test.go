package fhir_test

import (
	"encoding/json"
	"math"
	"testing"
	"time"

	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/fhir"
)

func param(t *testing.T, typ, name string) fhir.SearchParam {
	for _, p := range fhir.SearchParams(typ) {
		if p.Name == name {
			return p
		}
	}
	t.Fatalf("no %s?%s", typ, name)
	return fhir.SearchParam{}
}

func TestIndexEntries(t *testing.T) {
	var doc map[string]any
	_ = json.Unmarshal([]byte(`{"resourceType":"Encounter","status":"in-progress",
		"identifier":[{"system":"https://trust.example/enc","value":"E1"},{"value":"LOCAL"}],
		"subject":{"reference":"https://gw.example/fhir/Patient/p1/_history/2"},
		"period":{"start":"2026-11-10T09:30:00Z"}}`), &doc)
	got := map[string]bool{}
	var rng *fhir.IndexEntry
	for _, e := range fhir.IndexEntries("Encounter", doc) {
		if e.IsRange {
			e := e
			rng = &e
			continue
		}
		got[e.Param+"="+e.Token] = true
	}
	for _, want := range []string{"status=in-progress", "identifier=https://trust.example/enc|E1", "identifier=E1",
		"identifier=|LOCAL", "identifier=LOCAL", "patient=Patient/p1", "subject=Patient/p1"} {
		if !got[want] {
			t.Errorf("missing %s in %v", want, got)
		}
	}
	if rng == nil || rng.Low != float64(time.Date(2026, 11, 10, 9, 30, 0, 0, time.UTC).Unix()) || !math.IsInf(rng.High, 1) {
		t.Fatalf("range %+v", rng)
	}
	// A Group subject is a subject but not a patient.
	_ = json.Unmarshal([]byte(`{"subject":{"reference":"Group/g"}}`), &doc)
	for _, e := range fhir.IndexEntries("Encounter", doc) {
		if e.Param == "patient" {
			t.Fatalf("Group indexed as patient: %+v", e)
		}
	}
}

func TestParseSearchValue(t *testing.T) {
	day := func(y int, m time.Month, d int) float64 {
		return float64(time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix())
	}
	t.Run("references", func(t *testing.T) {
		for in, want := range map[string]string{"p1": "Patient/p1", "Patient/p1": "Patient/p1", "https://x.example/fhir/Patient/p1": "Patient/p1"} {
			f, err := fhir.ParseSearchValue(param(t, "Encounter", "patient"), in)
			if err != nil || len(f.AnyOf) != 1 || f.AnyOf[0] != want {
				t.Fatalf("%s: %+v %v", in, f, err)
			}
		}
		if _, err := fhir.ParseSearchValue(param(t, "Encounter", "patient"), "Group/g"); discharge.ErrorKind(err) != discharge.KindValue {
			t.Fatalf("patient=Group/g: %v", err)
		}
	})
	t.Run("tokens and escaped commas", func(t *testing.T) {
		f, _ := fhir.ParseSearchValue(param(t, "Patient", "identifier"), `a|1,b\,c`)
		if len(f.AnyOf) != 2 || f.AnyOf[0] != "a|1" || f.AnyOf[1] != "b,c" {
			t.Fatalf("%+v", f.AnyOf)
		}
	})
	t.Run("dates", func(t *testing.T) {
		f, err := fhir.ParseSearchValue(param(t, "Encounter", "date"), "ge2026-02")
		if err != nil || f.Range.HighAtLeast == nil || *f.Range.HighAtLeast != day(2026, 2, 1) || f.Range.LowAtMost != nil {
			t.Fatalf("%+v %v", f.Range, err)
		}
		f, _ = fhir.ParseSearchValue(param(t, "Encounter", "date"), "2026-02")
		if *f.Range.LowAtMost >= day(2026, 3, 1) || *f.Range.LowAtMost < day(2026, 2, 28) || *f.Range.HighAtLeast != day(2026, 2, 1) {
			t.Fatalf("eq month %+v", f.Range)
		}
		f, _ = fhir.ParseSearchValue(param(t, "Encounter", "date"), "ge2999-01-01")
		if *f.Range.HighAtLeast < day(2998, 12, 31) {
			t.Fatalf("far-future date overflowed: %v", *f.Range.HighAtLeast)
		}
		for _, bad := range []string{"yesterday", "2026-13", "ne2026", "sa2026", "2026,2027"} {
			if _, err := fhir.ParseSearchValue(param(t, "Encounter", "date"), bad); err == nil {
				t.Errorf("%s accepted", bad)
			}
		}
	})
}

// The Encounter's discharge extensions are indexed by their own search
// parameters; the criteria to reside only while they are not met.
func TestIndexEncounterExtensions(t *testing.T) {
	const base = "https://fhir.discharge-gateway.example/"
	body := func(met string) map[string]any {
		var doc map[string]any
		if err := json.Unmarshal([]byte(`{"resourceType":"Encounter","status":"in-progress","extension":[
		{"url":"`+base+`StructureDefinition/discharge-pathway","valueCodeableConcept":{"coding":[{"system":"`+base+`CodeSystem/discharge-pathway","code":"1"}]}},
		{"url":"`+base+`StructureDefinition/discharge-pathway","valueCodeableConcept":{"coding":[{"system":"`+base+`CodeSystem/discharge-pathway","code":"3"}]}},
		{"url":"`+base+`StructureDefinition/discharge-ready-date","valueDate":"2026-11-20"},
		{"url":"http://hl7.org/fhir/5.0/StructureDefinition/extension-Encounter.plannedEndDate","valueDateTime":"2026-11-25T10:00:00Z"},
		{"url":"`+base+`StructureDefinition/criteria-to-reside","extension":[{"url":"met","valueBoolean":`+met+`},{"url":"since","valueDate":"2026-11-19"}]}]}`), &doc); err != nil {
			t.Fatal(err)
		}
		return doc
	}
	day := func(d int) float64 { return float64(time.Date(2026, 11, d, 0, 0, 0, 0, time.UTC).Unix()) }
	got := map[string]fhir.IndexEntry{}
	tokens := map[string]bool{}
	for _, e := range fhir.IndexEntries("Encounter", body("false")) {
		if e.IsRange {
			got[e.Param] = e
		} else {
			tokens[e.Param+"="+e.Token] = true
		}
	}
	if !tokens["pathway="+base+"CodeSystem/discharge-pathway|3"] || tokens["pathway=1"] {
		t.Errorf("pathway tokens %v: want the last extension's code only", tokens)
	}
	if e := got["discharge-ready-date"]; e.Low != day(20) || e.High >= day(21) {
		t.Errorf("discharge-ready-date %+v", e)
	}
	if e := got["expected-discharge-date"]; e.Low != day(25)+10*3600 {
		t.Errorf("expected-discharge-date %+v", e)
	}
	if e := got["nctr-since"]; e.Low != day(19) {
		t.Errorf("nctr-since %+v", e)
	}
	for _, e := range fhir.IndexEntries("Encounter", body("true")) {
		if e.Param == "nctr-since" {
			t.Fatalf("criteria met, yet indexed: %+v", e)
		}
	}
	for _, name := range []string{"pathway", "discharge-ready-date", "expected-discharge-date", "nctr-since"} {
		if p := param(t, "Encounter", name); p.Definition != base+"SearchParameter/Encounter-"+name {
			t.Errorf("%s definition %q", name, p.Definition)
		}
	}
}
