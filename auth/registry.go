// Package auth is the gateway's client authentication and authorisation
// core, free of HTTP: the client registry, SMART v2 system scopes, signed-JWT
// client assertions (RFC 7523 private_key_jwt, as NHS England's
// application-restricted APIs and SMART Backend Services use), and the
// gateway's own short-lived access tokens. The gateway package wires it to
// /oauth2/token and to its bearer middleware.
package auth

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Role is what kind of organisation a client acts for.
type Role string

// The roles.
const (
	RoleTrust        Role = "trust"         // an NHS trust: its own cases only
	RoleHub          Role = "hub"           // a care transfer hub: its member trusts' cases, read-only
	RoleCareProvider Role = "care-provider" // care-home or home-care software: its own locations
	RoleAdmin        Role = "admin"         // operators: audit only, never patient data
	// RoleSystem is a commissioner, an ICB or the national view: aggregate
	// reports (sitrep, unmet demand) over the trusts it is registered for
	// (memberTrusts), never patient data. CanSee refuses it everywhere and
	// its scopes are limited to aggregateScopes.
	RoleSystem Role = "system"
)

// aggregateScopes are the only scopes a system client may hold: reading
// and searching reports and the terminology they are coded in. Patient
// data is refused by CanSee whatever the scopes say; this keeps the
// registration honest too.
var aggregateScopes = Scopes{"MeasureReport": "rs", "CodeSystem": "rs", "ConceptMap": "rs"}

// Client is one registered API client.
type Client struct {
	ID        string
	Org       string // ODS code (trusts, hubs) or CQC provider id (care providers)
	OrgSystem string
	Role      Role
	Members   []string // a hub's member trusts (ODS codes)
	Scopes    []string // the SMART scopes it may be granted
	Keys      []PublicKey
	Demo      bool
}

// PublicKey is one of a client's verification keys.
type PublicKey struct {
	// KID is the JWK's kid, or its RFC 7638 thumbprint when it has none,
	// so an assertion header's kid can always name it.
	KID        string
	Alg        string // RS256 or ES384, from the key type
	Key        crypto.PublicKey
	Thumbprint string // RFC 7638 SHA-256 thumbprint, whatever the kid
}

// Registry holds the registered clients.
type Registry struct {
	clients map[string]*Client
	demo    bool
}

// Client returns a registered client by id.
func (r *Registry) Client(id string) (*Client, bool) {
	c, ok := r.clients[id]
	return c, ok
}

// Clients returns every client, for start-up messages.
func (r *Registry) Clients() []*Client {
	out := make([]*Client, 0, len(r.clients))
	for _, c := range r.clients {
		out = append(out, c)
	}
	return out
}

// Trusts returns the trusts the registry names, sorted and each once: the
// organisation of every trust client and the members of every hub. The
// daily forecast sweep keeps a forecast for each.
func (r *Registry) Trusts() []string {
	seen := map[string]bool{}
	for _, c := range r.clients {
		if c.Role == RoleTrust && c.Org != "" {
			seen[c.Org] = true
		}
		if c.Role == RoleHub {
			for _, m := range c.Members {
				seen[m] = true
			}
		}
	}
	out := make([]string, 0, len(seen))
	for t := range seen {
		out = append(out, t)
	}
	slices.Sort(out)
	return out
}

// Demo reports whether any client is a demo client.
func (r *Registry) Demo() bool { return r.demo }

// registryFile is the JSON form of a registry (configs/clients.example.json
// documents it). Unknown members are refused so a misspelt "memberTrusts"
// or "jwksFile" fails at start-up instead of silently loosening or
// emptying a client; members whose names start with "_" are comments.
type registryFile struct {
	Comment string       `json:"_comment"`
	Clients []clientFile `json:"clients"`
}

type clientFile struct {
	Comment     string          `json:"_comment"`
	Description string          `json:"_description"`
	ID          string          `json:"clientId"`
	Org         string          `json:"organization"`
	OrgSystem   string          `json:"organizationSystem"`
	Role        Role            `json:"role"`
	Members     []string        `json:"memberTrusts"`
	Scopes      []string        `json:"scopes"`
	JWKS        json.RawMessage `json:"jwks"`
	JWKSFile    string          `json:"jwksFile"`
	Demo        bool            `json:"demo"`
}

// The default identifier systems of Client.OrgSystem.
const (
	SystemODS = "https://fhir.nhs.uk/Id/ods-organization-code"
	SystemCQC = "https://cqc.org.uk/provider-id"
)

