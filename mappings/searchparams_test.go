package mappings_test

import (
	"testing"

	"github.com/dischargegateway/gateway/fhir"
	"github.com/dischargegateway/gateway/mappings"
)

// The Encounter search parameters index the extensions the case mapping
// reads: fhir/ spells the URLs itself (it cannot import mappings), so this
// keeps the two copies in step.
func TestSearchParamExtensionsMatchMapping(t *testing.T) {
	want := map[string]string{"pathway": mappings.PathwayExtensionURL, "discharge-ready-date": mappings.DischargeReadyDateURL,
		"expected-discharge-date": mappings.EDDExtensionURL, "nctr-since": mappings.CriteriaToResideURL, "pathway-system": mappings.PathwaySystem,
		"delay-reason": mappings.DelayReasonURL, "delay-reason-system": mappings.DelayReasonSystem}
	got := fhir.IndexedExtensions()
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: fhir indexes %q, the mapping reads %q", k, got[k], v)
		}
	}
}
