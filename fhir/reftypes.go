package fhir

import (
	"fmt"
	"slices"
	"strings"

	"github.com/dischargegateway/gateway/discharge"
)

// referenceTargets lists, for each resource type the gateway accepts, the
// R4 target types of each of its Reference elements, by element path with
// array levels left out ("link.other" is Patient.link[n].other). Elements
// typed Reference(Any) are left out: any target is right for them. Source:
// the element tables of http://hl7.org/fhir/R4 patient.html, encounter.html,
// servicerequest.html, organization.html, location.html and
// healthcareservice.html.
var referenceTargets = map[string]map[string][]string{
	"Patient": {
		"generalPractitioner":  {"Organization", "Practitioner", "PractitionerRole"},
		"managingOrganization": {"Organization"},
		"link.other":           {"Patient", "RelatedPerson"},
		"contact.organization": {"Organization"},
	},
	"Encounter": {
		"subject":                     {"Patient", "Group"},
		"episodeOfCare":               {"EpisodeOfCare"},
		"basedOn":                     {"ServiceRequest"},
		"participant.individual":      {"Practitioner", "PractitionerRole", "RelatedPerson"},
		"appointment":                 {"Appointment"},
		"reasonReference":             {"Condition", "Procedure", "Observation", "ImmunizationRecommendation"},
		"diagnosis.condition":         {"Condition", "Procedure"},
		"account":                     {"Account"},
		"hospitalization.origin":      {"Location", "Organization"},
		"hospitalization.destination": {"Location", "Organization"},
		"location.location":           {"Location"},
		"serviceProvider":             {"Organization"},
		"partOf":                      {"Encounter"},
	},
	"ServiceRequest": {
		"basedOn":           {"CarePlan", "ServiceRequest", "MedicationRequest"},
		"replaces":          {"ServiceRequest"},
		"subject":           {"Patient", "Group", "Location", "Device"},
		"encounter":         {"Encounter"},
		"requester":         {"Practitioner", "PractitionerRole", "Organization", "Patient", "RelatedPerson", "Device"},
		"performer":         {"Practitioner", "PractitionerRole", "Organization", "CareTeam", "HealthcareService", "Patient", "Device", "RelatedPerson"},
		"locationReference": {"Location"},
		"reasonReference":   {"Condition", "Observation", "DiagnosticReport", "DocumentReference"},
		"insurance":         {"Coverage", "ClaimResponse"},
		"specimen":          {"Specimen"},
		"relevantHistory":   {"Provenance"},
	},
	"Organization": {
		"partOf":   {"Organization"},
		"endpoint": {"Endpoint"},
	},
	"Location": {
		"managingOrganization": {"Organization"},
		"partOf":               {"Location"},
		"endpoint":             {"Endpoint"},
	},
	"HealthcareService": {
		"providedBy":   {"Organization"},
		"location":     {"Location"},
		"coverageArea": {"Location"},
		"endpoint":     {"Endpoint"},
	},
}

// datatypeTargets are the Reference elements of R4 data types, wherever
// they occur: Identifier.assigner and Annotation.authorReference (each name
// is used by no other element).
var datatypeTargets = map[string][]string{
	"assigner":        {"Organization"},
	"authorReference": {"Practitioner", "Patient", "RelatedPerson", "Organization"},
}

// CheckReferenceTypes reports every Reference in doc, a resource of type rt
// at FHIRPath path, whose literal reference (relative, absolute, or to a
// contained resource) or whose type names a resource type that R4 does not
// allow for that element: Encounter.subject pointing at an Encounter, for
// example. References it cannot type (urn:uuid before a transaction
// resolves them, logical identifiers, non-FHIR URLs) are left alone; a
// transaction calls it again once urn:uuid references are rewritten.
// Resource types outside the gateway's own are not checked.
func CheckReferenceTypes(doc map[string]any, rt, path string) discharge.Issues {
	return checkReferenceTypes(doc, rt, path, nil)
}

