package subscription

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"strings"
)

// Signing secrets at rest. With a key configured (SUBSCRIPTION_SECRET_KEY,
// 32 bytes), the Service stores each new Subscription's secret sealed with
// AES-256-GCM, the Subscription's id as additional data (a sealed secret
// copied onto another row does not open), and the Deliverer opens it to
// sign each delivery: a copy of the record (a backup, a replica, a
// leaked dump) does not give away the secrets that let anyone forge
// notifications. Without a key, secrets are stored in clear, as before;
// a secret stored in clear still opens once a key is configured, so a key
// can be added to a running system (new Subscriptions are sealed; old
// ones stay in clear until re-created).

// sealedPrefix marks a sealed secret: "enc1:" + base64(nonce ‖ ciphertext).
const sealedPrefix = "enc1:"

// SecretKeySize is the key's length in bytes (AES-256).
const SecretKeySize = 32

// ErrSecretKey is a key that is not SecretKeySize bytes of base64.
var ErrSecretKey = errors.New("the Subscription secret key must be 32 bytes, base64-encoded (openssl rand -base64 32)")

// ParseSecretKey decodes a base64 (standard or URL, padded or not) key of
// SecretKeySize bytes; "" is no key.
func ParseSecretKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, nil
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if k, err := enc.DecodeString(s); err == nil && len(k) == SecretKeySize {
			return k, nil
		}
	}
	return nil, ErrSecretKey
}

func gcm(key []byte) (cipher.AEAD, error) {
	if len(key) != SecretKeySize {
		return nil, ErrSecretKey
	}
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(b)
}

// sealSecret returns secret as stored for Subscription id: sealed with
// key, or in clear without one.
func sealSecret(key []byte, id, secret string) (string, error) {
	if key == nil {
		return secret, nil
	}
	a, err := gcm(key)
	if err != nil {
		return "", err
	}
	nonce := make([]byte, a.NonceSize(), a.NonceSize()+len(secret)+a.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return "", err
	}
	return sealedPrefix + base64.RawStdEncoding.EncodeToString(a.Seal(nonce, nonce, []byte(secret), []byte(id))), nil
}

// errSealed is a sealed secret that does not open: no key, another key,
// or a secret moved from another Subscription.
var errSealed = errors.New("the signing secret is sealed with another key, or none is configured")

// openSecret returns the secret stored for Subscription id.
func openSecret(key []byte, id, stored string) (string, error) {
	b64, sealed := strings.CutPrefix(stored, sealedPrefix)
	if !sealed {
		return stored, nil
	}
	if key == nil {
		return "", errSealed
	}
	a, err := gcm(key)
	if err != nil {
		return "", err
	}
	raw, err := base64.RawStdEncoding.DecodeString(b64)
	if err != nil || len(raw) < a.NonceSize() {
		return "", errSealed
	}
	out, err := a.Open(nil, raw[:a.NonceSize()], raw[a.NonceSize():], []byte(id))
	if err != nil {
		return "", errSealed
	}
	return string(out), nil
}
