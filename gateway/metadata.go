package gateway

import (
	"bytes"
	"encoding/json"
	"net/http"
	"sort"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/dischargegateway/gateway/conformance"
	"github.com/dischargegateway/gateway/fhir"
	"github.com/dischargegateway/gateway/mappings"
	"github.com/dischargegateway/gateway/records"
)

// capability describes one resource type in the CapabilityStatement. It is
// built from the same tables the router and the search code use, so the
// statement cannot list anything that is not implemented.
type capability struct {
	interactions []string
	searchParams []fhir.SearchParam
	operations   []operationRef
	conditional  bool
	versioned    bool
	// noUpdateCreate: update never creates (a Task is created by POST).
	noUpdateCreate bool
	// profile is the StructureDefinition every instance conforms to.
	profile string
	// extension and documentation are rest.resource's (the Subscription
	// topics, subscriptionCapability).
	extension     []map[string]any
	documentation string
}

type operationRef struct{ name, definition string }

// capabilities returns what each served resource type supports.
func (s *Server) capabilities() map[string]capability {
	caps := map[string]capability{}
	for _, t := range records.Types() { // clinical and directory types alike
		var ops []operationRef
		if t == "ServiceRequest" {
			ops = []operationRef{{"placement-options", conformance.PlacementOptionsURL}}
		}
		if t == "Encounter" {
			ops = []operationRef{{"discharge-case", conformance.DischargeCaseURL}}
		}
		caps[t] = capability{
			operations:   ops,
			interactions: []string{"create", "read", "vread", "update", "history-instance", "search-type"},
			searchParams: fhir.SearchParams(t),
			conditional:  true,
			versioned:    true,
		}
	}
	urlParam := []fhir.SearchParam{{Name: "url", Type: fhir.ParamURI,
		Doc: "The canonical URL of the resource."}}
	caps["CodeSystem"] = capability{interactions: []string{"read", "search-type"}, searchParams: urlParam}
	caps["ConceptMap"] = capability{interactions: []string{"read", "search-type"}, searchParams: urlParam,
		operations: []operationRef{{"translate", "http://hl7.org/fhir/OperationDefinition/ConceptMap-translate"}}}
	caps["MeasureReport"] = capability{interactions: []string{"create", "search-type"}, searchParams: []fhir.SearchParam{
		{Name: "subject", Type: fhir.ParamReference, Definition: "http://hl7.org/fhir/SearchParameter/MeasureReport-subject",
			Doc: "Location/{id}: that location's capacity postings as MeasureReports, newest first (_sort=-date, _count); with measure=" + mappings.SitrepMeasureURL + ", Organization/{ODS} of a trust or hub"},
		{Name: "measure", Type: fhir.ParamReference, Definition: "http://hl7.org/fhir/SearchParameter/MeasureReport-measure",
			Doc: "The Measure: " + mappings.SitrepMeasureURL + " for the discharge sitrep (computed now), " + mappings.VirtualWardMeasureURL + " for virtual-ward occupancy (subject Organization/{ICB} or Location/{id}), " + mappings.UnmetMeasureURL + " for weekly unmet demand by district, " + mappings.ForecastMeasureURL + " for the 14-day demand forecast (made today), else capacity"},
		{Name: "period", Type: fhir.ParamDate, Definition: "http://hl7.org/fhir/SearchParameter/MeasureReport-period",
			Doc: "Sitrep reporting days: period=YYYY-MM-DD, or ge and le bounds (default today in England); for unmet demand, every week they touch"}}}
	caps["Task"] = taskCapability()
	caps["Subscription"] = subscriptionCapability()
	caps["Basic"] = topicCapability() // the SubscriptionTopics (subscriptiontopic.go)
	caps["Measure"] = capability{interactions: []string{"read"}}
	caps["Measure"] = capability{interactions: []string{"read"},
		operations: []operationRef{{"evaluate-measure", "http://hl7.org/fhir/OperationDefinition/Measure-evaluate-measure"}}}
	caps["OperationDefinition"] = capability{interactions: []string{"read"}}
	caps["SearchParameter"] = capability{interactions: []string{"read"}} // the gateway's own: Encounter-pathway etc.
	caps["AuditEvent"] = capability{interactions: []string{"search-type"}, searchParams: []fhir.SearchParam{
		{Name: "agent", Type: fhir.ParamToken, Definition: "http://hl7.org/fhir/SearchParameter/AuditEvent-agent", Doc: "Client id or organisation that acted"},
		{Name: "entity", Type: fhir.ParamReference, Definition: "http://hl7.org/fhir/SearchParameter/AuditEvent-entity", Doc: "Type/id of the resource touched"},
		{Name: "date", Type: fhir.ParamDate, Definition: "http://hl7.org/fhir/SearchParameter/AuditEvent-date", Doc: "When it happened (eq, ge, gt, le, lt)"},
	}}
	return caps
}

