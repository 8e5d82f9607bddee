package gateway

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/dischargegateway/gateway/conformance"
	"github.com/dischargegateway/gateway/fhir"
	"github.com/dischargegateway/gateway/mappings"
	"github.com/dischargegateway/gateway/records"
)

// capability is one served type's entry in the CapabilityStatement
// (conformance.Resource, which renders it). capabilities builds them from
// the same tables the router and the search code use, so the statement
// cannot list anything that is not implemented.
type capability = conformance.Resource

type operationRef = conformance.Operation

// capabilities returns what each served resource type supports.
func (s *Server) capabilities() map[string]capability {
	caps := map[string]capability{}
	for _, t := range records.Types() { // clinical and directory types alike
		var ops []operationRef
		if t == "ServiceRequest" {
			ops = []operationRef{{Name: "placement-options", Definition: conformance.PlacementOptionsURL}}
		}
		if t == "Encounter" {
			ops = []operationRef{{Name: "discharge-case", Definition: conformance.DischargeCaseURL}}
		}
		caps[t] = capability{
			Operations:   ops,
			Interactions: []string{"create", "read", "vread", "update", "history-instance", "search-type"},
			SearchParams: fhir.SearchParams(t),
			Conditional:  true,
			Versioned:    true,
		}
	}
	urlParam := []fhir.SearchParam{{Name: "url", Type: fhir.ParamURI,
		Doc: "The canonical URL of the resource."}}
	caps["CodeSystem"] = capability{Interactions: []string{"read", "search-type"}, SearchParams: urlParam}
	caps["ConceptMap"] = capability{Interactions: []string{"read", "search-type"}, SearchParams: urlParam,
		Operations: []operationRef{{Name: "translate", Definition: "http://hl7.org/fhir/OperationDefinition/ConceptMap-translate"}}}
	caps["MeasureReport"] = capability{Interactions: []string{"create", "search-type"}, SearchParams: []fhir.SearchParam{
		{Name: "subject", Type: fhir.ParamReference, Definition: "http://hl7.org/fhir/SearchParameter/MeasureReport-subject",
			Doc: "Location/{id}: that location's capacity postings as MeasureReports, newest first (_sort=-date, _count); with measure=" + mappings.SitrepMeasureURL + ", Organization/{ODS} of a trust or hub"},
		{Name: "measure", Type: fhir.ParamReference, Definition: "http://hl7.org/fhir/SearchParameter/MeasureReport-measure",
			Doc: "The Measure: " + mappings.SitrepMeasureURL + " for the discharge sitrep (computed now), " + mappings.VirtualWardMeasureURL + " for virtual-ward occupancy (subject Organization/{ICB} or Location/{id}), " + mappings.UnmetMeasureURL + " for weekly unmet demand by district, " + mappings.ForecastMeasureURL + " for the 14-day demand forecast (made today), else capacity"},
		{Name: "period", Type: fhir.ParamDate, Definition: "http://hl7.org/fhir/SearchParameter/MeasureReport-period",
			Doc: "Sitrep reporting days: period=YYYY-MM-DD, or ge and le bounds (default today in England); for unmet demand, every week they touch"}}}
	caps["Task"] = taskCapability()
	caps["Subscription"] = subscriptionCapability()
	caps["Basic"] = topicCapability() // the SubscriptionTopics (subscriptiontopic.go)
	caps["Measure"] = capability{Interactions: []string{"read"}}
	caps["Measure"] = capability{Interactions: []string{"read"},
		Operations: []operationRef{{Name: "evaluate-measure", Definition: "http://hl7.org/fhir/OperationDefinition/Measure-evaluate-measure"}}}
	caps["OperationDefinition"] = capability{Interactions: []string{"read"}}
	caps["SearchParameter"] = capability{Interactions: []string{"read"}} // the gateway's own: Encounter-pathway etc.
	caps["AuditEvent"] = capability{Interactions: []string{"search-type"}, SearchParams: []fhir.SearchParam{
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

// buildCapabilityStatement renders the CapabilityStatement
// (conformance.RenderCapabilityStatement) of what this server serves.
func (s *Server) buildCapabilityStatement() []byte {
	caps := s.capabilities()
	for t, cp := range caps {
		cp.Includes = includesOf(t)
		caps[t] = cp
	}
	return conformance.RenderCapabilityStatement(conformance.Capability{Version: s.cfg.Version, BaseURL: s.cfg.BaseURL, Resources: caps})
}

// includesOf are the _include values a type's search takes.
func includesOf(t string) []string {
	var inc []string
	for _, v := range records.Includes() {
		if strings.HasPrefix(v, t+":") {
			inc = append(inc, v)
		}
	}
	return inc
}

// withTokenURL puts the token endpoint's absolute URL in place of the mark.
func (s *Server) withTokenURL(c echo.Context, cs []byte) []byte {
	u, _ := json.Marshal(s.tokenURL(c))
	return bytes.Replace(cs, []byte(`"`+conformance.TokenURLMark+`"`), u, 1)
}
