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

// CanSee reports whether the principal may see patient data held for org:
// a trust its own organisation's, a hub its member trusts'. Care providers
// see no patient data through this check (what reaches them is decided per
// referral elsewhere), and neither do admins: an operator reads the audit
// trail, never patient records, so a stolen admin credential discloses who
// looked at what but not what they saw. Nor does a system client: it reads
// aggregate reports over its member trusts (sitrep.MayReadAggregates), not
// the trusts' patients.
func (p *Principal) CanSee(org string) bool {
	if p == nil || org == "" {
		return false
	}
	switch p.Role {
	case RoleTrust:
		return org == p.Org
	case RoleHub:
		return slices.Contains(p.Members, org)
	}
	return false
}

// CanRead is CanSee.
//
// Deprecated: use CanSee.
func (p *Principal) CanRead(org string) bool { return p.CanSee(org) }

// ReadableOrgs lists the organisations whose patient data the principal may
// see (CanSee), for partitioned reads.
func (p *Principal) ReadableOrgs() []string {
	switch p.Role {
	case RoleTrust:
		return []string{p.Org}
	case RoleHub:
		return slices.Clone(p.Members)
	}
	return nil
}

func (i *Issuer) now() time.Time {
	if i.Now != nil {
		return i.Now()
	}
	return time.Now()
}

// DefaultTTL is an access token's lifetime when Issuer.TTL is zero: short,
// because a bearer token cannot be revoked before it expires.
const DefaultTTL = 5 * time.Minute

// Issue signs an access token for a client with granted scopes, with the
// current key, its kid in the header. Claims: iss, sub (the client id),
// aud, iat, nbf, exp, jti (random), scope, org, org_system, role, and
// members for a hub or a system client.
func (i *Issuer) Issue(c *Client, scopes Scopes) (token string, expiresIn int, err error) {
	if err := i.configured(); err != nil {
		return "", 0, err
	}
	if c == nil || c.ID == "" || len(scopes) == 0 {
		return "", 0, discharge.Wrap(discharge.KindInternal, "auth.Issue", errors.New("a token needs a client and scopes"))
	}
	ttl := i.TTL
	if ttl <= 0 {
		ttl = DefaultTTL
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
		Scope: scopes.String(), Org: c.Org, OrgSystem: c.OrgSystem, Role: c.Role,
	}
	if c.Role == RoleHub || c.Role == RoleSystem {
		claims.Members = c.Members
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

// configured refuses an Issuer missing what verification depends on: jwt/v5
// skips the iss check when the expected issuer is empty.
func (i *Issuer) configured() error {
	if i.Keys == nil || len(i.Keys.keys) == 0 || i.Issuer == "" || i.Audience == "" {
		return discharge.Wrap(discharge.KindInternal, "auth.Issuer", errors.New("issuer needs Keys, Issuer and Audience"))
	}
	return nil
}

// MaxAccessTokenBytes bounds an access token: ours are under 1 KiB, a hub
// with many members a little more.
const MaxAccessTokenBytes = 8 << 10

// VerifyAccess checks a gateway access token: ES256 only (the gateway's
// own keys' algorithm), a kid naming a key of the current set (current or
// previous), the right iss and aud, exp present and nbf/iat reached (with
// ClockSkew), and a subject and role. Every failure is KindUnauthorized
// with Detail "invalid_token" (RFC 6750 section 3.1): answer 401 with
// WWW-Authenticate: Bearer error="invalid_token".
func (i *Issuer) VerifyAccess(token string) (*Principal, error) {
	if err := i.configured(); err != nil {
		return nil, err
	}
	invalid := func(msg string) error {
		return oauthErr("invalid_token", msg)
	}
	if len(token) > MaxAccessTokenBytes {
		return nil, invalid("The access token is not valid.")
	}
	var claims AccessClaims
	_, err := jwt.NewParser(
		jwt.WithValidMethods([]string{jwt.SigningMethodES256.Alg()}),
		jwt.WithIssuer(i.Issuer),
		jwt.WithAudience(i.Audience),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(ClockSkew),
		jwt.WithStrictDecoding(), // one encoding per token: no malleable base64 tails
		jwt.WithTimeFunc(i.now),
	).ParseWithClaims(token, &claims, func(t *jwt.Token) (any, error) {
		if err := checkHeader(t); err != nil {
			return nil, err
		}
		kid, _ := t.Header["kid"].(string)
		k, ok := i.Keys.public(kid)
		if !ok {
			return nil, errUnknownKey
		}
		return k, nil
	})
	if err != nil {
		if errors.Is(err, jwt.ErrTokenExpired) {
			return nil, invalid("The access token has expired.")
		}
		return nil, invalid("The access token is not valid.")
	}
	switch claims.Role {
	case RoleTrust, RoleHub, RoleCareProvider, RoleAdmin, RoleSystem:
	default:
		return nil, invalid("The access token is not valid.")
	}
	if claims.Subject == "" || claims.Org == "" || claims.ExpiresAt == nil {
		return nil, invalid("The access token is not valid.")
	}
	scopes, err := ParseScopes(claims.Scope)
	if err != nil {
		return nil, invalid("The access token's scope is malformed.")
	}
	return &Principal{ClientID: claims.Subject, Org: claims.Org, OrgSystem: claims.OrgSystem, Role: claims.Role,
		Members: claims.Members, Scopes: scopes, Expires: claims.ExpiresAt.Time}, nil
}

// ParseBearer extracts the token of an Authorization header (RFC 6750
// section 2.1): the scheme "Bearer" in any letter case, one run of spaces,
// and a b64token (letters, digits, - . _ ~ + /, then only = padding) with
// nothing after it. Other schemes, tabs, control characters, a second
// token, and tokens over MaxAccessTokenBytes are refused.
//
// A missing header is KindUnauthorized with no Detail: RFC 6750 section
// 3.1 says to send a bare challenge when the request had no credentials.
// A malformed one has Detail "invalid_request"; answer 401 for both, with
// WWW-Authenticate: Bearer (RFC 6750 suggests 400 for invalid_request, but
// for a header the client cannot parse a 401 challenge is more useful and
// discloses nothing more).
func ParseBearer(header string) (string, error) {
	fail := func(msg string) error { return oauthErr("invalid_request", msg) }
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
	if len(token) > MaxAccessTokenBytes {
		return "", fail("The bearer token is too long.")
	}
	body := strings.TrimRight(token, "=")
	if body == "" {
		return "", fail("The bearer token has characters a token cannot have.")
	}
	for i := 0; i < len(body); i++ {
		c := body[i]
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/'
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
