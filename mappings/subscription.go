package mappings

import (
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/fhir"
)

// The Subscriptions R5 Backport IG (STU 1.1) on R4: a Subscription's
// criteria is a topic's canonical URL, with filters in the
// backport-filter-criteria extension on _criteria; the payload content,
// heartbeat, timeout and max count are channel extensions; a notification
// is a history Bundle whose first entry is a Parameters of the
// backport-subscription-status-r4 profile.
const (
	backportBase          = "http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/"
	extFilterCriteria     = backportBase + "backport-filter-criteria"
	extPayloadContent     = backportBase + "backport-payload-content"
	extHeartbeatPeriod    = backportBase + "backport-heartbeat-period"
	extTimeout            = backportBase + "backport-timeout"
	extMaxCount           = backportBase + "backport-max-count"
	profileSubscription   = backportBase + "backport-subscription"
	profileNotification   = backportBase + "backport-subscription-notification-r4"
	profileStatus         = backportBase + "backport-subscription-status-r4"
	topicCanonicalPrefix  = "https://discharge-gateway.nhs.uk/fhir/SubscriptionTopic/"
	subscriptionHeaderMax = 10
)

// TopicCanonical is the canonical URL of a topic the gateway publishes.
func TopicCanonical(t discharge.SubscriptionTopic) string { return topicCanonicalPrefix + string(t) }

// SubscriptionTopics are the published topics, with the filter parameters
// each accepts (the CapabilityStatement lists them).
func SubscriptionTopics() []TopicInfo {
	return []TopicInfo{
		{discharge.TopicReferralOffered, "Task", "A new referral Task offered to the subscriber's organisation (care providers).", nil},
		{discharge.TopicTaskStatus, "Task", "A referral Task's status changed, for its requester (trust, hub) or its owner (care provider).", nil},
		{discharge.TopicCaseState, "Encounter", "A case's state changed, for its trust or the trust's hub.", []string{"state"}},
		{discharge.TopicCapacityPosting, "Location", "A Location posted capacity, for hubs and trusts that want it.", []string{"location"}},
	}
}

// TopicInfo describes one topic.
type TopicInfo struct {
	Topic       discharge.SubscriptionTopic
	Resource    string
	Description string
	Filters     []string
}

type extensionJSON struct {
	URL              string   `json:"url"`
	ValueString      *string  `json:"valueString,omitempty"`
	ValueCode        *string  `json:"valueCode,omitempty"`
	ValueUnsignedInt *int64   `json:"valueUnsignedInt,omitempty"`
	ValuePositiveInt *int64   `json:"valuePositiveInt,omitempty"`
	ValueCanonical   *string  `json:"valueCanonical,omitempty"`
	ValueReference   *refJSON `json:"valueReference,omitempty"`
}

type refJSON struct {
	Reference string `json:"reference"`
}

type elementJSON struct {
	Extension []extensionJSON `json:"extension,omitempty"`
}

type subscriptionJSON struct {
	ResourceType string           `json:"resourceType"`
	ID           string           `json:"id,omitempty"`
	Meta         *metaJSON        `json:"meta,omitempty"`
	Extension    []extensionJSON  `json:"extension,omitempty"`
	Status       string           `json:"status"`
	End          string           `json:"end,omitempty"`
	Reason       string           `json:"reason"`
	Criteria     string           `json:"criteria"`
	CriteriaExt  *elementJSON     `json:"_criteria,omitempty"`
	Error        string           `json:"error,omitempty"`
	Channel      subscriptionChan `json:"channel"`
}

type metaJSON struct {
	VersionID   string   `json:"versionId,omitempty"`
	LastUpdated string   `json:"lastUpdated,omitempty"`
	Profile     []string `json:"profile,omitempty"`
}

type subscriptionChan struct {
	Extension  []extensionJSON `json:"extension,omitempty"`
	Type       string          `json:"type"`
	Endpoint   string          `json:"endpoint,omitempty"`
	Payload    string          `json:"payload,omitempty"`
	PayloadExt *elementJSON    `json:"_payload,omitempty"`
	Header     []string        `json:"header,omitempty"`
}

