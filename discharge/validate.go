package discharge

// Every shared-model value is validated the same way: by the validate
// struct tags on its types (Case, Patient, CareNeed, SearchArea, Capacity,
// BedCapacity, HomeCareOffer), read by go-playground/validator in
// mappings.Validate, the one entry point, which also holds the custom rules
// (nhsnumber, pathway, outcode, the code-system rules, ...) on top of the
// predicates here (ValidNHSNumber, ValidOutcode, Pathway.Valid,
// CareSetting.Valid, ...) and the rules that span fields of a posting. Its
// issues name the model's own paths, each field's Go name in lowerCamel
// ("patient.nhsNumber", "requirements[1]", "beds[0].occupied"), and whoever
// built the value renames them to where it came from: mappings through its
// Origins for FHIR, capacity.Service.Post through its at function for a
// MeasureReport, a CSV row or the JSON API. The tags are annotations for
// that validator, not a wire format: the types carry no json or other
// encoding tags, their encodings being the wire types' of the packages that
// encode them. This package still imports only the standard library.

// Valid reports whether p is one of the four request priorities.
func (p Priority) Valid() bool {
	switch p {
	case PriorityRoutine, PriorityUrgent, PriorityASAP, PriorityStat:
		return true
	}
	return false
}
