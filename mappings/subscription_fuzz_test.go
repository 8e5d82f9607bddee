package mappings_test

import (
	"errors"
	"testing"
	"time"

	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/fhir"
	"github.com/dischargegateway/gateway/mappings"
)

// FuzzDecodeSubscription: no input panics; what decodes renders and
// decodes again to the same request (the secret and headers aside).
func FuzzDecodeSubscription(f *testing.F) {
	for _, s := range []string{
		`{"resourceType":"Subscription","status":"requested","reason":"r","criteria":"https://discharge-gateway.nhs.uk/fhir/SubscriptionTopic/referral-offered","channel":{"type":"rest-hook","endpoint":"https://x.example/h","payload":"application/fhir+json","_payload":{"extension":[{"url":"http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/backport-payload-content","valueCode":"full-resource"}]},"header":["Authorization: Bearer t"],"extension":[{"url":"http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/backport-heartbeat-period","valueUnsignedInt":60},{"url":"http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/backport-timeout","valueUnsignedInt":5},{"url":"http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/backport-max-count","valuePositiveInt":10}]}}`,
		`{"resourceType":"Subscription","status":"requested","reason":"r","criteria":"https://discharge-gateway.nhs.uk/fhir/SubscriptionTopic/case-state","_criteria":{"extension":[{"url":"http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/backport-filter-criteria","valueString":"Encounter?state=accepted"}]},"channel":{"type":"rest-hook","endpoint":"https://x.example/h"},"end":"2030-01-01T00:00:00Z"}`,
		`{"resourceType":"Subscription","status":"requested","reason":"r","criteria":"Patient?name=x","channel":{"type":"email"}}`,
		`{"resourceType":"Subscription","status":"requested","reason":"r","criteria":"https://discharge-gateway.nhs.uk/fhir/SubscriptionTopic/task-status","_criteria":{"extension":[{"url":"http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/backport-filter-criteria","valueString":"?%zz"}]},"channel":{"type":"rest-hook","endpoint":"https://x.example/h","header":["bad\nheader"]}}`,
		`{"resourceType":"Subscription"}`, `[]`, `{`, ``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		s, err := mappings.DecodeSubscription(raw, fhir.DefaultLimits)
		if err != nil {
			var de *discharge.Error
			if !errors.As(err, &de) {
				t.Fatalf("not a discharge.Error: %v", err)
			}
			return
		}
		s.ID, s.Status, s.Created = "x", discharge.SubscriptionRequested, time.Unix(0, 0)
		s.Headers = nil
		out, err := mappings.SubscriptionToFHIR(s)
		if err != nil {
			t.Fatal(err)
		}
		back, err := mappings.DecodeSubscription(out, fhir.DefaultLimits)
		if err != nil {
			t.Fatalf("a rendered Subscription does not decode: %v\n%s", err, out)
		}
		if back.Topic != s.Topic || back.Endpoint != s.Endpoint || back.Payload != s.Payload || len(back.Filters) != len(s.Filters) ||
			back.Heartbeat != s.Heartbeat || back.Timeout != s.Timeout || back.MaxCount != s.MaxCount || !back.End.Equal(s.End) {
			t.Fatalf("round trip: %+v → %+v", s, back)
		}
	})
}

// FuzzNotificationBundle: any events render as a valid R4 history Bundle.
func FuzzNotificationBundle(f *testing.F) {
	f.Add("sub1", "Task/1", int64(3), "id-only", `{"resourceType":"Task","id":"1","status":"requested","intent":"order"}`)
	f.Add("s", "Encounter/e", int64(1), "empty", ``)
	f.Add("s", "Task/2", int64(9), "full-resource", `{"resourceType":"Task","id":"2","status":"accepted","intent":"order"}`)
	f.Fuzz(func(t *testing.T, id, focus string, n int64, content, body string) {
		res := map[string][]byte{}
		if fhir.ResourceType([]byte(body)) == "Task" {
			if _, err := fhir.Validate([]byte(body), "Task", fhir.DefaultLimits); err == nil {
				res[focus+"/_history/1"] = []byte(body)
			}
		}
		b, err := mappings.NotificationBundle(discharge.Notification{
			Subscription: discharge.Subscription{ID: id, Topic: discharge.TopicTaskStatus, Status: discharge.SubscriptionActive,
				Payload: discharge.PayloadContent(content), Events: n},
			Type:   discharge.NotifyEvent,
			Events: []discharge.SubscriptionEvent{{Number: n, At: time.Unix(1, 0), Focus: focus, Version: 1}}, Resources: res,
		}, "https://gw.example/fhir", time.Unix(2, 0))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := fhir.Validate(b, "Bundle", fhir.DefaultLimits); err != nil && validFocus(id, focus) {
			t.Fatalf("invalid notification: %v\n%s", err, b)
		}
	})
}

// validFocus: ids and references the gateway makes (the fuzzer's others
// are not FHIR ids, and the Bundle may then fail the schema).
func validFocus(id, focus string) bool {
	ok := func(s string) bool {
		if s == "" || len(s) > 64 {
			return false
		}
		for _, c := range s {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.') {
				return false
			}
		}
		return true
	}
	typ, rid, found := cut(focus)
	return ok(id) && found && (typ == "Task" || typ == "Encounter" || typ == "Location") && ok(rid)
}

func cut(s string) (string, string, bool) {
	for i := 0; i < len(s); i++ {
		if s[i] == '/' {
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}
