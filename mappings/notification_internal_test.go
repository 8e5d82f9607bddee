package mappings

import (
	"encoding/json"
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/dischargegateway/gateway/discharge"
)

// notificationBundleMaps is the map-based rendering NotificationBundle
// replaced: the oracle its output must equal (as parsed JSON) and the
// baseline of BenchmarkNotificationBundle.
func notificationBundleMaps(n discharge.Notification, base string, now time.Time) ([]byte, error) {
	s := n.Subscription
	params := []map[string]any{
		{"name": "subscription", "valueReference": map[string]any{"reference": base + "/Subscription/" + s.ID}},
		{"name": "topic", "valueCanonical": TopicCanonical(s.Topic)},
		{"name": "status", "valueCode": string(s.Status)},
		{"name": "type", "valueCode": string(n.Type)},
		{"name": "events-since-subscription-start", "valueString": strconv.FormatInt(s.Events, 10)},
	}
	var entries []map[string]any
	for _, e := range n.Events {
		part := []map[string]any{
			{"name": "event-number", "valueString": strconv.FormatInt(e.Number, 10)},
			{"name": "timestamp", "valueInstant": e.At.UTC().Format(time.RFC3339Nano)},
		}
		full := base + "/" + e.Focus
		if s.Payload != discharge.PayloadEmpty {
			part = append(part, map[string]any{"name": "focus", "valueReference": map[string]any{"reference": e.Focus}})
		}
		params = append(params, map[string]any{"name": "notification-event", "part": part})
		switch s.Payload {
		case discharge.PayloadIDOnly:
			entries = append(entries, map[string]any{"fullUrl": full,
				"request":  map[string]any{"method": "PUT", "url": e.Focus},
				"response": map[string]any{"status": "200"}})
		case discharge.PayloadFullResource:
			key := e.Focus + "/_history/" + strconv.FormatInt(e.Version, 10)
			if body, ok := n.Resources[key]; ok {
				entries = append(entries, map[string]any{"fullUrl": full, "resource": json.RawMessage(body),
					"request":  map[string]any{"method": "PUT", "url": e.Focus},
					"response": map[string]any{"status": "200"}})
			}
		}
	}
	if s.LastError != "" && (n.Type == discharge.NotifyQueryStatus || s.Status == discharge.SubscriptionError) {
		params = append(params, map[string]any{"name": "error", "valueCodeableConcept": map[string]any{"text": s.LastError}})
	}
	status := map[string]any{"resourceType": "Parameters", "id": newUUIDish(s.ID, s.Events, now),
		"meta": map[string]any{"profile": []string{profileStatus}}, "parameter": params}
	sb, err := json.Marshal(status)
	if err != nil {
		return nil, err
	}
	all := append([]map[string]any{{"fullUrl": "urn:uuid:" + newUUIDish(s.ID, s.Events, now), "resource": json.RawMessage(sb),
		"request":  map[string]any{"method": "GET", "url": "Subscription/" + s.ID + "/$status"},
		"response": map[string]any{"status": "200"}}}, entries...)
	return json.Marshal(map[string]any{"resourceType": "Bundle", "id": newUUIDish(s.ID, -s.Events, now),
		"meta": map[string]any{"profile": []string{profileNotification}}, "type": "history",
		"timestamp": now.UTC().Format(time.RFC3339Nano), "entry": all})
}

// sampleNotification is an event notification of n events with payload pc.
func sampleNotification(n int, pc discharge.PayloadContent) discharge.Notification {
	at := time.Date(2026, 11, 30, 8, 0, 0, 123456789, time.UTC)
	no := discharge.Notification{Type: discharge.NotifyEvent, Resources: map[string][]byte{},
		Subscription: discharge.Subscription{ID: "0123456789abcdef0123456789abcdef", Topic: discharge.TopicReferralOffered,
			Status: discharge.SubscriptionActive, Payload: pc, Events: int64(n)}}
	for i := 1; i <= n; i++ {
		focus := "Task/" + strconv.Itoa(1000+i)
		no.Events = append(no.Events, discharge.SubscriptionEvent{Number: int64(i), At: at.Add(time.Duration(i) * time.Millisecond),
			Focus: focus, Version: 1})
		no.Resources[focus+"/_history/1"] = []byte(`{"resourceType":"Task","id":"` + strconv.Itoa(1000+i) + `","status":"requested","intent":"order"}`)
	}
	return no
}

// The typed encoder says exactly what the map one said, for every kind
// of notification and payload, an error included.
func TestNotificationBundleMatchesMapRendering(t *testing.T) {
	now := time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
	var cases []discharge.Notification
	for _, pc := range []discharge.PayloadContent{discharge.PayloadEmpty, discharge.PayloadIDOnly, discharge.PayloadFullResource} {
		for _, n := range []int{0, 1, 10} {
			cases = append(cases, sampleNotification(n, pc))
		}
	}
	hs := sampleNotification(0, discharge.PayloadIDOnly)
	hs.Type = discharge.NotifyHandshake
	st := sampleNotification(0, discharge.PayloadIDOnly)
	st.Type, st.Subscription.Status, st.Subscription.LastError = discharge.NotifyQueryStatus, discharge.SubscriptionError, "the endpoint answered HTTP 503"
	missing := sampleNotification(3, discharge.PayloadFullResource)
	delete(missing.Resources, "Task/1002/_history/1")
	cases = append(cases, hs, st, missing)
	for i, n := range cases {
		got, err := NotificationBundle(n, "https://gw.example/fhir", now)
		if err != nil {
			t.Fatal(err)
		}
		want, err := notificationBundleMaps(n, "https://gw.example/fhir", now)
		if err != nil {
			t.Fatal(err)
		}
		var g, w any
		if err := json.Unmarshal(got, &g); err != nil {
			t.Fatal(err)
		}
		_ = json.Unmarshal(want, &w)
		if !reflect.DeepEqual(g, w) {
			t.Fatalf("case %d (%s, %s):\n got %s\nwant %s", i, n.Type, n.Subscription.Payload, got, want)
		}
	}
}

// BenchmarkNotificationBundle: the typed encoder against the map one it
// replaced (sub-benchmark "maps", the same-run baseline), for the load
// test's shape (id-only, about ten events a notification) and for
// full-resource.
func BenchmarkNotificationBundle(b *testing.B) {
	now := time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		name string
		n    discharge.Notification
	}{
		{"id-only-10", sampleNotification(10, discharge.PayloadIDOnly)},
		{"full-resource-10", sampleNotification(10, discharge.PayloadFullResource)},
	} {
		for _, impl := range []struct {
			name string
			f    func(discharge.Notification, string, time.Time) ([]byte, error)
		}{{"typed", NotificationBundle}, {"maps", notificationBundleMaps}} {
			b.Run(c.name+"/"+impl.name, func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if _, err := impl.f(c.n, "https://gw.example/fhir", now); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
