package gateway_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dischargegateway/gateway/adapters/sqlstore"
	"github.com/dischargegateway/gateway/auth"
	"github.com/dischargegateway/gateway/fhir"
	"github.com/dischargegateway/gateway/mappings"
	"github.com/dischargegateway/gateway/records"
	"github.com/dischargegateway/gateway/referral"
	"github.com/dischargegateway/gateway/subscription"
)

const subscriptionScopes = " system/Subscription.crds"

// hookReceiver is a subscriber's endpoint: it keeps each notification
// Bundle it is sent, with when it arrived.
type hookReceiver struct {
	srv  *httptest.Server
	mu   sync.Mutex
	got  []map[string]any
	when []time.Time
}

func newHookReceiver(t *testing.T) *hookReceiver {
	h := &hookReceiver{}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var b map[string]any
		if err := json.Unmarshal(body, &b); err != nil {
			t.Errorf("notification is not JSON: %s", body)
		}
		h.mu.Lock()
		h.got, h.when = append(h.got, b), append(h.when, time.Now())
		h.mu.Unlock()
	}))
	t.Cleanup(h.srv.Close)
	return h
}

// waitFocus waits for an event notification naming focus and returns the
// Bundle and when it arrived.
func (h *hookReceiver) waitFocus(t *testing.T, focus string, within time.Duration) (map[string]any, time.Time) {
	t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		h.mu.Lock()
		for i, b := range h.got {
			if strings.Contains(asJSON(b), `"reference":"`+focus+`"`) {
				at := h.when[i] // read under the lock: the handler appends to it
				h.mu.Unlock()
				return b, at
			}
		}
		h.mu.Unlock()
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("no notification of %s within %v", focus, within)
	return nil, time.Time{}
}

func (h *hookReceiver) count() int { h.mu.Lock(); defer h.mu.Unlock(); return len(h.got) }

func asJSON(v any) string { b, _ := json.Marshal(v); return string(b) }

func subscriptionBody(topic, endpoint, content string, filters ...string) map[string]any {
	crit := map[string]any{}
	if len(filters) > 0 {
		var ext []any
		for _, f := range filters {
			ext = append(ext, map[string]any{"url": "http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/backport-filter-criteria",
				"valueString": f})
		}
		crit["extension"] = ext
	}
	b := map[string]any{"resourceType": "Subscription", "status": "requested", "reason": "test",
		"criteria": "https://discharge-gateway.nhs.uk/fhir/SubscriptionTopic/" + topic,
		"channel": map[string]any{"type": "rest-hook", "endpoint": endpoint, "payload": "application/fhir+json",
			"_payload": map[string]any{"extension": []any{map[string]any{
				"url": "http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/backport-payload-content", "valueCode": content}}},
			"header": []any{"Authorization: Bearer receivers-own-token"}}}
	if len(crit) > 0 {
		b["_criteria"] = crit
	}
	return b
}

