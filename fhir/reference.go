package fhir

import "strings"

// SplitRef splits a reference "Type/id" into its type and id: any base URL
// in front is stripped and a "/_history/..." version ignored. ok is false
// when there is no type or no id.
func SplitRef(ref string) (typ, id string, ok bool) {
	if i := strings.Index(ref, "/_history/"); i >= 0 {
		ref = ref[:i]
	}
	parts := strings.Split(ref, "/")
	if len(parts) < 2 {
		return "", "", false
	}
	typ, id = parts[len(parts)-2], parts[len(parts)-1]
	if typ == "" || id == "" {
		return "", "", false
	}
	return typ, id, true
}