// LoadRegistry reads a client registry file (format: configs/clients.example.json).
// It refuses the whole file on the first bad client: a registry that loads
// is one where every client has a usable key, a known role and parseable
// scopes. Relative jwksFile paths are resolved against the registry's folder.
func LoadRegistry(path string) (*Registry, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	var f registryFile
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%s: trailing data after the registry object", path)
	}
	reg := &Registry{clients: map[string]*Client{}}
	for i, fc := range f.Clients {
		c, err := loadClient(filepath.Dir(path), fc)
		if err != nil {
			return nil, fmt.Errorf("%s: clients[%d]: %w", path, i, err)
		}
		if reg.clients[c.ID] != nil {
			return nil, fmt.Errorf("%s: clients[%d]: clientId %q is repeated", path, i, c.ID)
		}
		reg.clients[c.ID] = c
		reg.demo = reg.demo || c.Demo
	}
	return reg, nil
}

func loadClient(dir string, fc clientFile) (*Client, error) {
	switch {
	case fc.ID == "":
		return nil, fmt.Errorf("clientId is required")
	case len(fc.ID) > 128 || strings.ContainsFunc(fc.ID, notVisibleASCII):
		// RFC 6749 allows spaces in a client_id; we do not, as the id
		// becomes a Redis key part and a log field.
		return nil, fmt.Errorf("clientId %q must be at most 128 visible ASCII characters", fc.ID)
	case fc.Org == "":
		return nil, fmt.Errorf("organization is required")
	}
	switch fc.Role {
	case RoleHub, RoleSystem:
		// A system client lists its trusts too (an ICB's, or every trust
		// for the national view): reports are read trust by trust.
		if len(fc.Members) == 0 {
			return nil, fmt.Errorf("a %s needs memberTrusts", fc.Role)
		}
		for j, m := range fc.Members {
			if m == "" || slices.Index(fc.Members, m) != j {
				return nil, fmt.Errorf("memberTrusts[%d] is empty or repeated", j)
			}
		}
	case RoleTrust, RoleCareProvider, RoleAdmin:
		// Only a hub (or a system client) reads for others: members
		// anywhere else would be ignored, so they are a mistake worth
		// stopping on.
		if len(fc.Members) > 0 {
			return nil, fmt.Errorf("only a hub or a system client has memberTrusts")
		}
	default:
		return nil, fmt.Errorf("role %q is not trust, hub, care-provider, admin or system", fc.Role)
	}
	if len(fc.JWKS) > 0 && fc.JWKSFile != "" {
		return nil, fmt.Errorf("give jwks or jwksFile, not both")
	}
	jwks := fc.JWKS
	if fc.JWKSFile != "" {
		p := fc.JWKSFile
		if !filepath.IsAbs(p) {
			p = filepath.Join(dir, p)
		}
		var err error
		if jwks, err = os.ReadFile(p); err != nil {
			return nil, err
		}
	}
	keys, err := ParseJWKS(jwks)
	if err != nil {
		return nil, err
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("at least one public key (jwks or jwksFile) is required")
	}
	scopes, err := ParseScopes(strings.Join(fc.Scopes, " "))
	if err != nil {
		return nil, err
	}
	// Only what the discovery document lists can be granted.
	if err := Grantable(scopes); err != nil {
		return nil, err
	}
	if fc.Role == RoleSystem {
		for typ, perm := range scopes {
			if common(perm, aggregateScopes[typ]) != perm {
				return nil, fmt.Errorf("scope system/%s.%s: a system client reads aggregate reports only (MeasureReport, CodeSystem, ConceptMap: rs)", typ, perm)
			}
		}
	}
	sys := fc.OrgSystem
	if sys == "" {
		sys = SystemODS
		if fc.Role == RoleCareProvider {
			sys = SystemCQC
		}
	}
	return &Client{ID: fc.ID, Org: fc.Org, OrgSystem: sys, Role: fc.Role, Members: slices.Clone(fc.Members),
		Scopes: slices.Clone(fc.Scopes), Keys: keys, Demo: fc.Demo}, nil
}

func notVisibleASCII(r rune) bool { return r <= ' ' || r > '~' }

// Key size limits. 2048 bits is NHS England's and NIST's floor; the ceiling
// stops a registry entry from making every verification needlessly slow.
const (
	minRSABits = 2048
	maxRSABits = 8192
)

// privateMembers are the JWK members that carry private key material
// (RFC 7518 section 6.2.2 and 6.3.2; "k" is a symmetric key).
var privateMembers = []string{"d", "p", "q", "dp", "dq", "qi", "oth", "k"}