// DecodeSubscription validates a Subscription body (fhir.Validate, within
// lim) and reads the subscriber's request: topic, filters, endpoint,
// payload, headers, heartbeat, timeout, max count, end. It decides nothing
// about tenancy or endpoint safety (subscription.Service does); every
// error names its element.
func DecodeSubscription(raw []byte, lim fhir.Limits) (discharge.Subscription, error) {
	var out discharge.Subscription
	if _, err := fhir.Validate(raw, "Subscription", lim); err != nil {
		return out, err
	}
	var s subscriptionJSON
	if err := json.Unmarshal(raw, &s); err != nil {
		return out, discharge.E(discharge.KindStructure, "Subscription", "The Subscription does not decode.")
	}
	var issues discharge.Issues
	topic, ok := strings.CutPrefix(s.Criteria, topicCanonicalPrefix)
	if !ok || !knownTopic(discharge.SubscriptionTopic(topic)) {
		issues.Add(discharge.KindCodeInvalid, "Subscription.criteria",
			"Subscription.criteria must be the canonical URL of a published topic ("+topicCanonicalPrefix+"<topic>; see the CapabilityStatement).")
	}
	out.Topic = discharge.SubscriptionTopic(topic)
	out.Filters = map[string]string{}
	if s.CriteriaExt != nil {
		for i, e := range s.CriteriaExt.Extension {
			at := fmt.Sprintf("Subscription.criteria.extension[%d]", i)
			if e.URL != extFilterCriteria {
				continue
			}
			if e.ValueString == nil {
				issues.Add(discharge.KindRequired, at+".valueString", "A filter criterion is a valueString such as Encounter?state=placed.")
				continue
			}
			typ, q, ok := strings.Cut(*e.ValueString, "?")
			vals, err := url.ParseQuery(q)
			if !ok || typ == "" || err != nil || len(vals) == 0 {
				issues.Add(discharge.KindValue, at+".valueString", "A filter criterion is Type?param=value.")
				continue
			}
			for name, v := range vals {
				if len(v) != 1 || v[0] == "" {
					issues.Add(discharge.KindValue, at+".valueString", "Each filter parameter takes one value.")
					continue
				}
				out.Filters[name] = v[0]
			}
		}
	}
	if s.Channel.Type != "rest-hook" {
		issues.Add(discharge.KindNotSupported, "Subscription.channel.type", "Only the rest-hook channel is supported.")
	}
	out.Endpoint = s.Channel.Endpoint
	if out.Endpoint == "" {
		issues.Add(discharge.KindRequired, "Subscription.channel.endpoint", "A rest-hook Subscription needs an endpoint.")
	}
	if s.Channel.Payload != "" && s.Channel.Payload != "application/fhir+json" && s.Channel.Payload != "application/json" {
		issues.Add(discharge.KindNotSupported, "Subscription.channel.payload", "Notifications are sent as application/fhir+json.")
	}
	out.Payload = discharge.PayloadIDOnly
	if s.Channel.PayloadExt != nil {
		for i, e := range s.Channel.PayloadExt.Extension {
			if e.URL != extPayloadContent {
				continue
			}
			switch c := discharge.PayloadContent(deref(e.ValueCode)); c {
			case discharge.PayloadEmpty, discharge.PayloadIDOnly, discharge.PayloadFullResource:
				out.Payload = c
			default:
				issues.Add(discharge.KindCodeInvalid, fmt.Sprintf("Subscription.channel.payload.extension[%d].valueCode", i),
					"The payload content is empty, id-only or full-resource.")
			}
		}
	}
	if len(s.Channel.Header) > subscriptionHeaderMax {
		issues.Add(discharge.KindTooLarge, "Subscription.channel.header", fmt.Sprintf("At most %d headers.", subscriptionHeaderMax))
	}
	for i, h := range s.Channel.Header {
		name, _, ok := strings.Cut(h, ":")
		if !ok || strings.TrimSpace(name) == "" || strings.ContainsAny(h, "\r\n") || strings.ContainsAny(strings.TrimSpace(name), " \t") {
			issues.Add(discharge.KindValue, fmt.Sprintf("Subscription.channel.header[%d]", i), "A header is \"Name: value\".")
			continue
		}
		out.Headers = append(out.Headers, h)
	}
	for i, e := range s.Channel.Extension {
		at := fmt.Sprintf("Subscription.channel.extension[%d]", i)
		switch e.URL {
		case extHeartbeatPeriod:
			if e.ValueUnsignedInt == nil || *e.ValueUnsignedInt > 86400 {
				issues.Add(discharge.KindValue, at+".valueUnsignedInt", "The heartbeat period is seconds, at most 86400.")
				continue
			}
			out.Heartbeat = time.Duration(*e.ValueUnsignedInt) * time.Second
		case extTimeout:
			if e.ValueUnsignedInt == nil || *e.ValueUnsignedInt > 60 {
				issues.Add(discharge.KindValue, at+".valueUnsignedInt", "The timeout is seconds, at most 60.")
				continue
			}
			out.Timeout = time.Duration(*e.ValueUnsignedInt) * time.Second
		case extMaxCount:
			if e.ValuePositiveInt == nil || *e.ValuePositiveInt > 100 {
				issues.Add(discharge.KindValue, at+".valuePositiveInt", "The max count is at most 100.")
				continue
			}
			out.MaxCount = int(*e.ValuePositiveInt)
		}
	}
	if s.End != "" {
		t, err := time.Parse(time.RFC3339, s.End)
		if err != nil {
			issues.Add(discharge.KindValue, "Subscription.end", "Subscription.end must be an instant with a time zone.")
		}
		out.End = t
	}
	out.Reason = s.Reason
	if err := issues.Err(discharge.KindInvalid, "mappings.DecodeSubscription"); err != nil {
		return discharge.Subscription{}, err
	}
	return out, nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func knownTopic(t discharge.SubscriptionTopic) bool {
	for _, ti := range SubscriptionTopics() {
		if ti.Topic == t {
			return true
		}
	}
	return false
}

// TopicFilters are the filter parameters a topic accepts.
func TopicFilters(t discharge.SubscriptionTopic) []string {
	for _, ti := range SubscriptionTopics() {
		if ti.Topic == t {
			return ti.Filters
		}
	}
	return nil
}

// TopicResource is the resource type a topic's filters and foci are about.
func TopicResource(t discharge.SubscriptionTopic) string {
	for _, ti := range SubscriptionTopics() {
		if ti.Topic == t {
			return ti.Resource
		}
	}
	return ""
}

// SubscriptionToFHIR renders a stored Subscription as R4 with the Backport
// profile. Header values are not echoed (they may be bearer tokens): only
// their names, with the value masked. The secret is never rendered.
func SubscriptionToFHIR(s discharge.Subscription) ([]byte, error) {
	out := subscriptionJSON{
		ResourceType: "Subscription", ID: s.ID,
		Meta:     &metaJSON{VersionID: "1", LastUpdated: s.Created.UTC().Format(time.RFC3339Nano), Profile: []string{profileSubscription}},
		Status:   string(s.Status),
		Reason:   s.Reason,
		Criteria: TopicCanonical(s.Topic),
		Error:    s.LastError,
		Channel:  subscriptionChan{Type: "rest-hook", Endpoint: s.Endpoint, Payload: "application/fhir+json"},
	}
	if out.Reason == "" {
		out.Reason = "Notifications of " + string(s.Topic)
	}
	if !s.End.IsZero() {
		out.End = s.End.UTC().Format(time.RFC3339)
	}
	if len(s.Filters) > 0 {
		out.CriteriaExt = &elementJSON{}
		res := TopicResource(s.Topic)
		for _, k := range sortedKeys(s.Filters) {
			v := res + "?" + url.Values{k: {s.Filters[k]}}.Encode()
			out.CriteriaExt.Extension = append(out.CriteriaExt.Extension, extensionJSON{URL: extFilterCriteria, ValueString: &v})
		}
	}
	pc := string(s.Payload)
	out.Channel.PayloadExt = &elementJSON{Extension: []extensionJSON{{URL: extPayloadContent, ValueCode: &pc}}}
	if s.Heartbeat > 0 {
		v := int64(s.Heartbeat / time.Second)
		out.Channel.Extension = append(out.Channel.Extension, extensionJSON{URL: extHeartbeatPeriod, ValueUnsignedInt: &v})
	}
	if s.Timeout > 0 {
		v := int64(s.Timeout / time.Second)
		out.Channel.Extension = append(out.Channel.Extension, extensionJSON{URL: extTimeout, ValueUnsignedInt: &v})
	}
	if s.MaxCount > 0 {
		v := int64(s.MaxCount)
		out.Channel.Extension = append(out.Channel.Extension, extensionJSON{URL: extMaxCount, ValuePositiveInt: &v})
	}
	for _, h := range s.Headers {
		name, _, _ := strings.Cut(h, ":")
		out.Channel.Header = append(out.Channel.Header, strings.TrimSpace(name)+": ***")
	}
	return json.Marshal(out)
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	for i := 1; i < len(keys); i++ {
		for j := i; j > 0 && keys[j] < keys[j-1]; j-- {
			keys[j], keys[j-1] = keys[j-1], keys[j]
		}
	}
	return keys
}

// NotificationBundle renders a notification (handshake, heartbeat, event,
// or the answer to $status and $events) as the Backport IG's R4
// notification: a history Bundle whose first entry is the
// SubscriptionStatus Parameters, then one entry per focus (a fullUrl for
// id-only, the resource for full-resource, nothing for empty).
//
// It encodes typed structs, not nested maps: the Deliverer renders one
// per delivery, and with maps json.Marshal sorted the keys of every
// object and the status Parameters was encoded twice (once alone, then
// compacted again as raw JSON). BenchmarkNotificationBundle measures it
// against the map rendering it replaced (kept in the test as the
// oracle).
func NotificationBundle(n discharge.Notification, base string, now time.Time) ([]byte, error) {
	s := n.Subscription
	params := make([]notifyParam, 0, 6+len(n.Events))
	params = append(params,
		notifyParam{Name: "subscription", ValueReference: &refJSON{Reference: base + "/Subscription/" + s.ID}},
		notifyParam{Name: "topic", ValueCanonical: TopicCanonical(s.Topic)},
		notifyParam{Name: "status", ValueCode: string(s.Status)},
		notifyParam{Name: "type", ValueCode: string(n.Type)},
		notifyParam{Name: "events-since-subscription-start", ValueString: strconv.FormatInt(s.Events, 10)})
	entries := make([]notifyEntry, 1, 1+len(n.Events))
	for _, e := range n.Events {
		part := []notifyParam{
			{Name: "event-number", ValueString: strconv.FormatInt(e.Number, 10)},
			{Name: "timestamp", ValueInstant: e.At.UTC().Format(time.RFC3339Nano)},
		}
		if s.Payload != discharge.PayloadEmpty {
			part = append(part, notifyParam{Name: "focus", ValueReference: &refJSON{Reference: e.Focus}})
		}
		params = append(params, notifyParam{Name: "notification-event", Part: part})
		full := base + "/" + e.Focus
		switch s.Payload {
		case discharge.PayloadIDOnly:
			entries = append(entries, notifyEntry{FullURL: full, Request: notifyRequest{"PUT", e.Focus}, Response: notifyOK})
		case discharge.PayloadFullResource:
			key := e.Focus + "/_history/" + strconv.FormatInt(e.Version, 10)
			if body, ok := n.Resources[key]; ok {
				entries = append(entries, notifyEntry{FullURL: full, Resource: json.RawMessage(body),
					Request: notifyRequest{"PUT", e.Focus}, Response: notifyOK})
			}
		}
	}
	if s.LastError != "" && (n.Type == discharge.NotifyQueryStatus || s.Status == discharge.SubscriptionError) {
		params = append(params, notifyParam{Name: "error", ValueCodeableConcept: &textJSON{Text: s.LastError}})
	}
	statusID := newUUIDish(s.ID, s.Events, now)
	entries[0] = notifyEntry{FullURL: "urn:uuid:" + statusID,
		Resource: &notifyStatus{ResourceType: "Parameters", ID: statusID, Meta: notifyMeta{Profile: []string{profileStatus}}, Parameter: params},
		Request:  notifyRequest{"GET", "Subscription/" + s.ID + "/$status"}, Response: notifyOK}
	return json.Marshal(notifyBundle{ResourceType: "Bundle", ID: newUUIDish(s.ID, -s.Events, now),
		Meta: notifyMeta{Profile: []string{profileNotification}}, Type: "history",
		Timestamp: now.UTC().Format(time.RFC3339Nano), Entry: entries})
}

// The notification Bundle's shapes (NotificationBundle).
type (
	notifyBundle struct {
		ResourceType string        `json:"resourceType"`
		ID           string        `json:"id"`
		Meta         notifyMeta    `json:"meta"`
		Type         string        `json:"type"`
		Timestamp    string        `json:"timestamp"`
		Entry        []notifyEntry `json:"entry"`
	}
	notifyMeta struct {
		Profile []string `json:"profile"`
	}
	notifyEntry struct {
		FullURL  string         `json:"fullUrl"`
		Resource any            `json:"resource,omitempty"`
		Request  notifyRequest  `json:"request"`
		Response notifyResponse `json:"response"`
	}
	notifyRequest struct {
		Method string `json:"method"`
		URL    string `json:"url"`
	}
	notifyResponse struct {
		Status string `json:"status"`
	}
	notifyStatus struct {
		ResourceType string        `json:"resourceType"`
		ID           string        `json:"id"`
		Meta         notifyMeta    `json:"meta"`
		Parameter    []notifyParam `json:"parameter"`
	}
	// notifyParam is a Parameters.parameter: a name and one value[x]
	// (each non-empty one is the value; NotificationBundle sets one) or
	// parts.
	notifyParam struct {
		Name                 string        `json:"name"`
		ValueReference       *refJSON      `json:"valueReference,omitempty"`
		ValueCanonical       string        `json:"valueCanonical,omitempty"`
		ValueCode            string        `json:"valueCode,omitempty"`
		ValueString          string        `json:"valueString,omitempty"`
		ValueInstant         string        `json:"valueInstant,omitempty"`
		ValueCodeableConcept *textJSON     `json:"valueCodeableConcept,omitempty"`
		Part                 []notifyParam `json:"part,omitempty"`
	}
	textJSON struct {
		Text string `json:"text"`
	}
)

var notifyOK = notifyResponse{Status: "200"}

// newUUIDish is a UUID-shaped id unique per subscription, event count and
// instant (not random, so a rendering is reproducible in tests).
func newUUIDish(id string, n int64, now time.Time) string {
	h := fnv64(id + "/" + strconv.FormatInt(n, 10) + "/" + strconv.FormatInt(now.UnixNano(), 10))
	g := fnv64(strconv.FormatUint(h, 16) + id)
	var raw [16]byte
	binary.BigEndian.PutUint64(raw[:8], h)
	binary.BigEndian.PutUint64(raw[8:], g)
	x := hex.EncodeToString(raw[:])
	return x[0:8] + "-" + x[8:12] + "-4" + x[13:16] + "-8" + x[17:20] + "-" + x[20:32]
}

func fnv64(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}
