package auth

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/dischargegateway/gateway/discharge"
)

// AssertionType is the only client_assertion_type accepted (RFC 7523).
const AssertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// Limits of a client assertion.
const (
	// MaxAssertionBytes is the default size limit of a client assertion: an
	// RS256 assertion with a 4096-bit key is under 1.5 KiB.
	MaxAssertionBytes = 8 << 10
	// MaxAssertionLifetime is how far ahead of now exp may be, as NHS
	// England and SMART Backend Services require.
	MaxAssertionLifetime = 5 * time.Minute
	// ClockSkew is tolerated on exp, nbf and iat of assertions and access
	// tokens, and on the 5-minute ceiling: clients' clocks drift, and 30 s
	// is well inside the 60 s the SMART and NHS guidance leave room for.
	ClockSkew = 30 * time.Second
	// maxJTI bounds the jti kept in the replay cache (a Redis key).
	maxJTI = 255
)

// The algorithms a client may sign an assertion with. NHS England's
// guidance and SMART Backend Services both name RSA and P-384 ECDSA; none,
// the HMAC family and everything else are refused before any key is looked
// at, which is what defeats the public-key-as-HMAC-secret attack.
var assertionAlgs = []string{"RS256", "ES384"}

// ReplayCache remembers assertion ids (jti) until they expire.
type ReplayCache interface {
	// Remember records jti for clientID until until; fresh is false when it
	// was already recorded (a replay). It must be atomic: of two concurrent
	// calls with the same jti, one alone is fresh (Redis: SET NX PX).
	Remember(ctx context.Context, clientID, jti string, until time.Time) (fresh bool, err error)
}

// Verifier checks client assertions at the token endpoint.
type Verifier struct {
	Registry *Registry
	TokenURL string // the aud a client assertion must name: the token endpoint's absolute URL
	Replay   ReplayCache
	Now      func() time.Time
	// MaxAssertionBytes is the size limit of an assertion; zero means the
	// package default MaxAssertionBytes.
	MaxAssertionBytes int
}

// VerifyAssertion authenticates a client by its signed JWT assertion
// (private_key_jwt, RFC 7523 section 3):
//
//   - client_assertion_type is AssertionType, and the assertion at most
//     MaxAssertionBytes;
//   - the header's alg is RS256 or ES384 (never none or HS*), and a kid,
//     when present, names one of the client's keys; without one every key
//     of the client for that alg is tried;
//   - iss = sub = a registered client id, looked up before any signature
//     is checked, so only that client's keys can verify;
//   - aud is TokenURL (a string, or an array containing it);
//   - exp is present, not past and at most MaxAssertionLifetime ahead (each
//     with ClockSkew of tolerance); nbf and iat, when present, not ahead;
//   - jti is present and never seen before for this client until exp.
//
// Every failure is a *discharge.Error of KindUnauthorized whose first
// issue's Detail is the OAuth error code (RFC 6749 section 5.2):
// "invalid_request" for a missing, malformed, oversized or wrongly typed
// assertion, "invalid_client" for everything else. The gateway answers
// invalid_client with 401 and the others with 400. No message echoes the
// token or its claims. A replay cache failure is returned as it is
// (KindUnavailable from the Redis adapter): it is not the client's fault.
//
// The argument order is (type, assertion), as the form fields come.
func (v *Verifier) VerifyAssertion(ctx context.Context, assertionType, assertion string) (*Client, error) {
	if v.Registry == nil || v.TokenURL == "" || v.Replay == nil {
		// Without a token URL the audience cannot be checked and without
		// a replay cache a stolen assertion could be reused: refuse.
		return nil, discharge.Wrap(discharge.KindInternal, "auth.VerifyAssertion",
			errors.New("verifier needs Registry, TokenURL and Replay"))
	}
	limit := v.MaxAssertionBytes
	if limit <= 0 {
		limit = MaxAssertionBytes
	}
	now := v.now()
	switch {
	case assertionType != AssertionType:
		return nil, oauthErr("invalid_request", "client_assertion_type must be "+AssertionType+".")
	case assertion == "":
		return nil, oauthErr("invalid_request", "client_assertion is required.")
	case len(assertion) > limit:
		return nil, oauthErr("invalid_request", "client_assertion is too large.")
	}
	var client *Client
	claims := jwt.RegisteredClaims{}
	parser := jwt.NewParser(
		jwt.WithValidMethods(assertionAlgs),
		jwt.WithAudience(v.TokenURL),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(ClockSkew),
		jwt.WithStrictDecoding(), // one encoding per token: no malleable base64 tails
		jwt.WithTimeFunc(func() time.Time { return now }),
	)
	// jwt/v5 decodes the claims before it calls the key function, and
	// checks the alg against the allow-list before that: so the client is
	// found by iss first and only its own keys, of the header's alg, can
	// verify the signature.
	_, err := parser.ParseWithClaims(assertion, &claims, func(t *jwt.Token) (any, error) {
		if err := checkHeader(t); err != nil {
			return nil, err
		}
		c, ok := v.Registry.Client(claims.Issuer)
		if !ok || claims.Subject != claims.Issuer {
			return nil, errUnknownClient
		}
		client = c
		kid, hasKID := t.Header["kid"].(string)
		if _, present := t.Header["kid"]; present && !hasKID {
			return nil, errUnknownKey
		}
		var keys jwt.VerificationKeySet
		for _, k := range c.Keys {
			if k.Alg == t.Method.Alg() && (kid == "" || k.KID == kid) {
				keys.Keys = append(keys.Keys, k.Key)
			}
		}
		if len(keys.Keys) == 0 {
			return nil, errUnknownKey
		}
		return keys, nil
	})
	if err != nil {
		switch {
		case errors.Is(err, errUnknownClient):
			return nil, oauthErr("invalid_client", "Unknown client, or iss and sub differ.")
		case errors.Is(err, errUnknownKey):
			return nil, oauthErr("invalid_client", "No registered key of this client matches the assertion's kid and alg.")
		case errors.Is(err, jwt.ErrTokenMalformed):
			return nil, oauthErr("invalid_request", "The client assertion is not a well-formed JWT.")
		case errors.Is(err, jwt.ErrTokenSignatureInvalid), errors.Is(err, jwt.ErrTokenUnverifiable):
			return nil, oauthErr("invalid_client", "The client assertion's signature or algorithm is not accepted.")
		case errors.Is(err, jwt.ErrTokenExpired):
			return nil, oauthErr("invalid_client", "The client assertion has expired.")
		case errors.Is(err, jwt.ErrTokenInvalidAudience):
			return nil, oauthErr("invalid_client", "The client assertion's aud must be the token endpoint URL.")
		case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
			return nil, oauthErr("invalid_client", "The client assertion lacks a required claim (exp, aud).")
		}
		return nil, oauthErr("invalid_client", "The client assertion is not valid.")
	}
	if client == nil {
		return nil, oauthErr("invalid_client", "The client assertion is not valid.")
	}
	if claims.ExpiresAt.After(now.Add(MaxAssertionLifetime + ClockSkew)) {
		return nil, oauthErr("invalid_client", "The client assertion's exp is more than 5 minutes ahead.")
	}
	if claims.ID == "" || len(claims.ID) > maxJTI {
		return nil, oauthErr("invalid_client", "The client assertion needs a jti of at most 255 characters.")
	}
	// Replay is checked last, on a verified assertion, so a forger cannot
	// burn a client's jti values.
	fresh, err := v.Replay.Remember(ctx, client.ID, claims.ID, claims.ExpiresAt.Add(ClockSkew))
	if err != nil {
		var de *discharge.Error
		if errors.As(err, &de) {
			return nil, err
		}
		return nil, discharge.Wrap(discharge.KindUnavailable, "auth.VerifyAssertion: replay cache", err)
	}
	if !fresh {
		return nil, oauthErr("invalid_client", "The client assertion's jti was already used.")
	}
	return client, nil
}

