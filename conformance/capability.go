package conformance

import (
	"encoding/json"
	"sort"

	"github.com/dischargegateway/gateway/fhir"
)

// Resource is one served type's entry in the CapabilityStatement. The HTTP
// layer builds it from the tables its router and search code use
// (gateway's capabilities), so the statement lists only what is served;
// RenderCapabilityStatement knows the elements.
type Resource struct {
	Interactions []string
	SearchParams []fhir.SearchParam
	Operations   []Operation
	// Conditional: conditional create (never conditional update or delete).
	Conditional bool
	// Versioned: versioned reads, history and conditional reads.
	Versioned bool
	// NoUpdateCreate: update never creates (a Task is created by POST).
	NoUpdateCreate bool
	// Profile is the StructureDefinition every instance conforms to.
	Profile string
	// Extension and Documentation are rest.resource's (the Subscription
	// topics, mappings.SubscriptionCapability).
	Extension     []map[string]any
	Documentation string
	// Includes are the _include values the type's search takes.
	Includes []string
}

// Operation is one operation of a type: its name and definition's URL.
type Operation struct{ Name, Definition string }

// Capability is what the CapabilityStatement states: the software's
// version, the base URL (implementation.url; none when empty) and each
// served type.
type Capability struct {
	Version, BaseURL string
	Resources        map[string]Resource
}

// TokenURLMark stands for the token endpoint's absolute URL in the
// rendered CapabilityStatement: the URL depends on the request's host when
// no base URL is configured, and the statement is rendered once; the HTTP
// layer puts the URL in its place per request.
const TokenURLMark = "urn:discharge-gateway:token-endpoint"

// RenderCapabilityStatement renders the CapabilityStatement: one resource
// entry per served type (sorted), the security the token endpoint gives,
// the system-level interactions and the messaging section (Messaging).
func RenderCapabilityStatement(c Capability) []byte {
	types := make([]string, 0, len(c.Resources))
	for t := range c.Resources {
		types = append(types, t)
	}
	sort.Strings(types)
	resources := make([]map[string]any, 0, len(types))
	for _, t := range types {
		resources = append(resources, resourceEntry(t, c.Resources[t]))
	}
	impl := map[string]any{"description": "Discharge Gateway FHIR endpoint"}
	if c.BaseURL != "" {
		impl["url"] = c.BaseURL
	}
	msg, ops := Messaging()
	// A map, as every fragment here: encoding/json writes its keys
	// sorted, so the rendering is stable whatever the order below.
	cs := map[string]any{
		"resourceType":   "CapabilityStatement",
		"id":             "discharge-gateway",
		"url":            "urn:discharge-gateway:capability",
		"name":           "DischargeGateway",
		"title":          "Discharge Gateway",
		"status":         "active",
		"date":           "2026-11-24",
		"publisher":      "Discharge Gateway",
		"description":    "FHIR R4 intake of hospital discharge requests, mapped into a shared discharge model for care placement.",
		"kind":           "instance",
		"software":       map[string]any{"name": "Discharge Gateway", "version": c.Version},
		"implementation": impl,
		"fhirVersion":    "4.0.1",
		"format":         []string{"application/fhir+json", "json", "application/json"},
		"rest": []map[string]any{{
			"mode":          "server",
			"documentation": "JSON only. Unknown search parameters are reported as a warning entry (search.mode=outcome), or rejected with Prefer: handling=strict.",
			"resource":      resources,
			"security":      restSecurity(),
			"interaction":   []map[string]any{{"code": "transaction"}, {"code": "batch"}},
			// BaRS referral messages at $process-message.
			"operation": ops,
		}},
		"messaging": msg,
	}
	b, _ := json.Marshal(cs)
	return b
}

// resourceEntry is the CapabilityStatement's rest.resource for one type.
func resourceEntry(t string, cp Resource) map[string]any {
	var inter []map[string]any
	for _, i := range cp.Interactions {
		inter = append(inter, map[string]any{"code": i})
	}
	r := map[string]any{"type": t, "interaction": inter}
	if cp.Profile != "" {
		r["profile"] = cp.Profile
	}
	if len(cp.Extension) > 0 {
		r["extension"] = cp.Extension
	}
	if cp.Documentation != "" {
		r["documentation"] = cp.Documentation
	}
	if cp.Versioned {
		r["versioning"] = "versioned"
		r["readHistory"] = true
		r["updateCreate"] = !cp.NoUpdateCreate
		// read answers If-Modified-Since and If-None-Match with 304.
		r["conditionalRead"] = "full-support"
	}
	if cp.Conditional {
		r["conditionalCreate"] = true
		r["conditionalUpdate"] = false
		r["conditionalDelete"] = "not-supported"
	}
	var sps []map[string]any
	for _, p := range cp.SearchParams {
		sp := map[string]any{"name": p.Name, "type": fhir.ParamTypeCode(p.Type)}
		if p.Definition != "" {
			sp["definition"] = p.Definition
		}
		if p.Doc != "" {
			sp["documentation"] = p.Doc
		}
		sps = append(sps, sp)
	}
	if len(sps) > 0 {
		r["searchParam"] = sps
	}
	if len(cp.Includes) > 0 {
		inc := append([]string(nil), cp.Includes...)
		sort.Strings(inc)
		r["searchInclude"] = inc
	}
	var ops []map[string]any
	for _, o := range cp.Operations {
		ops = append(ops, map[string]any{"name": o.Name, "definition": o.Definition})
	}
	if len(ops) > 0 {
		r["operation"] = ops
	}
	return r
}

// restSecurity is the CapabilityStatement's rest.security: SMART on FHIR
// with the token endpoint's URL marked (TokenURLMark).
func restSecurity() map[string]any {
	return map[string]any{
		"cors": false,
		"service": []any{map[string]any{"coding": []any{map[string]any{
			"system": "http://terminology.hl7.org/CodeSystem/restful-security-service", "code": "SMART-on-FHIR"}}}},
		"description": "Every interaction except this CapabilityStatement needs a bearer access token from POST /oauth2/token " +
			"(client_credentials grant with a signed JWT client assertion, RS256 or ES384, RFC 7523; " +
			"discovery at /.well-known/smart-configuration). Scopes are SMART v2 system scopes such as system/Encounter.cruds. " +
			"A trust reads and writes only its own organisation's data, a hub reads its member trusts', and a resource the " +
			"caller may not see is answered as 404. AuditEvent search is for the admin role.",
		"extension": []any{map[string]any{
			"url": "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris",
			// Absolute, as SMART requires: filled in per request.
			"extension": []any{map[string]any{"url": "token", "valueUri": TokenURLMark}},
		}},
	}
}