// ParseJWKS reads the public keys of a JWK Set: RSA (RS256, 2048 to 8192
// bits) and EC P-384 (ES384). jwt/v5 verifies signatures but does not parse
// JWKs, and the standard library has the primitives. A set holding any
// private or symmetric member is refused outright: it means a private key
// was pasted where only the public half belongs.
func ParseJWKS(raw []byte) ([]PublicKey, error) {
	if len(raw) == 0 {
		return nil, nil
	}
	var set struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal(raw, &set); err != nil {
		return nil, fmt.Errorf("jwks: %w", err)
	}
	var out []PublicKey
	for i, k := range set.Keys {
		pk, err := parseJWK(k)
		if err != nil {
			return nil, fmt.Errorf("jwks key %d: %w", i, err)
		}
		for _, prev := range out {
			if prev.KID == pk.KID {
				return nil, fmt.Errorf("jwks key %d: kid %q is repeated", i, pk.KID)
			}
		}
		out = append(out, pk)
	}
	return out, nil
}

func parseJWK(k map[string]any) (PublicKey, error) {
	for _, m := range privateMembers {
		if _, ok := k[m]; ok {
			return PublicKey{}, fmt.Errorf("holds private or symmetric key material (%q): register public keys only", m)
		}
	}
	str := func(name string) (string, bool) {
		v, present := k[name]
		s, isStr := v.(string)
		return s, !present || isStr
	}
	if use, ok := str("use"); !ok || use != "" && use != "sig" {
		return PublicKey{}, fmt.Errorf("use must be \"sig\"")
	}
	kid, ok := str("kid")
	if !ok {
		return PublicKey{}, fmt.Errorf("kid must be a string")
	}
	alg, ok := str("alg")
	if !ok {
		return PublicKey{}, fmt.Errorf("alg must be a string")
	}
	b := func(name string) ([]byte, error) {
		s, _ := k[name].(string)
		v, err := base64.RawURLEncoding.DecodeString(s)
		if err != nil || len(v) == 0 {
			return nil, fmt.Errorf("bad %s: want unpadded base64url", name)
		}
		return v, nil
	}
	var pk PublicKey
	switch k["kty"] {
	case "RSA":
		if alg != "" && alg != "RS256" {
			return PublicKey{}, fmt.Errorf("an RSA key's alg must be RS256")
		}
		nb, err := b("n")
		if err != nil {
			return PublicKey{}, err
		}
		eb, err := b("e")
		if err != nil {
			return PublicKey{}, err
		}
		n, e := new(big.Int).SetBytes(nb), new(big.Int).SetBytes(eb)
		if n.BitLen() < minRSABits || n.BitLen() > maxRSABits {
			return PublicKey{}, fmt.Errorf("RSA keys must have %d to %d bits", minRSABits, maxRSABits)
		}
		// RFC 7518 6.3.1: no leading zero octets; e small, odd and > 1.
		if nb[0] == 0 || eb[0] == 0 || e.BitLen() > 31 || e.Int64() < 3 || e.Bit(0) == 0 || n.Bit(0) == 0 {
			return PublicKey{}, fmt.Errorf("not a valid RSA public key")
		}
		pub := &rsa.PublicKey{N: n, E: int(e.Int64())}
		pk = PublicKey{Alg: "RS256", Key: pub,
			Thumbprint: sha256b64(`{"e":"` + b64(eb) + `","kty":"RSA","n":"` + b64(nb) + `"}`)}
	case "EC":
		if k["crv"] != "P-384" {
			return PublicKey{}, fmt.Errorf("EC keys must be P-384 (ES384)")
		}
		if alg != "" && alg != "ES384" {
			return PublicKey{}, fmt.Errorf("an EC P-384 key's alg must be ES384")
		}
		x, err := b("x")
		if err != nil {
			return PublicKey{}, err
		}
		y, err := b("y")
		if err != nil {
			return PublicKey{}, err
		}
		// RFC 7518 6.2.1.2: coordinates are the full size of the curve.
		if len(x) != 48 || len(y) != 48 {
			return PublicKey{}, fmt.Errorf("P-384 coordinates must be 48 octets")
		}
		pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P384(), append(append([]byte{4}, x...), y...))
		if err != nil {
			return PublicKey{}, fmt.Errorf("not a point on P-384")
		}
		pk = PublicKey{Alg: "ES384", Key: pub,
			Thumbprint: sha256b64(`{"crv":"P-384","kty":"EC","x":"` + b64(x) + `","y":"` + b64(y) + `"}`)}
	default:
		return PublicKey{}, fmt.Errorf("kty must be RSA or EC")
	}
	pk.KID = kid
	if pk.KID == "" {
		pk.KID = pk.Thumbprint
	}
	return pk, nil
}

func sha256b64(s string) string {
	sum := sha256.Sum256([]byte(s))
	return b64(sum[:])
}
