// Package auth is the gateway's client authentication and authorisation
// core, free of HTTP: the client registry, SMART v2 system scopes, signed-JWT
// client assertions (RFC 7523 private_key_jwt, as NHS England's
// application-restricted APIs and SMART Backend Services use), and the
// gateway's own short-lived access tokens. The gateway package wires it to
// /oauth2/token and to its bearer middleware.
package auth

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
)

// Role is what kind of organisation a client acts for.
type Role string

// The roles.
const (
	RoleTrust        Role = "trust"         // an NHS trust: its own cases only
	RoleHub          Role = "hub"           // a care transfer hub: its member trusts' cases, read-only
	RoleCareProvider Role = "care-provider" // care-home or home-care software: its own locations
	RoleAdmin        Role = "admin"         // operators: audit only, never patient data
)

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
	KID string
	Alg string // RS256 or ES384, from the key type
	Key crypto.PublicKey
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

// Demo reports whether any client is a demo client.
func (r *Registry) Demo() bool { return r.demo }

type registryFile struct {
	Clients []struct {
		ID        string          `json:"clientId"`
		Org       string          `json:"organization"`
		OrgSystem string          `json:"organizationSystem"`
		Role      Role            `json:"role"`
		Members   []string        `json:"memberTrusts"`
		Scopes    []string        `json:"scopes"`
		JWKS      json.RawMessage `json:"jwks"`
		JWKSFile  string          `json:"jwksFile"`
		Demo      bool            `json:"demo"`
	} `json:"clients"`
}

// LoadRegistry reads a client registry file (format: configs/clients.example.json).
func LoadRegistry(path string) (*Registry, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var f registryFile
	if err := json.Unmarshal(raw, &f); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	reg := &Registry{clients: map[string]*Client{}}
	for i, fc := range f.Clients {
		at := fmt.Sprintf("%s: clients[%d]", path, i)
		switch {
		case fc.ID == "":
			return nil, fmt.Errorf("%s: clientId is required", at)
		case reg.clients[fc.ID] != nil:
			return nil, fmt.Errorf("%s: clientId %q is repeated", at, fc.ID)
		case fc.Org == "":
			return nil, fmt.Errorf("%s: organization is required", at)
		}
		switch fc.Role {
		case RoleTrust, RoleCareProvider, RoleAdmin:
		case RoleHub:
			if len(fc.Members) == 0 {
				return nil, fmt.Errorf("%s: a hub needs memberTrusts", at)
			}
		default:
			return nil, fmt.Errorf("%s: role %q is not trust, hub, care-provider or admin", at, fc.Role)
		}
		jwks := fc.JWKS
		if fc.JWKSFile != "" {
			p := fc.JWKSFile
			if !filepath.IsAbs(p) {
				p = filepath.Join(filepath.Dir(path), p)
			}
			if jwks, err = os.ReadFile(p); err != nil {
				return nil, fmt.Errorf("%s: %w", at, err)
			}
		}
		keys, err := ParseJWKS(jwks)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", at, err)
		}
		if len(keys) == 0 {
			return nil, fmt.Errorf("%s: at least one public key (jwks or jwksFile) is required", at)
		}
		if _, err := ParseScopes(joinScopes(fc.Scopes)); err != nil {
			return nil, fmt.Errorf("%s: %w", at, err)
		}
		sys := fc.OrgSystem
		if sys == "" {
			sys = "https://fhir.nhs.uk/Id/ods-organization-code"
			if fc.Role == RoleCareProvider {
				sys = "https://cqc.org.uk/provider-id"
			}
		}
		reg.clients[fc.ID] = &Client{ID: fc.ID, Org: fc.Org, OrgSystem: sys, Role: fc.Role, Members: fc.Members,
			Scopes: fc.Scopes, Keys: keys, Demo: fc.Demo}
		reg.demo = reg.demo || fc.Demo
	}
	return reg, nil
}

func joinScopes(s []string) string {
	out := ""
	for i, x := range s {
		if i > 0 {
			out += " "
		}
		out += x
	}
	return out
}

// ParseJWKS reads the public keys of a JWK Set: RSA (RS256, at least 2048
// bits) and EC P-384 (ES384). jwt/v5 verifies signatures but does not parse
// JWKs, and the standard library has the primitives.
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
		if _, private := k["d"]; private {
			return nil, fmt.Errorf("jwks key %d holds a private key: register public keys only", i)
		}
		kid, _ := k["kid"].(string)
		b := func(name string) (*big.Int, error) {
			s, _ := k[name].(string)
			v, err := base64.RawURLEncoding.DecodeString(s)
			if err != nil || len(v) == 0 {
				return nil, fmt.Errorf("jwks key %d: bad %s", i, name)
			}
			return new(big.Int).SetBytes(v), nil
		}
		switch k["kty"] {
		case "RSA":
			n, err := b("n")
			if err != nil {
				return nil, err
			}
			e, err := b("e")
			if err != nil {
				return nil, err
			}
			if n.BitLen() < 2048 {
				return nil, fmt.Errorf("jwks key %d: RSA keys must have at least 2048 bits", i)
			}
			out = append(out, PublicKey{KID: kid, Alg: "RS256", Key: &rsa.PublicKey{N: n, E: int(e.Int64())}})
		case "EC":
			if k["crv"] != "P-384" {
				return nil, fmt.Errorf("jwks key %d: EC keys must be P-384 (ES384)", i)
			}
			x, err := b("x")
			if err != nil {
				return nil, err
			}
			y, err := b("y")
			if err != nil {
				return nil, err
			}
			pub := &ecdsa.PublicKey{Curve: elliptic.P384(), X: x, Y: y}
			if !pub.Curve.IsOnCurve(x, y) {
				return nil, fmt.Errorf("jwks key %d: point is not on P-384", i)
			}
			out = append(out, PublicKey{KID: kid, Alg: "ES384", Key: pub})
		default:
			return nil, fmt.Errorf("jwks key %d: kty must be RSA or EC", i)
		}
	}
	return out, nil
}
