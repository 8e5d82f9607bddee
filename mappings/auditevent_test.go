package mappings_test

import (
	"testing"
	"time"

	"github.com/dischargegateway/gateway/auth"
	"github.com/dischargegateway/gateway/mappings"
)

// The AuditEvent's bytes are those the gateway wrote before the rendering
// moved here (from map literals): key order, escaping and the empty fields
// that are kept.
func TestAuditEventBytes(t *testing.T) {
	at := time.Date(2026, 3, 4, 5, 6, 7, 890000000, time.FixedZone("x", 3600))
	for _, tc := range []struct {
		name string
		e    auth.AuditEntry
		want string
	}{
		{"instance read", auth.AuditEntry{Time: at, ClientID: "trust-a", Org: "RXX", Role: auth.RoleAdmin, Action: "R", Interaction: "read",
			ResourceType: "Patient", ResourceID: "p1", Status: 200, RequestID: "req-1"},
			`{"action":"R","agent":[{"name":"RXX","requestor":true,"role":[{"text":"admin"}],"who":{"identifier":{"system":"urn:discharge-gateway:client-id","value":"trust-a"}}}],"entity":[{"what":{"reference":"Patient/p1"}},{"what":{"identifier":{"system":"urn:discharge-gateway:request-id","value":"req-1"}}}],"id":"id-1","outcome":"0","outcomeDesc":"HTTP 200","recorded":"2026-03-04T04:06:07.89Z","resourceType":"AuditEvent","source":{"observer":{"display":"Discharge Gateway"},"type":[{"code":"3","system":"http://terminology.hl7.org/CodeSystem/security-source-type"}]},"subtype":[{"code":"read","system":"http://hl7.org/fhir/restful-interaction"}],"type":{"code":"rest","display":"RESTful Operation","system":"http://terminology.hl7.org/CodeSystem/audit-event-type"}}`},
		{"type search refused, empty fields kept", auth.AuditEntry{Time: at, ClientID: "c<&>", Action: "E", Interaction: "search-type",
			ResourceType: "Encounter", Status: 404},
			`{"action":"E","agent":[{"name":"","requestor":true,"role":[{"text":""}],"who":{"identifier":{"system":"urn:discharge-gateway:client-id","value":"c\u003c\u0026\u003e"}}}],"entity":[{"what":{"reference":"Encounter"}},{"what":{"identifier":{"system":"urn:discharge-gateway:request-id","value":""}}}],"id":"id-1","outcome":"4","outcomeDesc":"HTTP 404","recorded":"2026-03-04T04:06:07.89Z","resourceType":"AuditEvent","source":{"observer":{"display":"Discharge Gateway"},"type":[{"code":"3","system":"http://terminology.hl7.org/CodeSystem/security-source-type"}]},"subtype":[{"code":"search-type","system":"http://hl7.org/fhir/restful-interaction"}],"type":{"code":"rest","display":"RESTful Operation","system":"http://terminology.hl7.org/CodeSystem/audit-event-type"}}`},
		{"server failure", auth.AuditEntry{Time: at.Add(time.Hour), ClientID: "x", Org: "O \"q\"", Role: auth.RoleAdmin, Action: "C",
			Interaction: "transaction", ResourceType: "Bundle", Status: 503, RequestID: "r"},
			`{"action":"C","agent":[{"name":"O \"q\"","requestor":true,"role":[{"text":"admin"}],"who":{"identifier":{"system":"urn:discharge-gateway:client-id","value":"x"}}}],"entity":[{"what":{"reference":"Bundle"}},{"what":{"identifier":{"system":"urn:discharge-gateway:request-id","value":"r"}}}],"id":"id-1","outcome":"8","outcomeDesc":"HTTP 503","recorded":"2026-03-04T05:06:07.89Z","resourceType":"AuditEvent","source":{"observer":{"display":"Discharge Gateway"},"type":[{"code":"3","system":"http://terminology.hl7.org/CodeSystem/security-source-type"}]},"subtype":[{"code":"transaction","system":"http://hl7.org/fhir/restful-interaction"}],"type":{"code":"rest","display":"RESTful Operation","system":"http://terminology.hl7.org/CodeSystem/audit-event-type"}}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := string(mappings.AuditEvent("id-1", tc.e)); got != tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
}
