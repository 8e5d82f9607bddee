package mappings_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/dischargegateway/gateway/mappings"
)

// A provider's pack must not show which other providers the trust
// excluded; everything else of the ServiceRequest stays as stored.
func TestPackServiceRequest(t *testing.T) {
	in := `{"resourceType":"ServiceRequest","id":"sr1","status":"active","intent":"order",
		"extension":[{"url":"` + mappings.ExcludedProviderURL + `","valueReference":{"reference":"Organization/other"}},
		{"url":"` + mappings.FundingExtensionURL + `","valueCodeableConcept":{"text":"chc"}}],
		"subject":{"reference":"Patient/p1"}}`
	out, err := mappings.PackServiceRequest([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(out), "excluded-provider") || strings.Contains(string(out), "Organization/other") {
		t.Fatalf("the pack's ServiceRequest shows the excluded provider: %s", out)
	}
	var doc map[string]any
	if err := json.Unmarshal(out, &doc); err != nil {
		t.Fatal(err)
	}
	if exts, _ := doc["extension"].([]any); len(exts) != 1 || doc["subject"] == nil || doc["status"] != "active" {
		t.Fatalf("the pack's ServiceRequest lost more than the exclusion: %s", out)
	}
	only := `{"resourceType":"ServiceRequest","extension":[{"url":"` + mappings.ExcludedProviderURL + `","valueReference":{"reference":"Organization/x"}}]}`
	if out, err := mappings.PackServiceRequest([]byte(only)); err != nil || strings.Contains(string(out), "extension") {
		t.Fatalf("an exclusion alone should leave no extension element: %s %v", out, err)
	}
	if _, err := mappings.PackServiceRequest([]byte(`{"resourceType":"Patient"}`)); err == nil {
		t.Fatal("a Patient was taken for a ServiceRequest")
	}
}