// runDeliverer runs a Deliverer on the env's record until the test ends.
func runDeliverer(t *testing.T, e *env) {
	ref := referral.New(sqlstore.NewReferral(e.record), referral.Options{})
	subs := sqlstore.NewSubscriptions(e.record)
	d := subscription.NewDeliverer(subs, taskReaderFunc(ref.VRead), subscription.DelivererConfig{
		Records: records.New(records.Config{}, records.Deps{Store: e.record}),
		BaseURL: e.srv.URL + "/fhir", Endpoints: subscription.EndpointPolicy{AllowHosts: []string{"127.0.0.1"}},
		Poll: 20 * time.Millisecond, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { d.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done; subs.Close() })
}

// taskReaderFunc is a subscription.Reader from a function: the referral
// service's VRead, as internal/wiring adapts it.
type taskReaderFunc func(ctx context.Context, p *auth.Principal, id, vid string) (fhir.Resource, error)

func (f taskReaderFunc) ReadTaskVersion(ctx context.Context, p *auth.Principal, id, vid string) (fhir.Resource, error) {
	return f(ctx, p, id, vid)
}

// The "done when": a care home subscribed to its referrals hears
// of a new referral within a second of the trust sending it, with the
// Task as it may read it; it reads the pack and accepts; the hub's
// subscription hears of the acceptance. Another home hears nothing.
func TestSubscriptionReferralLoop(t *testing.T) {
	w := newReferralWorld(t)
	e := w.e
	homeTok := e.tokenFor("home-sub", auth.RoleCareProvider, "1-000000001", taskHomeScopes+subscriptionScopes)
	otherTok := e.tokenFor("home-sub-2", auth.RoleCareProvider, "1-000000002", taskHomeScopes+subscriptionScopes)
	hubTok := e.tokenFor("hub-sub", auth.RoleHub, "QXH", taskHubScopes+subscriptionScopes, "RXA")
	home, other, hub := newHookReceiver(t), newHookReceiver(t), newHookReceiver(t)
	created := e.do("POST", "/fhir/Subscription", subscriptionBody("referral-offered", home.srv.URL, "full-resource"),
		bearer(homeTok)...).mustStatus(t, http.StatusCreated)
	if created.header.Get("X-Subscription-Secret") == "" || strings.Contains(string(created.body), "receivers-own-token") {
		t.Fatalf("secret header %q; body %s", created.header.Get("X-Subscription-Secret"), created.body)
	}
	e.do("POST", "/fhir/Subscription", subscriptionBody("referral-offered", other.srv.URL, "id-only"), bearer(otherTok)...).
		mustStatus(t, http.StatusCreated)
	e.do("POST", "/fhir/Subscription", subscriptionBody("task-status", hub.srv.URL, "id-only"), bearer(hubTok)...).
		mustStatus(t, http.StatusCreated)
	runDeliverer(t, e)
	task := w.send(t, 0)
	sent := time.Now()
	id := str(task.json, "id")
	// Within a second, the figure; under the race detector (several
	// times slower) within five, the second being checked by the passes
	// without it.
	within := time.Second
	if raceDetector {
		within = 5 * time.Second
	}
	b, at := home.waitFocus(t, "Task/"+id, 5*time.Second)
	if el := at.Sub(sent); el > within {
		t.Errorf("the referral reached the home %v after it was sent", el)
	}
	if str(b, "type") != "history" || !strings.Contains(asJSON(b), `"resourceType":"Task"`) {
		t.Fatalf("notification: %s", asJSON(b))
	}
	e.do("GET", "/fhir/Task/"+id+"/$referral-pack", nil, bearer(homeTok)...).mustStatus(t, http.StatusOK)
	e.do("PUT", "/fhir/Task/"+id, w.answer(task.json, 0, "accepted"), append(bearer(homeTok), "If-Match", `W/"1"`)...).
		mustStatus(t, http.StatusOK)
	accepted := time.Now()
	_, at = hub.waitFocus(t, "Task/"+id, 5*time.Second)
	if el := at.Sub(accepted); el > within {
		t.Errorf("the acceptance reached the hub %v after it", el)
	}
	time.Sleep(100 * time.Millisecond)
	for _, b := range other.got {
		if strings.Contains(asJSON(b), "Task/"+id) {
			t.Fatalf("another home heard of the referral: %s", asJSON(b))
		}
	}
}

// Create, read, search, $status, $events and delete, each organisation
// seeing only its own; unsafe endpoints, topics beyond the role and
// filters a topic lacks are refused, naming the element.
func TestSubscriptionManagement(t *testing.T) {
	e := newEnv(t)
	home := e.tokenFor("home-1", auth.RoleCareProvider, "1-000000001", "system/Subscription.crds")
	other := e.tokenFor("home-2", auth.RoleCareProvider, "1-000000002", "system/Subscription.crds")
	trust := e.tokenFor("trust-a", auth.RoleTrust, "RXA", "system/Subscription.crds")
	noScope := e.tokenFor("home-3", auth.RoleCareProvider, "1-000000003", "system/Task.rs")
	r := e.do("POST", "/fhir/Subscription/", subscriptionBody("referral-offered", "https://203.0.113.7/hook", "id-only"), bearer(home)...).
		mustStatus(t, http.StatusCreated)
	id := str(r.json, "id")
	if str(r.json, "status") != "requested" || r.header.Get("Location") == "" {
		t.Fatalf("created: %s %v", r.body, r.header)
	}
	e.do("GET", "/fhir/Subscription/"+id, nil, bearer(home)...).mustStatus(t, http.StatusOK)
	e.do("HEAD", "/fhir/Subscription/"+id, nil, bearer(home)...).mustStatus(t, http.StatusOK)
	e.do("GET", "/fhir/Subscription/"+id, nil, bearer(other)...).mustStatus(t, http.StatusNotFound)
	s := e.do("GET", "/fhir/Subscription", nil, bearer(home)...).mustStatus(t, http.StatusOK)
	if n, _ := s.json["total"].(float64); n != 1 {
		t.Fatalf("search: %s", s.body)
	}
	if s := e.do("GET", "/fhir/Subscription", nil, bearer(other)...).mustStatus(t, http.StatusOK); s.json["total"].(float64) != 0 {
		t.Fatalf("another organisation's search: %s", s.body)
	}
	st := e.do("GET", "/fhir/Subscription/"+id+"/$status", nil, bearer(home)...).mustStatus(t, http.StatusOK)
	if !strings.Contains(string(st.body), `"query-status"`) || str(st.json, "type") != "history" {
		t.Fatalf("$status: %s", st.body)
	}
	e.do("GET", "/fhir/Subscription/"+id+"/$events?eventsSinceNumber=1", nil, bearer(home)...).mustStatus(t, http.StatusOK)
	e.do("POST", "/fhir/Subscription/"+id+"/$events", map[string]any{"resourceType": "Parameters", "parameter": []any{
		map[string]any{"name": "eventsSinceNumber", "valueString": "1"}}}, bearer(home)...).mustStatus(t, http.StatusOK)
	for _, c := range []struct {
		name, tok string
		body      map[string]any
		status    int
		expr      string
	}{
		{"plain http", home, subscriptionBody("referral-offered", "http://example.org/hook", "id-only"), 400, "Subscription.channel.endpoint"},
		{"private address", home, subscriptionBody("referral-offered", "https://10.1.2.3/hook", "id-only"), 400, "Subscription.channel.endpoint"},
		{"loopback name", home, subscriptionBody("referral-offered", "https://localhost/hook", "id-only"), 400, "Subscription.channel.endpoint"},
		{"link-local", home, subscriptionBody("referral-offered", "https://[fe80::1]/hook", "id-only"), 400, "Subscription.channel.endpoint"},
		{"unknown topic", home, subscriptionBody("everything", "https://203.0.113.7/hook", "id-only"), 400, "Subscription.criteria"},
		{"topic beyond role", home, subscriptionBody("case-state", "https://203.0.113.7/hook", "id-only"), 403, "Subscription.criteria"},
		{"filter the topic lacks", trust, subscriptionBody("case-state", "https://203.0.113.7/hook", "id-only", "Encounter?owner=X"), 400, "Subscription.criteria.extension"},
		{"full resource of a case without Encounter read", trust, subscriptionBody("case-state", "https://203.0.113.7/hook", "full-resource"), 403, "Subscription.channel.payload"},
		{"no scope", noScope, subscriptionBody("referral-offered", "https://203.0.113.7/hook", "id-only"), 403, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := e.do("POST", "/fhir/Subscription", c.body, bearer(c.tok)...)
			if r.status != c.status {
				t.Fatalf("status %d, want %d: %s", r.status, c.status, r.body)
			}
			if c.expr != "" && !strings.Contains(string(r.body), `"`+c.expr) {
				t.Fatalf("no expression %s: %s", c.expr, r.body)
			}
		})
	}
	e.do("POST", "/fhir/Subscription", subscriptionBody("case-state", "https://203.0.113.7/hook", "id-only", "Encounter?state=accepted"),
		bearer(trust)...).mustStatus(t, http.StatusCreated)
	e.do("DELETE", "/fhir/Subscription/"+id, nil, bearer(other)...).mustStatus(t, http.StatusNotFound)
	e.do("DELETE", "/fhir/Subscription/"+id, nil, bearer(home)...).mustStatus(t, http.StatusNoContent)
	e.do("GET", "/fhir/Subscription/"+id, nil, bearer(home)...).mustStatus(t, http.StatusNotFound)
}