// checkReferenceTypes is CheckReferenceTypes for a resource that may be
// contained in another (container, else nil): there "#" and "#id" are
// resolved in the container, as R4 says.
func checkReferenceTypes(doc map[string]any, rt, path string, container map[string]any) discharge.Issues {
	table, ok := referenceTargets[rt]
	if !ok {
		return nil
	}
	var issues discharge.Issues
	var walk func(v any, el, at string)
	walk = func(v any, el, at string) {
		switch x := v.(type) {
		case []any:
			for i, e := range x {
				walk(e, el, fmt.Sprintf("%s[%d]", at, i))
			}
		case map[string]any:
			allowed, ok := table[el]
			if !ok {
				allowed, ok = datatypeTargets[el[strings.LastIndexByte(el, '.')+1:]]
			}
			if ok {
				checkReference(x, doc, rt, at, allowed, container, &issues)
			}
			for k, e := range x {
				if el == "" && (k == "contained" || k == "resourceType") {
					continue // contained resources are checked as their own types
				}
				walk(e, pathJoin(el, k), pathJoin(at, k))
			}
		}
	}
	walk(doc, "", path)
	// Map order is random: sort so a response does not change between runs.
	slices.SortStableFunc(issues, func(a, b discharge.Issue) int { return strings.Compare(a.Expression, b.Expression) })
	return issues
}

// checkReference checks one Reference's reference and type against allowed.
func checkReference(ref, doc map[string]any, rt, at string, allowed []string, container map[string]any, issues *discharge.Issues) {
	want := strings.Join(allowed, " or ")
	if s, ok := ref["reference"].(string); ok {
		// In a contained resource, "#" and "#id" point into its container.
		owner, ownerType := doc, rt
		if container != nil {
			owner = container
			ownerType, _ = container["resourceType"].(string)
		}
		if typ, ok := targetType(s, owner, ownerType); ok && !slices.Contains(allowed, typ) {
			issues.Add(discharge.KindValue, at+".reference",
				fmt.Sprintf("This element must reference %s, not %s.", want, typ))
		}
	}
	if t, ok := ref["type"].(string); ok {
		// Other absolute URLs name logical models, which R4 allows here.
		typ := strings.TrimPrefix(t, "http://hl7.org/fhir/StructureDefinition/")
		if typeShaped(typ) && !slices.Contains(allowed, typ) {
			issues.Add(discharge.KindValue, at+".type",
				fmt.Sprintf("This element must reference %s: Reference.type cannot be %s.", want, typ))
		}
	}
}

// targetType returns the resource type a literal reference names: "Type/id"
// or an absolute URL ending so (with or without /_history/vid), a
// conditional "Type?search" as transactions allow, or "#id" for a resource
// contained in owner ("#" alone is owner itself, of type rt). ok is false when the
// reference does not say (urn:uuid, urn:oid, an unknown #id, a URL that is
// not a FHIR RESTful one).
func targetType(ref string, doc map[string]any, rt string) (string, bool) {
	switch {
	case ref == "#":
		return rt, rt != ""
	case strings.HasPrefix(ref, "#"):
		cs, _ := doc["contained"].([]any)
		for _, c := range cs {
			if m, ok := c.(map[string]any); ok && m["id"] == ref[1:] {
				t, ok := m["resourceType"].(string)
				return t, ok && t != ""
			}
		}
		return "", false
	case strings.HasPrefix(ref, "urn:"):
		return "", false
	}
	if i := strings.IndexByte(ref, '?'); i >= 0 {
		head := ref[:i]
		if strings.Contains(head, "/") || !typeShaped(head) {
			return "", false
		}
		return head, true
	}
	if i := strings.Index(ref, "/_history/"); i >= 0 {
		ref = ref[:i]
	}
	parts := strings.Split(ref, "/")
	if len(parts) < 2 || parts[len(parts)-1] == "" || !typeShaped(parts[len(parts)-2]) {
		return "", false
	}
	return parts[len(parts)-2], true
}

// typeShaped reports whether s looks like a resource type name: an
// upper-case ASCII letter, then ASCII letters.
func typeShaped(s string) bool {
	if s == "" || s[0] < 'A' || s[0] > 'Z' {
		return false
	}
	for i := 1; i < len(s); i++ {
		if c := s[i]; !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return true
}
