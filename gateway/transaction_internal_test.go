package gateway

import (
	"testing"

	"github.com/dischargegateway/gateway/discharge"
)

// TestEntryIssuesPlaceEachIssueInTheBundle checks where an entry's intake
// issues point: independent of which mapping rule raised them.
func TestEntryIssuesPlaceEachIssueInTheBundle(t *testing.T) {
	cd := &candidate{typ: "Encounter", path: "Bundle.entry[1].resource", doc: map[string]any{
		"subject":   map[string]any{"reference": "Patient/p1"},
		"encounter": map[string]any{"reference": "Encounter/stored"},
	}}
	stored := &candidate{typ: "ServiceRequest", path: "Bundle.entry[2].resource", doc: map[string]any{
		"subject": map[string]any{"reference": "Patient/elsewhere"},
	}}
	refPaths := map[string]string{"Patient/p1": "Bundle.entry[0].resource"}
	tests := []struct {
		name string
		cd   *candidate
		in   string
		want string
	}{
		{"own element, already rebased", cd, "Bundle.entry[1].resource.status", "Bundle.entry[1].resource.status"},
		{"the subject Patient in the Bundle", cd, "Patient.address[0].postalCode", "Bundle.entry[0].resource.address[0].postalCode"},
		{"the subject Patient as a whole", cd, "Patient", "Bundle.entry[0].resource"},
		{"a stored Patient: the reference to it", stored, "Patient.address[0].postalCode", "Bundle.entry[2].resource.subject"},
		{"a stored Encounter: the reference to it", cd, "Encounter.period", "Bundle.entry[1].resource.encounter"},
		{"no element: the entry's resource", cd, "", "Bundle.entry[1].resource"},
		{"a Bundle path stays", cd, "Bundle.entry[3].fullUrl", "Bundle.entry[3].fullUrl"},
		{"a parameter name stays", cd, "identifier", "identifier"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := entryIssues(discharge.Issues{{Kind: discharge.KindValue, Expression: tc.in}}, tc.cd, refPaths)
			if len(got) != 1 || got[0].Expression != tc.want {
				t.Fatalf("got %+v, want %s", got, tc.want)
			}
		})
	}
}

func TestConditionKeyIgnoresSpellingAndOrder(t *testing.T) {
	same := [][2]string{
		{"identifier=a|1", "identifier=a%7C1"},
		{"identifier=a|1&status=active", "status=active&identifier=a|1"},
	}
	for _, p := range same {
		if conditionKey("Patient", p[0]) != conditionKey("Patient", p[1]) {
			t.Fatalf("%q and %q differ", p[0], p[1])
		}
	}
	if conditionKey("Patient", "identifier=a|1") == conditionKey("Encounter", "identifier=a|1") {
		t.Fatal("types not kept apart")
	}
	if conditionKey("Patient", "identifier=a|1") == conditionKey("Patient", "identifier=a|2") {
		t.Fatal("values not kept apart")
	}
}