// The topics are published as the Backport IG's R4 SubscriptionTopics: the
// CapabilityStatement names each canonical, each resolves (Basic?url=) to
// a Basic whose artifact-url is that canonical and whose canFilterBy are
// the filters a Subscription may use; code, _id and unknown ids behave.
func TestSubscriptionTopicsPublished(t *testing.T) {
	e := newEnv(t)
	md := e.do("GET", "/fhir/metadata", nil, "Authorization", "").mustStatus(t, http.StatusOK)
	var canonicals []string
	for _, rs := range md.json["rest"].([]any)[0].(map[string]any)["resource"].([]any) {
		if str(rs, "type") != "Subscription" {
			continue
		}
		exts, _ := rs.(map[string]any)["extension"].([]any)
		for _, x := range exts {
			if strings.HasSuffix(str(x, "url"), "/capabilitystatement-subscriptiontopic-canonical") {
				canonicals = append(canonicals, str(x, "valueCanonical"))
			}
		}
	}
	if len(canonicals) != len(mappings.SubscriptionTopics()) {
		t.Fatalf("CapabilityStatement lists %d topics: %v", len(canonicals), canonicals)
	}
	for i, canonical := range canonicals {
		ti := mappings.SubscriptionTopics()[i]
		found := e.do("GET", "/fhir/Basic?url="+url.QueryEscape(canonical), nil, "Authorization", "").mustStatus(t, http.StatusOK)
		if n, _ := found.json["total"].(float64); n != 1 {
			t.Fatalf("%s: %s", canonical, found.body)
		}
		b := found.json["entry"].([]any)[0].(map[string]any)["resource"]
		if str(b, "resourceType") != "Basic" || str(b, "code", "coding", 0, "code") != "SubscriptionTopic" {
			t.Fatalf("%s: %v", canonical, b)
		}
		var artifact string
		var filters []string
		for _, x := range b.(map[string]any)["extension"].([]any) {
			switch u := str(x, "url"); {
			case strings.HasSuffix(u, "/artifact-url"):
				artifact = str(x, "valueUri")
			case strings.HasSuffix(u, "SubscriptionTopic.canFilterBy"):
				for _, p := range x.(map[string]any)["extension"].([]any) {
					if str(p, "url") == "filterParameter" {
						filters = append(filters, str(p, "valueString"))
					}
				}
			}
		}
		if artifact != canonical || strings.Join(filters, ",") != strings.Join(ti.Filters, ",") {
			t.Fatalf("%s: artifact-url %q, filters %v, want %v", canonical, artifact, filters, ti.Filters)
		}
		read := e.do("GET", "/fhir/Basic/"+str(b, "id"), nil, "Authorization", "").mustStatus(t, http.StatusOK)
		if str(read.json, "id") != str(b, "id") || str(read.json, "resourceType") != "Basic" {
			t.Fatalf("read %s: %s", str(b, "id"), read.body)
		}
	}
	for _, c := range []struct {
		query string
		total int
	}{
		{"code=SubscriptionTopic", len(canonicals)},
		{"code=http://hl7.org/fhir/fhir-types|SubscriptionTopic", len(canonicals)},
		{"code=http://example.org|SubscriptionTopic", 0},
		{"code=Other", 0},
		{"_id=case-state", 1},
		{"_id=case-state,task-status", 2},
		{"url=https://example.org/nothing", 0},
	} {
		r := e.do("GET", "/fhir/Basic?"+c.query, nil, "Authorization", "").mustStatus(t, http.StatusOK)
		if n, _ := r.json["total"].(float64); int(n) != c.total {
			t.Errorf("Basic?%s: total %v, want %d", c.query, r.json["total"], c.total)
		}
	}
	e.do("GET", "/fhir/Basic/no-such-topic", nil, "Authorization", "").mustStatus(t, http.StatusNotFound)
	strict := e.do("GET", "/fhir/Basic?subject=x", nil, "Authorization", "", "Prefer", "handling=strict")
	if strict.status != http.StatusBadRequest || !strings.Contains(string(strict.body), `"subject"`) {
		t.Fatalf("strict unknown parameter: %d %s", strict.status, strict.body)
	}
}

