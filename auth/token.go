package auth

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/dischargegateway/gateway/discharge"
)

// AssertionType is the only client_assertion_type accepted (RFC 7523).
const AssertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// Limits of a client assertion.
const (
	MaxAssertionBytes = 8 << 10
	// MaxAssertionLifetime is how far ahead exp may be, as NHS England and
	// SMART Backend Services require.
	MaxAssertionLifetime = 5 * time.Minute
	// ClockSkew is tolerated on exp, nbf and iat.
	ClockSkew = 30 * time.Second
)

// ReplayCache remembers assertion ids (jti) until they expire.
type ReplayCache interface {
	// Remember records jti for clientID until until; fresh is false when it
	// was already recorded (a replay).
	Remember(ctx context.Context, clientID, jti string, until time.Time) (fresh bool, err error)
}

// Verifier checks client assertions at the token endpoint.
type Verifier struct {
	Registry *Registry
	TokenURL string // the aud a client assertion must name
	Replay   ReplayCache
	Now      func() time.Time
}

// VerifyAssertion authenticates a client by its signed JWT assertion:
// RS256 or ES384 only; iss = sub = a registered client id; aud the token
// URL; exp present and at most 5 minutes ahead; jti unique (kept in Redis).
// Every failure is a *discharge.Error whose Detail is the OAuth error code;
// no message echoes the token.
func (v *Verifier) VerifyAssertion(ctx context.Context, assertionType, assertion string) (*Client, error) {
	now := v.now()
	switch {
	case assertionType != AssertionType:
		return nil, oauthErr("invalid_request", "client_assertion_type must be "+AssertionType+".")
	case assertion == "":
		return nil, oauthErr("invalid_request", "client_assertion is required.")
	case len(assertion) > MaxAssertionBytes:
		return nil, oauthErr("invalid_request", "client_assertion is too large.")
	}
	var client *Client
	claims := jwt.RegisteredClaims{}
	parser := jwt.NewParser(
		jwt.WithValidMethods([]string{"RS256", "ES384"}),
		jwt.WithAudience(v.TokenURL),
		jwt.WithExpirationRequired(),
		jwt.WithLeeway(ClockSkew),
		jwt.WithTimeFunc(func() time.Time { return now }),
	)
	_, err := parser.ParseWithClaims(assertion, &claims, func(t *jwt.Token) (any, error) {
		c, ok := v.Registry.Client(claims.Issuer)
		if !ok || claims.Subject != claims.Issuer {
			return nil, errUnknownClient
		}
		client = c
		kid, _ := t.Header["kid"].(string)
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
		case errors.Is(err, jwt.ErrTokenExpired):
			return nil, oauthErr("invalid_client", "The client assertion has expired.")
		case errors.Is(err, jwt.ErrTokenInvalidAudience):
			return nil, oauthErr("invalid_client", "The client assertion's aud must be the token endpoint URL.")
		case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
			return nil, oauthErr("invalid_client", "The client assertion lacks a required claim (exp).")
		case errors.Is(err, jwt.ErrTokenMalformed):
			return nil, oauthErr("invalid_request", "The client assertion is not a well-formed JWT.")
		}
		return nil, oauthErr("invalid_client", "The client assertion's signature or algorithm is not accepted.")
	}
	if claims.ExpiresAt.Time.After(now.Add(MaxAssertionLifetime + ClockSkew)) {
		return nil, oauthErr("invalid_client", "The client assertion's exp is more than 5 minutes ahead.")
	}
	if claims.ID == "" {
		return nil, oauthErr("invalid_client", "The client assertion needs a jti.")
	}
	if v.Replay != nil {
		fresh, err := v.Replay.Remember(ctx, client.ID, claims.ID, claims.ExpiresAt.Time.Add(ClockSkew))
		if err != nil {
			return nil, err
		}
		if !fresh {
			return nil, oauthErr("invalid_client", "The client assertion's jti was already used.")
		}
	}
	return client, nil
}

var (
	errUnknownClient = errors.New("unknown client")
	errUnknownKey    = errors.New("no matching key")
)

func (v *Verifier) now() time.Time {
	if v.Now != nil {
		return v.Now()
	}
	return time.Now()
}

// Issuer signs and verifies the gateway's access tokens.
type Issuer struct {
	Keys     *KeySet
	Issuer   string // the gateway's base URL
	Audience string // the FHIR base URL
	TTL      time.Duration
	Now      func() time.Time
}

// AccessClaims are the claims of a gateway access token.
type AccessClaims struct {
	jwt.RegisteredClaims
	Scope     string   `json:"scope"`
	Org       string   `json:"org"`
	OrgSystem string   `json:"org_system"`
	Role      Role     `json:"role"`
	Members   []string `json:"members,omitempty"`
}

// Principal is who a verified access token speaks for.
type Principal struct {
	ClientID  string
	Org       string
	OrgSystem string
	Role      Role
	Members   []string
	Scopes    Scopes
	Expires   time.Time
}

