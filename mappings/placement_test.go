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
		Vacancies:  []discharge.BedCapacity{{Type: discharge.BedNursing, AcceptingAdmissions: 0}, {Type: discharge.BedResidential, AcceptingAdmissions: 3}},
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
