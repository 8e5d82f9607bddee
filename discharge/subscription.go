package discharge

import "time"

// SubscriptionTopic names what a Subscription listens for (the topic's
// canonical URL is mappings' knowledge; the domain knows the kinds).
type SubscriptionTopic string

// The topics the gateway publishes (docs/subscriptions.md).
const (
	// TopicReferralOffered: a new referral Task for its owner.
	TopicReferralOffered SubscriptionTopic = "referral-offered"
	// TopicTaskStatus: a Task's status changed, for its requester or owner.
	TopicTaskStatus SubscriptionTopic = "task-status"
	// TopicCaseState: a case's state changed, for its trust or hub.
	TopicCaseState SubscriptionTopic = "case-state"
	// TopicCapacityPosting: a Location posted capacity, for hubs.
	TopicCapacityPosting SubscriptionTopic = "capacity-posting"
)

// SubscriptionStatus is a Subscription's state (R4 Subscription.status).
type SubscriptionStatus string

// The statuses: requested until the handshake succeeds, error after too
// many failed deliveries, off when the subscriber turned it off.
const (
	SubscriptionRequested SubscriptionStatus = "requested"
	SubscriptionActive    SubscriptionStatus = "active"
	SubscriptionError     SubscriptionStatus = "error"
	SubscriptionOff       SubscriptionStatus = "off"
)

// PayloadContent is how much of the focus a notification carries.
type PayloadContent string

// The payload contents of the Backport IG.
const (
	PayloadEmpty        PayloadContent = "empty"
	PayloadIDOnly       PayloadContent = "id-only"
	PayloadFullResource PayloadContent = "full-resource"
)

// NotificationType is what a notification is.
type NotificationType string

// The notification types of the Backport IG.
const (
	NotifyHandshake   NotificationType = "handshake"
	NotifyHeartbeat   NotificationType = "heartbeat"
	NotifyEvent       NotificationType = "event-notification"
	NotifyQueryStatus NotificationType = "query-status"
	NotifyQueryEvent  NotificationType = "query-event"
)

// Subscription is one subscriber's standing request for notifications.
// Owner is the organisation it was created for; the filters are already
// narrowed to what Owner may read.
type Subscription struct {
	ID       string
	Owner    Subscriber
	Topic    SubscriptionTopic
	Filters  map[string]string
	Status   SubscriptionStatus
	Endpoint string
	Payload  PayloadContent
	// Headers are "Name: value" lines sent with each delivery.
	Headers   []string
	Heartbeat time.Duration
	Timeout   time.Duration
	MaxCount  int
	Reason    string
	End       time.Time
	Created   time.Time
	// Secret signs each delivery (HMAC-SHA256); never rendered.
	Secret string
	// Events is eventsSinceSubscriptionStart: the number of the last event
	// recorded for it. Acked is the last number the endpoint took.
	Events, Acked int64
	// Failures counts deliveries failed in a row; LastError says why the
	// last failed, without patient data.
	Failures  int
	LastError string
}

// Subscriber is who a Subscription speaks for: the caller that created it,
// kept so that a delivery shows what a read by that caller would.
type Subscriber struct {
	ClientID string
	Org      string
	Role     string
	Members  []string
}

// SubscriptionEvent is one numbered event of a Subscription.
type SubscriptionEvent struct {
	Number int64
	At     time.Time
	// Focus is the changed resource: "Task/123" and its version, or
	// "Encounter/..." for a case, "Location/..." for a posting.
	Focus   string
	Version int64
	// Partition is where the focus lives.
	Partition string
}

// Notification is one Bundle to deliver or to answer $status and $events.
type Notification struct {
	Subscription Subscription
	Type         NotificationType
	Events       []SubscriptionEvent
	// Resources are the foci, as the subscriber may read them, for a
	// full-resource payload, by "Type/id/_history/v".
	Resources map[string][]byte
}
