package mappings

import (
	"encoding/json"
	"strings"
)

// SubscriptionTopics in R4. R4 has no SubscriptionTopic resource; the
// Subscriptions R5 Backport IG (STU 1.2, "topics in R4") publishes a topic
// as a Basic resource whose Basic.code is fhir-types#SubscriptionTopic and
// whose elements are the R5 cross-version extensions
// (http://hl7.org/fhir/5.0/StructureDefinition/extension-SubscriptionTopic.*),
// its canonical URL in artifact-url and its status in the artifact-status
// modifier extension (IG example Basic/r4-encounter-complete). A client
// finds the topics through the CapabilityStatement
// (capabilitystatement-subscriptiontopic-canonical on the Subscription
// entry) and reads each as Basic/{topic}.
const (
	xverTopic           = "http://hl7.org/fhir/5.0/StructureDefinition/extension-SubscriptionTopic."
	extArtifactURL      = "http://hl7.org/fhir/StructureDefinition/artifact-url"
	extArtifactStatus   = "http://hl7.org/fhir/StructureDefinition/artifact-status"
	profileTopicBasic   = "http://hl7.org/fhir/5.0/StructureDefinition/profile-SubscriptionTopic"
	fhirTypesSystem     = "http://hl7.org/fhir/fhir-types"
	extTopicCanonicalCS = "http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/capabilitystatement-subscriptiontopic-canonical"
	backportOperations  = "http://hl7.org/fhir/uv/subscriptions-backport/OperationDefinition/"
	// topicVersion and topicDate are the topics' business version and
	// date: bump them when a topic's trigger or filters change.
	topicVersion = "1.0.0"
	topicDate    = "2026-11-30"
)

// The Backport IG's operations on Subscription, as the CapabilityStatement
// names them.
const (
	SubscriptionStatusOperation = backportOperations + "backport-subscription-status"
	SubscriptionEventsOperation = backportOperations + "backport-subscription-events"
)

// TopicBasicType is the resource type a topic is published as in R4, and
// TopicCode the Basic.code every topic carries.
const (
	TopicBasicType = "Basic"
	TopicCode      = "SubscriptionTopic"
	// TopicCodeSystem is TopicCode's system.
	TopicCodeSystem = fhirTypesSystem
)

// topicTrigger says, per topic, what fires it (the R5
// SubscriptionTopic.resourceTrigger) and how each filter is described
// (canFilterBy), for the published Basic. SubscriptionTopics keeps the
// short description and the filter names every other part reads.
var topicTrigger = map[string]struct {
	title, trigger string
	interactions   []string
	filterDoc      map[string]string
}{
	"referral-offered": {"Referral offered",
		"A referral Task (Task.code = fulfill) is created with the subscriber's organisation as Task.owner.",
		[]string{"create"}, nil},
	"task-status": {"Referral Task status change",
		"A referral Task is updated after its creation (Task.status or Task.businessStatus changes: accepted, declined, expired, confirmed, cancelled), and the subscriber owns it (care provider) or requested it (the trust, or a hub of the trust).",
		[]string{"update"}, nil},
	"case-state": {"Discharge case state change",
		"A discharge case (the Encounter the trust sent) moves to another state, for the trust's own cases or a hub's member trusts'.",
		[]string{"create", "update"},
		map[string]string{"state": "The case state the case moved to (a code of the gateway's case-state CodeSystem, e.g. placed)."}},
	"capacity-posting": {"Capacity posting",
		"A care provider's Location posts its capacity (a MeasureReport for the Location).",
		[]string{"create"},
		map[string]string{"location": "The Location that posted, as its id or Location/{id}."}},
}

