package auth

import (
	"context"
	"time"
)

// AuditEntry is one access to patient data: who, what (type and id, never
// content), when, the outcome and the request id.
type AuditEntry struct {
	Time         time.Time `json:"time"`
	ClientID     string    `json:"client"`
	Org          string    `json:"org"`
	Role         Role      `json:"role"`
	Action       string    `json:"action"`      // FHIR AuditEvent.action: C R U D E
	Interaction  string    `json:"interaction"` // create, read, vread, update, search-type, transaction, ...
	ResourceType string    `json:"type"`
	ResourceID   string    `json:"id,omitempty"`
	Status       int       `json:"status"` // the HTTP status returned
	RequestID    string    `json:"requestId"`
}

// AuditQuery selects audit entries; empty fields match anything.
type AuditQuery struct {
	Agent  string // client id or organisation
	Entity string // "Type/id" or "Type"
	From   time.Time
	To     time.Time
	Limit  int
}

// AuditLog keeps audit entries (adapters/rediscache keeps them in a stream).
type AuditLog interface {
	Record(ctx context.Context, e AuditEntry) error
	Search(ctx context.Context, q AuditQuery) ([]AuditEntry, error)
}

// RateLimiter counts requests per client.
type RateLimiter interface {
	// Allow counts one request; when over the limit it reports false and
	// how long until the window resets.
	Allow(ctx context.Context, clientID string) (ok bool, retryAfter time.Duration, err error)
}
