package fhir

import "encoding/json"

// LocationDistance is the location-distance extension
// (http://hl7.org/fhir/StructureDefinition/location-distance) of a search
// match: its distance in km from the search's centre, to two decimals.
func LocationDistance(km float64) json.RawMessage {
	b, _ := json.Marshal(map[string]any{"url": "http://hl7.org/fhir/StructureDefinition/location-distance",
		"valueDistance": map[string]any{"value": float64(int64(km*100+0.5)) / 100, "unit": "km", "system": "http://unitsofmeasure.org", "code": "km"}})
	return b
}
