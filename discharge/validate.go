package discharge

import (
	"fmt"
	"strconv"
)

// Every shared-model value is validated the same way: a hand-written
// Validate method on the value (Case.Validate, CareNeed.Validate,
// Capacity.Validate, Position.Validate) returns its Issues at the model's
// own paths, the names this package gives its fields ("patient.nhsNumber",
// "requirements[1]", "beds[0].occupied"). Whoever built the value from a
// message renames each path to the element it came from: mappings.Validate
// through its Origins for FHIR, capacity.Service.Post through its at
// function for a MeasureReport, a CSV row or the JSON API. The paths are
// the model's, not any wire format's, so the types carry no tags.

// MaxHoursPerWeek bounds a home-care package: the hours in a week.
const MaxHoursPerWeek = 168

// Validate checks the case's own rules and returns one KindValue error per
// failing field, in field order, at the field's model path. Messages say
// what is wrong in the sender's terms and never repeat the value.
func (c *Case) Validate() Issues {
	var is Issues
	if c.Trust != "" && !validCode(c.Trust, 10) {
		is.Add(KindValue, "trust", "the value is not a valid code")
	}
	if c.Patient.NHSNumber != "" && !ValidNHSNumber(c.Patient.NHSNumber) {
		is = append(is, Issue{Kind: KindValue, Expression: "patient.nhsNumber", Detail: "INVALID_CHECK_DIGIT",
			Message: "the NHS number is not 10 digits with a valid modulus-11 check digit"})
	}
	if c.Patient.HomeOutcode != "" && !ValidOutcode(c.Patient.HomeOutcode) {
		is.Add(KindValue, "patient.homeOutcode", msgOutcode)
	}
	if c.Pathway != nil && !c.Pathway.Valid() {
		is.Add(KindValue, "pathway", "the discharge pathway must be 0, 1, 2 or 3")
	}
	return is
}

// Validate checks the need's own rules and returns one KindValue error per
// failing field (each failing requirement counts as one), in field order,
// at the field's model path.
func (n *CareNeed) Validate() Issues {
	var is Issues
	switch {
	case n.Setting == "":
		is.Add(KindValue, "setting", "a value is required")
	case !n.Setting.Valid():
		is.Add(KindValue, "setting", msgCode("caresetting"))
	}
	if h := n.HoursPerWeek; h != nil {
		switch {
		case !(*h > 0): // NaN fails too
			is.Add(KindValue, "hoursPerWeek", "the value must be above 0")
		case !(*h <= MaxHoursPerWeek):
			is.Add(KindValue, "hoursPerWeek", "the value must be at most "+strconv.Itoa(MaxHoursPerWeek))
		}
	}
	for i, r := range n.Requirements {
		if !r.Valid() {
			is.Add(KindValue, fmt.Sprintf("requirements[%d]", i), msgCode("requirement"))
		}
	}
	if n.Funding != "" && !n.Funding.Valid() {
		is.Add(KindValue, "funding", msgCode("funding"))
	}
	if a := n.SearchArea; a != nil {
		switch {
		case a.Outcode == "":
			is.Add(KindValue, "searchArea.outcode", "a value is required")
		case !ValidOutcode(a.Outcode):
			is.Add(KindValue, "searchArea.outcode", msgOutcode)
		}
		if a.Latitude != nil && !(*a.Latitude >= -90 && *a.Latitude <= 90) {
			is.Add(KindValue, "searchArea.latitude", "the latitude is out of range")
		}
		if a.Longitude != nil && !(*a.Longitude >= -180 && *a.Longitude <= 180) {
			is.Add(KindValue, "searchArea.longitude", "the longitude is out of range")
		}
	}
	if n.Priority != "" && !n.Priority.Valid() {
		is.Add(KindValue, "priority", "the value must be one of: routine urgent asap stat")
	}
	return is
}

// Valid reports whether p is one of the four request priorities.
func (p Priority) Valid() bool {
	switch p {
	case PriorityRoutine, PriorityUrgent, PriorityASAP, PriorityStat:
		return true
	}
	return false
}

const msgOutcode = "the value is not a UK postcode or postcode district (outward code, e.g. M14)"

func msgCode(system string) string {
	return "the code is not in the gateway " + system + " code system"
}

// validCode reports whether s is 1 to max ASCII letters and digits, the
// shape of an ODS code.
func validCode(s string, max int) bool {
	if len(s) == 0 || len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
			return false
		}
	}
	return true
}
