package fhir

// RewriteReferences replaces every Reference.reference found in mapping
// (for example urn:uuid fullUrls of a transaction) with its mapped value,
// anywhere in a decoded resource.
func RewriteReferences(v any, mapping map[string]string) {
	switch x := v.(type) {
	case map[string]any:
		if r, ok := x["reference"].(string); ok {
			if to, ok := mapping[r]; ok {
				x["reference"] = to
			}
		}
		for k, e := range x {
			if k == "resource" {
				continue
			}
			RewriteReferences(e, mapping)
		}
	case []any:
		for _, e := range x {
			RewriteReferences(e, mapping)
		}
	}
}