// full-resource for the case and capacity topics: the hub of the case's
// trust gets the Encounter as its read shows it, another hub hears
// nothing; a trust subscribed to capacity postings gets the Location.
func TestSubscriptionFullResourceCaseAndCapacity(t *testing.T) {
	w := newReferralWorld(t)
	e := w.e
	hubTok := e.tokenFor("hub-sub", auth.RoleHub, "QXH", taskHubScopes+subscriptionScopes, "RXA")
	otherHubTok := e.tokenFor("hub-sub-b", auth.RoleHub, "QXB", taskHubScopes+subscriptionScopes, "RXB")
	trustTok := e.tokenFor("trust-sub", auth.RoleTrust, "RXA", "system/Location.rs"+subscriptionScopes)
	hub, otherHub, trust := newHookReceiver(t), newHookReceiver(t), newHookReceiver(t)
	e.do("POST", "/fhir/Subscription", subscriptionBody("case-state", hub.srv.URL, "full-resource"), bearer(hubTok)...).
		mustStatus(t, http.StatusCreated)
	e.do("POST", "/fhir/Subscription", subscriptionBody("case-state", otherHub.srv.URL, "full-resource"), bearer(otherHubTok)...).
		mustStatus(t, http.StatusCreated)
	e.do("POST", "/fhir/Subscription", subscriptionBody("capacity-posting", trust.srv.URL, "full-resource",
		"Location?location="+strings.TrimPrefix(w.homes[0].loc, "Location/")), bearer(trustTok)...).mustStatus(t, http.StatusCreated)
	runDeliverer(t, e)
	w.send(t, 0) // the case moves on: an offer is out
	b, _ := hub.waitFocus(t, w.encounter, 5*time.Second)
	enc := fullResource(b, w.encounter)
	if str(enc, "resourceType") != "Encounter" || "Encounter/"+str(enc, "id") != w.encounter {
		t.Fatalf("the hub's notification has no Encounter: %s", asJSON(b))
	}
	body := map[string]any{"asOf": time.Now().UTC().Format(time.RFC3339), "beds": []any{map[string]any{
		"type": "nursing-dementia", "maxCapacity": 30, "occupied": 28, "reserved": 0, "acceptingAdmissions": 1}}}
	e.do("PUT", "/api/v1/capacity/"+strings.TrimPrefix(w.homes[0].loc, "Location/"), body, "Authorization", "Bearer "+w.homes[0].token,
		"Content-Type", "application/json").mustStatus(t, http.StatusOK)
	b, _ = trust.waitFocus(t, w.homes[0].loc, 5*time.Second)
	if loc := fullResource(b, w.homes[0].loc); str(loc, "resourceType") != "Location" {
		t.Fatalf("the trust's notification has no Location: %s", asJSON(b))
	}
	time.Sleep(100 * time.Millisecond)
	otherHub.mu.Lock()
	defer otherHub.mu.Unlock()
	for _, b := range otherHub.got {
		if strings.Contains(asJSON(b), w.encounter) {
			t.Fatalf("another trust's hub heard of the case: %s", asJSON(b))
		}
	}
}

// fullResource is the resource of the notification entry whose request
// names focus.
func fullResource(b map[string]any, focus string) any {
	for _, en := range b["entry"].([]any) {
		if str(en, "request", "url") == focus {
			return en.(map[string]any)["resource"]
		}
	}
	return nil
}
