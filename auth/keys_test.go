package auth_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"testing"

	"github.com/dischargegateway/gateway/auth"
)

func writePEM(t *testing.T, path string, key any) {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestJWKSHasNoPrivateParts(t *testing.T) {
	ks, _ := auth.GenerateKeySet()
	k2, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ks = ks.With(k2)
	var set struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal(ks.JWKS(), &set); err != nil {
		t.Fatal(err)
	}
	if len(set.Keys) != 2 {
		t.Fatalf("%d keys", len(set.Keys))
	}
	public := map[string]bool{"kty": true, "crv": true, "x": true, "y": true, "kid": true, "alg": true, "use": true}
	for i, k := range set.Keys {
		for m := range k {
			if !public[m] {
				t.Errorf("key %d publishes %q", i, m)
			}
		}
		if k["kid"] != ks.KIDs()[i] || k["alg"] != "ES256" || k["crv"] != "P-256" {
			t.Errorf("key %d: %v", i, k)
		}
	}
	// The kid is an RFC 7638 thumbprint: base64url of a SHA-256.
	if len(ks.KIDs()[0]) != 43 {
		t.Fatalf("kid %q is not a base64url SHA-256", ks.KIDs()[0])
	}
}

func TestLoadKeySet(t *testing.T) {
	p256 := func() *ecdsa.PrivateKey { k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader); return k }
	t.Run("the name sorting last signs; all verify", func(t *testing.T) {
		dir := t.TempDir()
		a, b := p256(), p256()
		writePEM(t, filepath.Join(dir, "2026-12-01.pem"), b)
		writePEM(t, filepath.Join(dir, "2026-11-01.pem"), a)
		_ = os.WriteFile(filepath.Join(dir, "README.txt"), []byte("not a key"), 0o600)
		ks, err := auth.LoadKeySet(dir)
		if err != nil {
			t.Fatal(err)
		}
		if len(ks.KIDs()) != 2 {
			t.Fatalf("%v", ks.KIDs())
		}
		// The current key is b's.
		only := (&auth.KeySet{}).With(b)
		if ks.CurrentKID() != only.CurrentKID() {
			t.Fatal("the newest file does not sign")
		}
	})
	t.Run("SEC 1 EC PRIVATE KEY", func(t *testing.T) {
		dir := t.TempDir()
		der, _ := x509.MarshalECPrivateKey(p256())
		_ = os.WriteFile(filepath.Join(dir, "k.pem"), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}), 0o600)
		if _, err := auth.LoadKeySet(dir); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("demo signing key", func(t *testing.T) {
		if _, err := auth.LoadKeySet(filepath.Join(demoDir, "signing")); err != nil {
			t.Fatal(err)
		}
	})
	refused := map[string]func(t *testing.T, dir string){
		"empty folder": func(*testing.T, string) {},
		"P-384 key": func(t *testing.T, dir string) {
			k, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
			writePEM(t, filepath.Join(dir, "k.pem"), k)
		},
		"RSA key": func(t *testing.T, dir string) {
			k, _ := rsa.GenerateKey(rand.Reader, 2048)
			writePEM(t, filepath.Join(dir, "k.pem"), k)
		},
		"same key twice": func(t *testing.T, dir string) {
			k := p256()
			writePEM(t, filepath.Join(dir, "a.pem"), k)
			writePEM(t, filepath.Join(dir, "b.pem"), k)
		},
		"not PEM": func(t *testing.T, dir string) { _ = os.WriteFile(filepath.Join(dir, "k.pem"), []byte("hello"), 0o600) },
		"public key PEM": func(t *testing.T, dir string) {
			der, _ := x509.MarshalPKIXPublicKey(p256().Public())
			_ = os.WriteFile(filepath.Join(dir, "k.pem"), pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o600)
		},
	}
	for name, setup := range refused {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			setup(t, dir)
			if _, err := auth.LoadKeySet(dir); err == nil {
				t.Fatal("accepted")
			}
		})
	}
}
