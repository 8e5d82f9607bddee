package auth

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"sort"
)

// signingKey is one of the gateway's own ES256 keys.
type signingKey struct {
	kid  string
	priv *ecdsa.PrivateKey
}

// KeySet is the gateway's token signing keys: the newest signs, and every
// key in the set verifies, so tokens signed before a rotation stay valid
// until they expire.
type KeySet struct {
	keys []signingKey // oldest first; the last one signs
}

// GenerateKeySet makes a one-key set in memory (tests, single-process use).
func GenerateKeySet() (*KeySet, error) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	return &KeySet{keys: []signingKey{{kid: thumbprint(&priv.PublicKey), priv: priv}}}, nil
}

// LoadKeySet reads every *.pem file in dir (GATEWAY_SIGNING_KEYS_DIR): P-256
// EC private keys, SEC 1 or PKCS#8, unencrypted. Files sort by name, so
// name them by date (2026-12-01.pem): the last signs, the others only
// verify, and all are published in JWKS. To rotate: add a file whose name
// sorts last and restart every instance (JWKS consumers see the new key as
// soon as one instance has it; tokens of the old key still verify
// everywhere); once the longest token TTL has passed, delete the old file
// and restart again. A key that appears twice is an error, as is an empty
// folder: the gateway never falls back to an ephemeral key by itself.
func LoadKeySet(dir string) (*KeySet, error) {
	names, err := filepath.Glob(filepath.Join(dir, "*.pem"))
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	ks := &KeySet{}
	for _, n := range names {
		raw, err := os.ReadFile(n)
		if err != nil {
			return nil, err
		}
		priv, err := ParseECPrivateKey(raw)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", n, err)
		}
		if priv.Curve != elliptic.P256() {
			return nil, fmt.Errorf("%s: the gateway signs with ES256: use a P-256 key", n)
		}
		kid := thumbprint(&priv.PublicKey)
		if _, dup := ks.public(kid); dup {
			return nil, fmt.Errorf("%s: the same key is in another file", n)
		}
		ks.keys = append(ks.keys, signingKey{kid: kid, priv: priv})
	}
	if len(ks.keys) == 0 {
		return nil, fmt.Errorf("no *.pem signing keys in %s", dir)
	}
	return ks, nil
}

// ParseECPrivateKey reads a PEM EC private key (SEC 1 or PKCS#8).
func ParseECPrivateKey(raw []byte) (*ecdsa.PrivateKey, error) {
	block, _ := pem.Decode(raw)
	if block == nil {
		return nil, fmt.Errorf("not PEM")
	}
	if block.Type != "EC PRIVATE KEY" && block.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("PEM type %q: want an unencrypted EC PRIVATE KEY or PRIVATE KEY", block.Type)
	}
	if k, err := x509.ParseECPrivateKey(block.Bytes); err == nil {
		return k, nil
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, err
	}
	ec, ok := k.(*ecdsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("not an EC private key")
	}
	return ec, nil
}

func (ks *KeySet) current() signingKey { return ks.keys[len(ks.keys)-1] }

// CurrentKID is the kid of the signing key.
func (ks *KeySet) CurrentKID() string { return ks.current().kid }

func (ks *KeySet) public(kid string) (*ecdsa.PublicKey, bool) {
	for _, k := range ks.keys {
		if k.kid == kid {
			return &k.priv.PublicKey, true
		}
	}
	return nil, false
}

// KIDs lists the kids of the set, oldest first; the last one signs.
func (ks *KeySet) KIDs() []string {
	out := make([]string, len(ks.keys))
	for i, k := range ks.keys {
		out[i] = k.kid
	}
	return out
}

// Without returns the set without the key kid: what remains after an old
// key is retired.
func (ks *KeySet) Without(kid string) *KeySet {
	out := &KeySet{}
	for _, k := range ks.keys {
		if k.kid != kid {
			out.keys = append(out.keys, k)
		}
	}
	return out
}

// With returns the set with a new signing key added last.
func (ks *KeySet) With(priv *ecdsa.PrivateKey) *KeySet {
	out := &KeySet{keys: append(append([]signingKey(nil), ks.keys...), signingKey{kid: thumbprint(&priv.PublicKey), priv: priv})}
	return out
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func ecCoords(pub *ecdsa.PublicKey) (x, y string) {
	size := (pub.Curve.Params().BitSize + 7) / 8
	bx, by := make([]byte, size), make([]byte, size)
	pub.X.FillBytes(bx)
	pub.Y.FillBytes(by)
	return b64(bx), b64(by)
}

// thumbprint is the RFC 7638 JWK thumbprint, used as the kid.
func thumbprint(pub *ecdsa.PublicKey) string {
	x, y := ecCoords(pub)
	sum := sha256.Sum256([]byte(`{"crv":"P-256","kty":"EC","x":"` + x + `","y":"` + y + `"}`))
	return b64(sum[:])
}

// JWKS publishes the public halves of every key in the set, as the body of
// /.well-known/jwks.json. It is built from the public key alone, field by
// field, so no private member can leak into it.
func (ks *KeySet) JWKS() []byte {
	type jwk struct {
		Kty string `json:"kty"`
		Crv string `json:"crv"`
		X   string `json:"x"`
		Y   string `json:"y"`
		Kid string `json:"kid"`
		Alg string `json:"alg"`
		Use string `json:"use"`
	}
	var set struct {
		Keys []jwk `json:"keys"`
	}
	for _, k := range ks.keys {
		x, y := ecCoords(&k.priv.PublicKey)
		set.Keys = append(set.Keys, jwk{Kty: "EC", Crv: "P-256", X: x, Y: y, Kid: k.kid, Alg: "ES256", Use: "sig"})
	}
	b, _ := json.Marshal(set)
	return b
}
