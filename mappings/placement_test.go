package mappings_test

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/mappings"
)

// The explanation extension element by element, including what the golden
// Bundles do not show: home-care offers, and zero values, which must still
// be rendered (a component of 0 is information, not absence).
func TestPlacementExplanationElements(t *testing.T) {
	asOf := time.Date(2026, 11, 24, 9, 30, 0, 0, time.FixedZone("BST", 3600))
	o := discharge.Option{
		Components: discharge.Components{Distance: 0.81234, Freshness: 1, Contract: 0, Quality: 0.75, Preference: 0, Acceptance: 0.5},
		Covered:    []discharge.Requirement{"dementia"},
		Vacancies:  []discharge.BedVacancy{{BedCapacity: discharge.BedCapacity{Type: discharge.BedNursing, AcceptingAdmissions: 0}}, {BedCapacity: discharge.BedCapacity{Type: discharge.BedResidential, AcceptingAdmissions: 3}}},
		HomeCare:   []discharge.HomeCareOffer{{HoursPerWeek: 12.5, EarliestStart: discharge.DateOf(asOf)}},
		AsOf:       asOf,
		Freshness:  discharge.Fresh,
	}
	var got any
	if err := json.Unmarshal(mappings.PlacementExplanation(o), &got); err != nil {
		t.Fatal(err)
	}
	comp := func(name string, v float64) any {
		return map[string]any{"url": "component", "extension": []any{
			map[string]any{"url": "name", "valueCode": name}, map[string]any{"url": "value", "valueDecimal": v}}}
	}
	vac := func(bed string, n float64) any {
		return map[string]any{"url": "vacancy", "extension": []any{
			map[string]any{"url": "bedType", "valueCoding": map[string]any{"system": mappings.BedTypeSystem, "code": bed}},
			map[string]any{"url": "acceptingAdmissions", "valueInteger": n}}}
	}
	want := map[string]any{"url": mappings.PlacementExplanationURL, "extension": []any{
		map[string]any{"url": "freshness", "valueCode": string(discharge.Fresh)},
		map[string]any{"url": "asOf", "valueDateTime": "2026-11-24T08:30:00Z"},
		comp("distance", 0.8123), comp("freshness", 1), comp("contract", 0), comp("quality", 0.75), comp("preference", 0), comp("acceptance", 0.5),
		map[string]any{"url": "covers", "valueCoding": map[string]any{"system": mappings.RequirementSystem, "code": "dementia"}},
		vac(string(discharge.BedNursing), 0), vac(string(discharge.BedResidential), 3),
		map[string]any{"url": "homeCare", "extension": []any{
			map[string]any{"url": "hoursPerWeek", "valueDecimal": 12.5},
			map[string]any{"url": "earliestStart", "valueDate": "2026-11-24"}}},
	}}
	if !reflect.DeepEqual(got, want) {
		g, _ := json.MarshalIndent(got, "", " ")
		t.Fatalf("explanation:\n%s", g)
	}
}

// A HealthcareService is projected once per Location it names that the
// caller holds: references with a base URL or a version count; one without
// an id, or to a Location not held, gives nothing.
func TestHealthcareServiceProviders(t *testing.T) {
	hs := []byte(`{"resourceType":"HealthcareService","id":"hs1","name":"Home A","providedBy":{"reference":"Organization/o1"},
		"location":[{"reference":"Location/a"},{"reference":"https://gw.example/fhir/Location/b/_history/2"},
		{"reference":"Location/c"},{"reference":"Location/"},{"display":"nowhere"}]}`)
	held := map[string]string{
		"a": `{"resourceType":"Location","id":"a","position":{"latitude":53.4,"longitude":-2.2}}`,
		"b": `{"resourceType":"Location","id":"b"}`,
	}
	cases := []struct {
		name string
		held map[string]string
		want []string // location ids, in order
	}{
		{"every held location", held, []string{"a", "b"}},
		{"none held", nil, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ps, err := mappings.HealthcareServiceProviders(hs, func(id string) ([]byte, bool) {
				s, ok := c.held[id]
				return []byte(s), ok
			})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, p := range ps {
				if p.ServiceID != "hs1" || p.OrganizationID != "o1" {
					t.Fatalf("%+v", p)
				}
				got = append(got, p.LocationID)
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Fatalf("locations %v, want %v", got, c.want)
			}
			if len(ps) > 0 && (ps[0].Position == nil || ps[0].Position.Lat != 53.4) {
				t.Fatalf("position %+v", ps[0].Position)
			}
		})
	}
	if _, err := mappings.HealthcareServiceProviders([]byte(`{"location":"x"}`), nil); err == nil {
		t.Fatal("a service that is not one was projected")
	}
}