// CanRead reports whether the principal may read patient data held for org:
// a trust its own, a hub its member trusts'. Care providers and admins read
// no patient data.
func (p *Principal) CanRead(org string) bool {
	switch p.Role {
	case RoleTrust:
		return org == p.Org
	case RoleHub:
		return slices.Contains(p.Members, org)
	}
	return false
}

// ReadableOrgs lists the organisations whose patient data the principal may
// read.
func (p *Principal) ReadableOrgs() []string {
	switch p.Role {
	case RoleTrust:
		return []string{p.Org}
	case RoleHub:
		return p.Members
	}
	return nil
}

func (i *Issuer) now() time.Time {
	if i.Now != nil {
		return i.Now()
	}
	return time.Now()
}

// Issue signs an access token for a client with granted scopes.
func (i *Issuer) Issue(c *Client, scopes Scopes) (token string, expiresIn int, err error) {
	ttl := i.TTL
	if ttl <= 0 {
		ttl = 5 * time.Minute
	}
	now := i.now()
	var jti [16]byte
	_, _ = rand.Read(jti[:])
	claims := AccessClaims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer: i.Issuer, Subject: c.ID, Audience: jwt.ClaimStrings{i.Audience},
			IssuedAt: jwt.NewNumericDate(now), NotBefore: jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(ttl)), ID: hex.EncodeToString(jti[:]),
		},
		Scope: scopes.String(), Org: c.Org, OrgSystem: c.OrgSystem, Role: c.Role, Members: c.Members,
	}
	key := i.Keys.current()
	t := jwt.NewWithClaims(jwt.SigningMethodES256, claims)
	t.Header["kid"] = key.kid
	s, err := t.SignedString(key.priv)
	if err != nil {
		return "", 0, err
	}
	return s, int(ttl / time.Second), nil
}

// VerifyAccess checks a gateway access token: ES256 only, a kid of the
// current key set, the right iss and aud, within its lifetime.
func (i *Issuer) VerifyAccess(token string) (*Principal, error) {
	var claims AccessClaims
	_, err := jwt.NewParser(
		jwt.WithValidMethods([]string{"ES256"}),
		jwt.WithIssuer(i.Issuer),
		jwt.WithAudience(i.Audience),
		jwt.WithExpirationRequired(),
		jwt.WithLeeway(ClockSkew),
		jwt.WithTimeFunc(i.now),
	).ParseWithClaims(token, &claims, func(t *jwt.Token) (any, error) {
		kid, _ := t.Header["kid"].(string)
		k, ok := i.Keys.public(kid)
		if !ok {
			return nil, errUnknownKey
		}
		return k, nil
	})
	if err != nil {
		detail := "The access token is not valid."
		if errors.Is(err, jwt.ErrTokenExpired) {
			detail = "The access token has expired."
		}
		return nil, &discharge.Error{Kind: discharge.KindUnauthorized, Issues: []discharge.Issue{{
			Kind: discharge.KindUnauthorized, Detail: "invalid_token", Message: detail}}}
	}
	scopes, err := ParseScopes(claims.Scope)
	if err != nil {
		return nil, oauthErr("invalid_token", "The access token's scope is malformed.")
	}
	return &Principal{ClientID: claims.Subject, Org: claims.Org, OrgSystem: claims.OrgSystem, Role: claims.Role,
		Members: claims.Members, Scopes: scopes, Expires: claims.ExpiresAt.Time}, nil
}

// ParseBearer extracts the token of an Authorization header: the scheme
// "Bearer" in any letter case, one or more spaces, and a token of the
// RFC 6750 token68 characters with nothing after it.
func ParseBearer(header string) (string, error) {
	fail := func(msg string) error {
		return &discharge.Error{Kind: discharge.KindUnauthorized, Issues: []discharge.Issue{{
			Kind: discharge.KindUnauthorized, Detail: "invalid_request", Message: msg}}}
	}
	if header == "" {
		return "", &discharge.Error{Kind: discharge.KindUnauthorized, Issues: []discharge.Issue{{
			Kind: discharge.KindUnauthorized, Message: "A bearer access token is required."}}}
	}
	scheme, rest, ok := strings.Cut(header, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", fail("The Authorization header must be 'Bearer <token>'.")
	}
	token := strings.TrimLeft(rest, " ")
	if token == "" {
		return "", fail("The bearer token is empty.")
	}
	for _, r := range token {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' ||
			strings.ContainsRune("-._~+/=", r)
		if !ok {
			return "", fail("The bearer token has characters a token cannot have.")
		}
	}
	return token, nil
}

type principalKey struct{}

// WithPrincipal returns a context carrying the authenticated caller.
func WithPrincipal(ctx context.Context, p *Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// PrincipalFrom returns the caller a context carries, or nil.
func PrincipalFrom(ctx context.Context) *Principal {
	p, _ := ctx.Value(principalKey{}).(*Principal)
	return p
}