var (
	errUnknownClient = errors.New("unknown client")
	errUnknownKey    = errors.New("no matching key")
	errCritical      = errors.New("crit header")
)

// checkHeader refuses a JWS header with "crit" (RFC 7515 section 4.1.11:
// a recipient that does not understand a listed extension, and we
// understand none, must reject it; jwt/v5 does not look). Key-carrying
// headers (jwk, jku, x5u, x5c) are never used: keys come only from the
// registry or the gateway's own key set.
func checkHeader(t *jwt.Token) error {
	if _, ok := t.Header["crit"]; ok {
		return errCritical
	}
	return nil
}

func (v *Verifier) now() time.Time {
	if v.Now != nil {
		return v.Now()
	}
	return time.Now()
}

// MemoryReplay is a ReplayCache in process memory, for tests and a single
// gateway process only: behind a load balancer each process would accept
// the same assertion once, so production uses the Redis one
// (adapters/rediscache). Expired entries are swept as new ones arrive.
type MemoryReplay struct {
	// Now is the clock; nil means time.Now.
	Now func() time.Time

	mu      sync.Mutex
	seen    map[string]time.Time
	checked int
}

var _ ReplayCache = (*MemoryReplay)(nil)

// Remember implements ReplayCache.
func (m *MemoryReplay) Remember(_ context.Context, clientID, jti string, until time.Time) (bool, error) {
	now := time.Now()
	if m.Now != nil {
		now = m.Now()
	}
	// The client id is length-prefixed so no (client, jti) pair can collide
	// with another's.
	key := strconv.Itoa(len(clientID)) + ":" + clientID + jti
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.seen == nil {
		m.seen = map[string]time.Time{}
	}
	if m.checked++; m.checked >= 1024 {
		m.checked = 0
		for k, exp := range m.seen {
			if !now.Before(exp) {
				delete(m.seen, k)
			}
		}
	}
	if exp, ok := m.seen[key]; ok && now.Before(exp) {
		return false, nil
	}
	m.seen[key] = until
	return true, nil
}
