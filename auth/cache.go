package auth

import (
	"sync"
	"sync/atomic"
	"time"
)

// maxCachedTokens bounds the verified-token cache; past it the cache is
// emptied (tokens live minutes, so it refills at once).
const maxCachedTokens = 10000

// AccessVerifier verifies the gateway's access tokens (Issuer.VerifyAccess)
// and remembers the ones that verified until they expire: an ECDSA
// verification per request would otherwise be most of the authentication
// middleware's cost. Only tokens that verified are kept, keyed by the whole
// token, and a kept one is refused once past its expiry. It is safe for
// concurrent use.
type AccessVerifier struct {
	issuer *Issuer
	now    func() time.Time
	tokens sync.Map // token -> *Principal
	count  atomic.Int64
}

// NewAccessVerifier verifies with issuer's keys, telling the time by now
// (time.Now when nil).
func NewAccessVerifier(issuer *Issuer, now func() time.Time) *AccessVerifier {
	if now == nil {
		now = time.Now
	}
	return &AccessVerifier{issuer: issuer, now: now}
}

// Verify returns the principal an access token speaks for.
func (v *AccessVerifier) Verify(token string) (*Principal, error) {
	now := v.now()
	if c, ok := v.tokens.Load(token); ok {
		p := c.(*Principal)
		if now.Before(p.Expires) {
			return p, nil
		}
		v.tokens.Delete(token)
	}
	p, err := v.issuer.VerifyAccess(token)
	if err != nil {
		return nil, err
	}
	if v.count.Add(1) > maxCachedTokens {
		v.tokens.Clear()
		v.count.Store(0)
	}
	v.tokens.Store(token, p)
	return p, nil
}
