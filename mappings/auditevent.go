package mappings

import (
	"encoding/json"
	"strconv"
	"time"

	"github.com/dischargegateway/gateway/auth"
)

// Code systems and identifier systems of the AuditEvents the gateway renders.
const (
	auditEventTypeSystem      = "http://terminology.hl7.org/CodeSystem/audit-event-type"
	restfulInteractionSystem  = "http://hl7.org/fhir/restful-interaction"
	securitySourceTypeSystem  = "http://terminology.hl7.org/CodeSystem/security-source-type"
	clientIDSystem            = "urn:discharge-gateway:client-id"
	requestIDSystem           = "urn:discharge-gateway:request-id"
	auditObserverDisplay      = "Discharge Gateway"
	auditSourceTypeWebServer  = "3" // security-source-type: Web Server
	auditEventTypeRESTDisplay = "RESTful Operation"
)

// The AuditEvent's JSON shape. Fields are in the alphabetical order the
// gateway has always written them in (it once marshalled map literals), so
// the bytes of an AuditEvent search did not change when these types came;
// nothing is omitted when empty, as before.
type (
	auditEventJSON struct {
		Action       string            `json:"action"`
		Agent        []auditAgentJSON  `json:"agent"`
		Entity       []auditEntityJSON `json:"entity"`
		ID           string            `json:"id"`
		Outcome      string            `json:"outcome"`
		OutcomeDesc  string            `json:"outcomeDesc"`
		Recorded     string            `json:"recorded"`
		ResourceType string            `json:"resourceType"`
		Source       auditSourceJSON   `json:"source"`
		Subtype      []auditCodingJSON `json:"subtype"`
		Type         auditTypeJSON     `json:"type"`
	}
	auditAgentJSON struct {
		Name      string          `json:"name"`
		Requestor bool            `json:"requestor"`
		Role      []auditTextJSON `json:"role"`
		Who       auditWhoJSON    `json:"who"`
	}
	auditTextJSON struct {
		Text string `json:"text"`
	}
	auditWhoJSON struct {
		Identifier auditIdentifierJSON `json:"identifier"`
	}
	auditIdentifierJSON struct {
		System string `json:"system"`
		Value  string `json:"value"`
	}
	// auditEntityJSON.What is an auditReferenceJSON (the resource) or an
	// auditIdentifiedJSON (the request).
	auditEntityJSON struct {
		What any `json:"what"`
	}
	auditReferenceJSON struct {
		Reference string `json:"reference"`
	}
	auditIdentifiedJSON struct {
		Identifier auditIdentifierJSON `json:"identifier"`
	}
	auditSourceJSON struct {
		Observer auditObserverJSON `json:"observer"`
		Type     []auditCodingJSON `json:"type"`
	}
	auditObserverJSON struct {
		Display string `json:"display"`
	}
	auditCodingJSON struct {
		Code   string `json:"code"`
		System string `json:"system"`
	}
	auditTypeJSON struct {
		Code    string `json:"code"`
		Display string `json:"display"`
		System  string `json:"system"`
	}
)

// AuditEvent renders one audit entry as a FHIR R4 AuditEvent with the given
// id: who (the client and its organisation and role), what (the resource
// type, and id when there is one; the request id), when, and the outcome
// from the HTTP status. Never content: the entry holds none.
func AuditEvent(id string, e auth.AuditEntry) []byte {
	// AuditEvent.outcome: 0 success, 4 minor failure (the caller's), 8
	// serious failure (the gateway's).
	outcome := "0"
	switch {
	case e.Status >= 500:
		outcome = "8"
	case e.Status >= 400:
		outcome = "4"
	}
	what := e.ResourceType
	if e.ResourceID != "" {
		what += "/" + e.ResourceID
	}
	ev := auditEventJSON{
		Action: e.Action,
		Agent: []auditAgentJSON{{
			Name:      e.Org,
			Requestor: true,
			Role:      []auditTextJSON{{Text: string(e.Role)}},
			Who:       auditWhoJSON{Identifier: auditIdentifierJSON{System: clientIDSystem, Value: e.ClientID}},
		}},
		Entity: []auditEntityJSON{
			{What: auditReferenceJSON{Reference: what}},
			{What: auditIdentifiedJSON{Identifier: auditIdentifierJSON{System: requestIDSystem, Value: e.RequestID}}},
		},
		ID:           id,
		Outcome:      outcome,
		OutcomeDesc:  "HTTP " + strconv.Itoa(e.Status),
		Recorded:     e.Time.UTC().Format(time.RFC3339Nano),
		ResourceType: "AuditEvent",
		Source: auditSourceJSON{
			Observer: auditObserverJSON{Display: auditObserverDisplay},
			Type:     []auditCodingJSON{{Code: auditSourceTypeWebServer, System: securitySourceTypeSystem}},
		},
		Subtype: []auditCodingJSON{{Code: e.Interaction, System: restfulInteractionSystem}},
		Type:    auditTypeJSON{Code: "rest", Display: auditEventTypeRESTDisplay, System: auditEventTypeSystem},
	}
	b, _ := json.Marshal(ev) // plain strings and bools: cannot fail
	return b
}
