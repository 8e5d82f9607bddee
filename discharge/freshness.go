package discharge

import "time"

// Freshness says how far a capacity posting can be trusted.
type Freshness string

// Freshness states.
const (
	Fresh   Freshness = "fresh"
	Stale   Freshness = "stale"   // older than the stale threshold: shown, flagged
	Unknown Freshness = "unknown" // older than the expiry, or never posted: treated as no data
)

// FreshnessPolicy holds the thresholds (GATEWAY_CAPACITY_STALE_AFTER and
// GATEWAY_CAPACITY_EXPIRE_AFTER).
type FreshnessPolicy struct {
	StaleAfter  time.Duration
	ExpireAfter time.Duration
}

// DefaultFreshness is 24 hours to stale and 7 days to unknown.
var DefaultFreshness = FreshnessPolicy{StaleAfter: 24 * time.Hour, ExpireAfter: 7 * 24 * time.Hour}

// Of classifies a posting made at asOf, seen at now.
func (p FreshnessPolicy) Of(asOf, now time.Time) Freshness {
	age := now.Sub(asOf)
	switch {
	case asOf.IsZero() || age > p.ExpireAfter:
		return Unknown
	case age > p.StaleAfter:
		return Stale
	}
	return Fresh
}