// SubscriptionTopicBasic renders a topic as the Backport IG's R4
// SubscriptionTopic: a Basic resource with id the topic's code.
func SubscriptionTopicBasic(ti TopicInfo) []byte {
	tr := topicTrigger[string(ti.Topic)]
	ext := []any{
		map[string]any{"url": extArtifactURL, "valueUri": TopicCanonical(ti.Topic)},
		map[string]any{"url": xverTopic + "version", "valueString": topicVersion},
		map[string]any{"url": xverTopic + "name", "valueString": topicName(string(ti.Topic))},
		map[string]any{"url": xverTopic + "title", "valueString": tr.title},
		map[string]any{"url": xverTopic + "date", "valueDateTime": topicDate},
		map[string]any{"url": xverTopic + "description", "valueMarkdown": ti.Description},
	}
	trigger := []any{
		map[string]any{"url": "description", "valueMarkdown": tr.trigger},
		map[string]any{"url": "resource", "valueUri": "http://hl7.org/fhir/StructureDefinition/" + ti.Resource},
	}
	for _, in := range tr.interactions {
		trigger = append(trigger, map[string]any{"url": "supportedInteraction", "valueCode": in})
	}
	ext = append(ext, map[string]any{"url": xverTopic + "resourceTrigger", "extension": trigger})
	for _, f := range ti.Filters {
		ext = append(ext, map[string]any{"url": xverTopic + "canFilterBy", "extension": []any{
			map[string]any{"url": "description", "valueMarkdown": tr.filterDoc[f]},
			map[string]any{"url": "resource", "valueUri": ti.Resource},
			map[string]any{"url": "filterParameter", "valueString": f},
		}})
	}
	ext = append(ext, map[string]any{"url": xverTopic + "notificationShape", "extension": []any{
		map[string]any{"url": "resource", "valueUri": ti.Resource},
	}})
	b, _ := json.Marshal(map[string]any{
		"resourceType": TopicBasicType,
		"id":           string(ti.Topic),
		"meta":         map[string]any{"profile": []string{profileTopicBasic}},
		"extension":    ext,
		// artifact-status is a modifier: a retired topic must not be read
		// as live.
		"modifierExtension": []any{map[string]any{"url": extArtifactStatus, "valueCode": "active"}},
		"code":              map[string]any{"coding": []any{map[string]any{"system": fhirTypesSystem, "code": TopicCode}}},
	})
	return b
}

// topicName is a topic's computable name: referral-offered is
// ReferralOffered.
func topicName(code string) string {
	var b strings.Builder
	for _, part := range strings.Split(code, "-") {
		if part != "" {
			b.WriteString(strings.ToUpper(part[:1]) + part[1:])
		}
	}
	return b.String()
}

// SubscriptionCapability is the CapabilityStatement's Subscription entry's
// extension (each topic's canonical, the Backport IG's
// capabilitystatement-subscriptiontopic-canonical) and documentation (the
// topics and the filters each accepts), so that gateway/ renders it
// without knowing an element of it.
func SubscriptionCapability() (extension []map[string]any, documentation string) {
	doc := "Topic-based Subscriptions (Subscriptions R5 Backport IG on R4), rest-hook only, payload empty, id-only " +
		"or full-resource. Each topic is published as Basic/{topic} (Basic.code " + TopicCodeSystem + "|" + TopicCode +
		"). Topics and their filters (backport-filter-criteria, always narrowed to the subscriber's organisation):"
	for _, ti := range SubscriptionTopics() {
		extension = append(extension, map[string]any{"url": extTopicCanonicalCS, "valueCanonical": TopicCanonical(ti.Topic)})
		f := "none"
		if len(ti.Filters) > 0 {
			f = ti.Resource + "?" + strings.Join(ti.Filters, "=…, ") + "=…"
		}
		doc += " " + TopicCanonical(ti.Topic) + " (" + ti.Description + " Filters: " + f + ");"
	}
	return extension, strings.TrimSuffix(doc, ";") + "."
}

// SubscriptionTopicCanonicals are the published topics as Basic resources,
// each with its canonical URL (conformance.Service publishes them).
func SubscriptionTopicCanonicals() (ids, urls []string, docs [][]byte) {
	for _, ti := range SubscriptionTopics() {
		ids = append(ids, string(ti.Topic))
		urls = append(urls, TopicCanonical(ti.Topic))
		docs = append(docs, SubscriptionTopicBasic(ti))
	}
	return ids, urls, docs
}
