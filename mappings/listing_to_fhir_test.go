package mappings

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/fhir"
)

func TestListingToFHIRContactsAndIdentifiers(t *testing.T) {
	base := discharge.Listing{Name: "Acorn", LocationID: "1-100000001", ProviderID: "1-000000001",
		Services: []discharge.CareSetting{discharge.CareNursing}, Postcode: "M14 6AB"}
	withContacts := base
	withContacts.Telephone, withContacts.Website = "0161 234 5678", "https://acorn.example/"
	demo := withContacts
	demo.LocationID, demo.ProviderID = "gm-0123456789ab", "gm-p-0123456789ab"
	for _, tc := range []struct {
		name        string
		l           discharge.Listing
		wantTelecom any
		wantIDs     bool
	}{
		{"telephone and website", withContacts, []any{
			map[string]any{"system": "phone", "value": "0161 234 5678", "use": "work"},
			map[string]any{"system": "url", "value": "https://acorn.example/", "use": "work"}}, true},
		{"telephone only", func() discharge.Listing { l := withContacts; l.Website = ""; return l }(), []any{
			map[string]any{"system": "phone", "value": "0161 234 5678", "use": "work"}}, true},
		{"no contacts", base, nil, true},
		{"ids that are not CQC ids", demo, []any{
			map[string]any{"system": "phone", "value": "0161 234 5678", "use": "work"},
			map[string]any{"system": "url", "value": "https://acorn.example/", "use": "work"}}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			org, loc, _ := ListingToFHIR(tc.l)
			if got := loc["telecom"]; !reflect.DeepEqual(got, tc.wantTelecom) {
				t.Errorf("Location.telecom = %v, want %v", got, tc.wantTelecom)
			}
			if _, ok := org["telecom"]; ok {
				t.Error("Organization.telecom set from the location's contacts")
			}
			_, orgID := org["identifier"]
			_, locID := loc["identifier"]
			if orgID != tc.wantIDs || locID != tc.wantIDs {
				t.Errorf("CQC identifiers on Organization %v, Location %v; want %v", orgID, locID, tc.wantIDs)
			}
			// Both must still be valid R4 resources.
			for typ, r := range map[string]map[string]any{"Organization": org, "Location": loc} {
				raw, _ := json.Marshal(r)
				if _, err := fhir.Validate(raw, typ, fhir.Limits{MaxDepth: 64, MaxBundleEntries: 10}); err != nil {
					t.Errorf("%s is not valid R4: %v\n%s", typ, err, raw)
				}
			}
		})
	}
}
