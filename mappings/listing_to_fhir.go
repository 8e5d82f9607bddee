package mappings

import (
	"encoding/json"
	"regexp"

	"github.com/dischargegateway/gateway/discharge"
)

// Extensions the directory carries. See MAPPING.md.
const (
	// ContractTypeURL (valueCode block | spot) on HealthcareService: block
	// beds are already paid for and are offered before spot placements.
	ContractTypeURL = ExtensionBase + "contract-type"
	// CQCRatingURL (valueCode outstanding | good | requires-improvement |
	// inadequate | not-rated) on HealthcareService.
	CQCRatingURL = ExtensionBase + "cqc-rating"
	// RegisteredBedsURL (valueInteger) on Location.
	RegisteredBedsURL = ExtensionBase + "registered-beds"
	// CQCProviderSystem and CQCLocationSystem identify care providers and
	// their registered locations.
	CQCProviderSystem = "https://cqc.org.uk/provider-id"
	CQCLocationSystem = "https://cqc.org.uk/location-id"
)

// cqcID is the form of a CQC provider or location id. A listing whose ids
// are not CQC ids (the demo world's gm-…) carries no CQC identifier: the
// identifier would claim a registration that does not exist.
var cqcID = regexp.MustCompile(`^1-[0-9]{6,12}$`)

func cqcIdentifier(system, id string) []any {
	if !cqcID.MatchString(id) {
		return nil
	}
	return []any{map[string]any{"system": system, "value": id}}
}

// ListingIDs are the resource ids a listing is stored under. They are
// derived from the CQC ids, so importing the same directory twice finds
// and compares the same resources instead of creating new ones.
func ListingIDs(l discharge.Listing) (org, loc, svc string) {
	return "cqc-" + l.ProviderID, "cqc-" + l.LocationID, "cqc-" + l.LocationID + "-care"
}

// ListingToFHIR maps a directory listing to its Organization, Location and
// HealthcareService, in decoded JSON form, with their ids set.
func ListingToFHIR(l discharge.Listing) (org, loc, svc map[string]any) {
	orgID, locID, svcID := ListingIDs(l)
	org = map[string]any{"resourceType": "Organization", "id": orgID, "active": true}
	if id := cqcIdentifier(CQCProviderSystem, l.ProviderID); id != nil {
		org["identifier"] = id
	}
	loc = map[string]any{"resourceType": "Location", "id": locID, "status": "active", "name": l.Name,
		"managingOrganization": map[string]any{"reference": "Organization/" + orgID},
		"physicalType": map[string]any{"coding": []any{map[string]any{
			"system": "http://terminology.hl7.org/CodeSystem/location-physical-type", "code": "bu", "display": "Building"}}},
		"address": map[string]any{"text": l.Address, "postalCode": l.Postcode, "country": "GB"}}
	if id := cqcIdentifier(CQCLocationSystem, l.LocationID); id != nil {
		loc["identifier"] = id
	}
	if l.Address == "" {
		delete(loc["address"].(map[string]any), "text")
	}
	// Location.telecom (ContactPoint: system phone | url, use work): the
	// directory's contact details are the registered location's, which is
	// where a discharge coordinator rings. They are not put on the
	// Organization: a provider with many homes has its own head-office
	// number, which the directory does not give.
	var telecom []any
	if l.Telephone != "" {
		telecom = append(telecom, map[string]any{"system": "phone", "value": l.Telephone, "use": "work"})
	}
	if l.Website != "" {
		telecom = append(telecom, map[string]any{"system": "url", "value": l.Website, "use": "work"})
	}
	if telecom != nil {
		loc["telecom"] = telecom
	}
	if l.Position != nil {
		loc["position"] = map[string]any{"latitude": json.Number(ftoa(l.Position.Lat)), "longitude": json.Number(ftoa(l.Position.Lon))}
	}
	if l.Beds > 0 {
		loc["extension"] = []any{map[string]any{"url": RegisteredBedsURL, "valueInteger": l.Beds}}
	}
	types := make([]any, len(l.Services))
	for i, s := range l.Services {
		types[i] = map[string]any{"coding": []any{map[string]any{"system": CareSettingSystem, "code": string(s)}}}
	}
	svc = map[string]any{"resourceType": "HealthcareService", "id": svcID, "active": true, "name": l.Name,
		"providedBy": map[string]any{"reference": "Organization/" + orgID},
		"location":   []any{map[string]any{"reference": "Location/" + locID}},
		"type":       types}
	if len(l.Specialisms) > 0 {
		chars := make([]any, len(l.Specialisms))
		for i, r := range l.Specialisms {
			chars[i] = map[string]any{"coding": []any{map[string]any{"system": RequirementSystem, "code": string(r)}}}
		}
		svc["characteristic"] = chars
	}
	if len(l.Fundings) > 0 {
		prog := make([]any, len(l.Fundings))
		for i, f := range l.Fundings {
			prog[i] = map[string]any{"coding": []any{map[string]any{"system": FundingSystem, "code": string(f)}}}
		}
		svc["program"] = prog
	}
	var ext []any
	if l.Contract != "" {
		ext = append(ext, map[string]any{"url": ContractTypeURL, "valueCode": l.Contract})
	}
	if l.Rating != "" {
		ext = append(ext, map[string]any{"url": CQCRatingURL, "valueCode": l.Rating})
	}
	if ext != nil {
		svc["extension"] = ext
	}
	return org, loc, svc
}

func ftoa(f float64) string {
	b, _ := json.Marshal(f)
	return string(b)
}
