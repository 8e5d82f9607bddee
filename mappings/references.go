package mappings

// The accessors below read the references the FHIR write and read paths
// follow (intake's reference checks, _include) from a resource already
// decoded into generic JSON, so the resource is not decoded a second time.
// They never fail: an element that is absent or of the wrong shape reads as
// absent.

// ElementReference reads the reference string of a single Reference
// element, e.g. Encounter.subject.reference for element "subject".
func ElementReference(doc map[string]any, element string) (string, bool) {
	return referenceString(doc[element])
}

// ElementReferences reads the reference strings of a Reference element
// that may repeat, e.g. HealthcareService.location[i].reference; an element
// given once (not as an array) reads as one. Elements that are not
// references are left out.
func ElementReferences(doc map[string]any, element string) []string {
	var vals []any
	switch v := doc[element].(type) {
	case []any:
		vals = v
	case map[string]any:
		vals = []any{v}
	}
	out := make([]string, 0, len(vals))
	for _, v := range vals {
		if r, ok := referenceString(v); ok {
			out = append(out, r)
		}
	}
	return out
}

// ResourceID reads a resource's logical id (Resource.id), "" when absent.
func ResourceID(doc map[string]any) string {
	id, _ := doc["id"].(string)
	return id
}

// ReferenceValue reads Reference.reference from a Reference element's
// value.
func ReferenceValue(v any) (string, bool) { return referenceString(v) }

// referenceString reads Reference.reference.
func referenceString(v any) (string, bool) {
	m, ok := v.(map[string]any)
	if !ok {
		return "", false
	}
	r, ok := m["reference"].(string)
	return r, ok && r != ""
}