// metadata serves the CapabilityStatement.
func (s *Server) metadata(c echo.Context) error {
	return respond(c, http.StatusOK, s.withTokenURL(c, s.conformance.CapabilityStatement()))
}

// buildCapabilityStatement renders the CapabilityStatement: one resource
// entry per served type, the security the token endpoint gives, and the
// system-level interactions.
func (s *Server) buildCapabilityStatement() []byte {
	caps := s.capabilities()
	types := make([]string, 0, len(caps))
	for t := range caps {
		types = append(types, t)
	}
	sort.Strings(types)
	resources := make([]map[string]any, 0, len(types))
	for _, t := range types {
		resources = append(resources, resourceCapability(t, caps[t]))
	}
	cs := map[string]any{
		"resourceType": "CapabilityStatement",
		"id":           "discharge-gateway",
		"url":          "urn:discharge-gateway:capability",
		"name":         "DischargeGateway",
		"title":        "Discharge Gateway",
		"status":       "active",
		"date":         "2026-11-24",
		"publisher":    "Discharge Gateway",
		"description":  "FHIR R4 intake of hospital discharge requests, mapped into a shared discharge model for care placement.",
		"kind":         "instance",
		"software":     map[string]any{"name": "Discharge Gateway", "version": s.cfg.Version},
		"implementation": map[string]any{
			"description": "Discharge Gateway FHIR endpoint",
		},
		"fhirVersion": "4.0.1",
		"format":      []string{"application/fhir+json", "json", "application/json"},
		"rest": []map[string]any{{
			"mode":          "server",
			"documentation": "JSON only. Unknown search parameters are reported as a warning entry (search.mode=outcome), or rejected with Prefer: handling=strict.",
			"resource":      resources,
			"security":      restSecurity(),
			"interaction":   []map[string]any{{"code": "transaction"}, {"code": "batch"}},
		}},
	}
	if s.cfg.BaseURL != "" {
		cs["implementation"].(map[string]any)["url"] = s.cfg.BaseURL
	}
	// BaRS referral messages at $process-message (processmessage.go).
	msg, ops := conformance.Messaging()
	cs["messaging"] = msg
	cs["rest"].([]map[string]any)[0]["operation"] = ops
	b, _ := json.Marshal(cs)
	return b
}

// resourceCapability is the CapabilityStatement's entry for one type.
func resourceCapability(t string, cp capability) map[string]any {
	var inter []map[string]any
	for _, i := range cp.interactions {
		inter = append(inter, map[string]any{"code": i})
	}
	r := map[string]any{"type": t, "interaction": inter}
	if cp.profile != "" {
		r["profile"] = cp.profile
	}
	if len(cp.extension) > 0 {
		r["extension"] = cp.extension
	}
	if cp.documentation != "" {
		r["documentation"] = cp.documentation
	}
	if cp.versioned {
		r["versioning"] = "versioned"
		r["readHistory"] = true
		r["updateCreate"] = !cp.noUpdateCreate
		// read answers If-Modified-Since and If-None-Match with 304 (read.go).
		r["conditionalRead"] = "full-support"
	}
	if cp.conditional {
		r["conditionalCreate"] = true
		r["conditionalUpdate"] = false
		r["conditionalDelete"] = "not-supported"
	}
	var sps []map[string]any
	for _, p := range cp.searchParams {
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
	var inc []string
	for _, v := range records.Includes() {
		if strings.HasPrefix(v, t+":") {
			inc = append(inc, v)
		}
	}
	if len(inc) > 0 {
		sort.Strings(inc)
		r["searchInclude"] = inc
	}
	var ops []map[string]any
	for _, o := range cp.operations {
		ops = append(ops, map[string]any{"name": o.name, "definition": o.definition})
	}
	if len(ops) > 0 {
		r["operation"] = ops
	}
	return r
}

// restSecurity is the CapabilityStatement's rest.security: SMART on FHIR
// with the token endpoint's URL marked, to be filled in per request.
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
			// Absolute, as SMART requires: filled in per request (withTokenURL).
			"extension": []any{map[string]any{"url": "token", "valueUri": tokenURLMark}},
		}},
	}
}

// tokenURLMark stands for the token endpoint's absolute URL in the cached
// CapabilityStatement: the URL depends on the request's host when no
// BaseURL is configured, and the statement is rendered once.
const tokenURLMark = "urn:discharge-gateway:token-endpoint"

// withTokenURL puts the token endpoint's absolute URL in place of the mark.
func (s *Server) withTokenURL(c echo.Context, cs []byte) []byte {
	u, _ := json.Marshal(s.tokenURL(c))
	return bytes.Replace(cs, []byte(`"`+tokenURLMark+`"`), u, 1)
}
