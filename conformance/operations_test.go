package conformance_test

import (
	"encoding/json"
	"testing"

	"github.com/dischargegateway/gateway/conformance"
	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/fhir"
)

// Every operation the CapabilityStatement names by one of the gateway's
// canonical URLs has its OperationDefinition published under the id that
// URL ends in, valid R4 and carrying that url; an unknown id is not found.
func TestOperationDefinitionsPublished(t *testing.T) {
	s := conformance.New(nil, nil, nil)
	_, ops := conformance.Messaging()
	urls := []string{conformance.PlacementOptionsURL, conformance.DischargeCaseURL, conformance.TaskConfirmURL,
		conformance.ReferralPackURL, ops[0].(map[string]any)["definition"].(string)}
	for _, u := range urls {
		const prefix = "https://fhir.discharge-gateway.example/OperationDefinition/"
		if len(u) <= len(prefix) || u[:len(prefix)] != prefix {
			t.Fatalf("%s is not one of the gateway's OperationDefinition URLs", u)
		}
		raw, err := s.Read(conformance.OperationDefinition, u[len(prefix):])
		if err != nil {
			t.Fatalf("%s: %v", u, err)
		}
		if _, err := fhir.Validate(raw, "OperationDefinition", fhir.DefaultLimits); err != nil {
			t.Fatalf("%s is not valid R4: %v", u, err)
		}
		var od struct{ URL string }
		if err := json.Unmarshal(raw, &od); err != nil || od.URL != u {
			t.Fatalf("%s published with url %q (%v)", u, od.URL, err)
		}
	}
	if got := s.Search(conformance.OperationDefinition, nil); len(got) != len(urls) {
		t.Fatalf("%d OperationDefinitions published, want %d", len(got), len(urls))
	}
	if _, err := s.Read(conformance.OperationDefinition, "nope"); discharge.ErrorKind(err) != discharge.KindNotFound {
		t.Fatalf("unknown id: %v", err)
	}
}
