package auth

import (
	"context"
	"time"
)

// AuditEntry is one access to patient data: who, what (type and id, never
// content), when, the outcome and the request id.
type AuditEntry struct {
	// ID is the log's own id for the entry, set when it is read back: stable
	// across searches, so it can be the AuditEvent's id.
	ID           string    `json:"-"`
	Time         time.Time `json:"time"`
	ClientID     string    `json:"client"`
	Org          string    `json:"org"`
	Role         Role      `json:"role"`
	Action       string    `json:"action"`      // FHIR AuditEvent.action: C R U D E
	Interaction  string    `json:"interaction"` // create, read, vread, update, search-type, transaction, ...
	ResourceType string    `json:"type"`        // the FHIR resource type: always set
	ResourceID   string    `json:"id,omitempty"`
	Status       int       `json:"status"` // the HTTP status returned
	RequestID    string    `json:"requestId"`
}

// AuditQuery selects audit entries; empty fields match anything.
type AuditQuery struct {
	Agent  string // client id or organisation
	Entity string // "Type/id" or "Type", optionally after a base URL
	From   time.Time
	To     time.Time
	// Offset is how many matches (newest first) come before the page, and
	// Count how many the page holds at most; Count 0 asks for the total only.
	Offset, Count int
}

// AuditPage is one page of an audit search.
type AuditPage struct {
	// Entries are the matches from the query's Offset, newest first.
	Entries []AuditEntry
	// Total counts every match of the query, not just this page's; -1 when
	// it is not known because the search stopped at its bound.
	Total int
	// Truncated reports that the search stopped at its bound on entries
	// read before the start of the date range: older matches are not
	// returned, and not counted unless the log counts them another way.
	Truncated bool
}

// AuditLog keeps audit entries (adapters/rediscache keeps them in a stream).
type AuditLog interface {
	Record(ctx context.Context, e AuditEntry) error
	// Search returns one page of the entries matching q, newest first, and
	// how many match in all.
	Search(ctx context.Context, q AuditQuery) (AuditPage, error)
}

// RateLimiter counts requests per client.
type RateLimiter interface {
	// Allow counts one request; when over the limit it reports false and
	// how long until the window resets.
	Allow(ctx context.Context, clientID string) (ok bool, retryAfter time.Duration, err error)
}
