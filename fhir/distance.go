package fhir

import "encoding/json"

// LocationDistanceURL is the core extension giving a search match's
// distance from the point searched around.
const LocationDistanceURL = "http://hl7.org/fhir/StructureDefinition/location-distance"

// LocationDistance is the location-distance extension of a search match:
// its distance in km from the search's centre (valueDistance in UCUM km),
// to two decimals.
func LocationDistance(km float64) json.RawMessage {
	return AppendLocationDistance(nil, km)
}

// AppendLocationDistance is LocationDistance appending to dst (a
// placement answer writes one per option into a buffer it reuses), in the
// bytes json.Marshal wrote for it as a map: keys sorted
// (TestLocationDistanceMatchesEncodingJSON).
func AppendLocationDistance(dst []byte, km float64) []byte {
	dst = append(dst, `{"url":"`+LocationDistanceURL+`","valueDistance":{"code":"km","system":"http://unitsofmeasure.org","unit":"km","value":`...)
	dst = AppendFloat(dst, float64(int64(km*100+0.5))/100)
	return append(dst, `}}`...)
}
