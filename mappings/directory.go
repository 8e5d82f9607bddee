package mappings

import (
	"encoding/json"
	"math"

	"github.com/dischargegateway/gateway/discharge"
)

// The accessors below read the directory elements the gateway's rules use
// (ownership, the geo index, capacity postings) from a resource already
// decoded into generic JSON, as the FHIR write path holds it, so the
// resource is not decoded a second time. They never fail: an element that
// is absent or of the wrong shape reads as absent, and the rules decide
// what absence means.

// LocationPlace reads where a Location is: Location.position (latitude and
// longitude, both present and finite) and Location.address.postalCode. pos
// is nil when the Location has no usable position; the caller may then
// geocode the postcode.
func LocationPlace(doc map[string]any) (pos *discharge.Position, postcode string) {
	if addr, ok := doc["address"].(map[string]any); ok {
		postcode, _ = addr["postalCode"].(string)
	}
	if p, ok := doc["position"].(map[string]any); ok {
		lat, ok1 := number(p["latitude"])
		lon, ok2 := number(p["longitude"])
		if ok1 && ok2 {
			pos = &discharge.Position{Lat: lat, Lon: lon}
		}
	}
	return pos, postcode
}

// LocationManagingOrganization reads Location.managingOrganization.reference.
func LocationManagingOrganization(doc map[string]any) (string, bool) {
	return reference(doc["managingOrganization"])
}

// HealthcareServiceProvidedBy reads HealthcareService.providedBy.reference.
func HealthcareServiceProvidedBy(doc map[string]any) (string, bool) {
	return reference(doc["providedBy"])
}

// HealthcareServiceLocations reads HealthcareService.location[i].reference,
// one entry per element in order; an element that is not a reference reads
// as "" so the caller can name its index.
func HealthcareServiceLocations(doc map[string]any) []string {
	locs, _ := doc["location"].([]any)
	out := make([]string, len(locs))
	for i, l := range locs {
		out[i], _ = reference(l)
	}
	return out
}

// HasIdentifier reports whether a resource's identifier (e.g.
// Organization.identifier) holds system|value.
func HasIdentifier(doc map[string]any, system, value string) bool {
	ids, _ := doc["identifier"].([]any)
	for _, x := range ids {
		m, _ := x.(map[string]any)
		if m["system"] == system && m["value"] == value {
			return true
		}
	}
	return false
}

// reference reads a Reference's reference string.
func reference(v any) (string, bool) {
	m, ok := v.(map[string]any)
	if !ok {
		return "", false
	}
	r, ok := m["reference"].(string)
	return r, ok && r != ""
}

// number reads a JSON number decoded either as json.Number (UseNumber) or
// float64; NaN and infinities (which JSON cannot carry, but a decoded
// map built in code can) read as absent.
func number(v any) (float64, bool) {
	var f float64
	switch n := v.(type) {
	case json.Number:
		var err error
		if f, err = n.Float64(); err != nil {
			return 0, false
		}
	case float64:
		f = n
	default:
		return 0, false
	}
	return f, !math.IsNaN(f) && !math.IsInf(f, 0)
}
