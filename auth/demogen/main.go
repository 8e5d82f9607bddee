//go:build ignore

// Command demogen makes and inspects the DEMO-ONLY client keys in
// configs/demo/keys. It is not built with the module (the build tag); run it
// by file name from the repository root:
//
//	go run auth/demogen/main.go -dir configs/demo/keys -new demo-x -kty EC
//	    writes DEMO-ONLY-demo-x.pem (P-384; -kty RSA for RSA-2048) and
//	    prints its public JWK to paste into configs/demo/clients.json
//	go run auth/demogen/main.go -dir configs/demo/keys
//	    prints the public JWK of every DEMO-ONLY-*.pem
//	go run auth/demogen/main.go -public-only -kty EC
//	    prints a fresh public JWK whose private key is thrown away: for
//	    examples that must parse but must never authenticate anyone
//
// The kid printed is the key's RFC 7638 thumbprint, as the gateway uses.
// Keys made here are public the moment they are committed: they exist so a
// newcomer can sign assertions against a local gateway, never for real data.
package main

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"flag"
	"fmt"
	"log"
	"math/big"
	"os"
	"path/filepath"
	"sort"
)

func main() {
	dir := flag.String("dir", "configs/demo/keys", "folder of DEMO-ONLY-*.pem files")
	name := flag.String("new", "", "client id to make a key for")
	kty := flag.String("kty", "EC", "EC (P-384, ES384) or RSA (2048 bits, RS256)")
	publicOnly := flag.Bool("public-only", false, "print a fresh public JWK and discard the private key")
	flag.Parse()

	if *name != "" || *publicOnly {
		priv, err := generate(*kty)
		if err != nil {
			log.Fatal(err)
		}
		if *name != "" {
			der, err := x509.MarshalPKCS8PrivateKey(priv)
			if err != nil {
				log.Fatal(err)
			}
			path := filepath.Join(*dir, "DEMO-ONLY-"+*name+".pem")
			out := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
			if err := os.WriteFile(path, out, 0o600); err != nil {
				log.Fatal(err)
			}
			fmt.Fprintln(os.Stderr, "wrote", path)
		}
		printJWK(priv.(crypto.Signer).Public())
		return
	}
	names, _ := filepath.Glob(filepath.Join(*dir, "DEMO-ONLY-*.pem"))
	sort.Strings(names)
	for _, n := range names {
		raw, err := os.ReadFile(n)
		if err != nil {
			log.Fatal(err)
		}
		block, _ := pem.Decode(raw)
		if block == nil {
			log.Fatalf("%s: not PEM", n)
		}
		k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
		if err != nil {
			if ec, err2 := x509.ParseECPrivateKey(block.Bytes); err2 == nil {
				k = ec
			} else if r, err3 := x509.ParsePKCS1PrivateKey(block.Bytes); err3 == nil {
				k = r
			} else {
				log.Fatalf("%s: %v", n, err)
			}
		}
		fmt.Println(filepath.Base(n))
		printJWK(k.(crypto.Signer).Public())
	}
}

func generate(kty string) (any, error) {
	switch kty {
	case "EC":
		return ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case "RSA":
		return rsa.GenerateKey(rand.Reader, 2048)
	}
	return nil, fmt.Errorf("-kty must be EC or RSA")
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func printJWK(pub crypto.PublicKey) {
	var jwk map[string]string
	var canonical string
	switch p := pub.(type) {
	case *ecdsa.PublicKey:
		size := (p.Curve.Params().BitSize + 7) / 8
		raw, err := p.Bytes() // 0x04 || X || Y, each full length
		if err != nil {
			log.Fatal(err)
		}
		x, y := b64(raw[1:1+size]), b64(raw[1+size:])
		crv := p.Curve.Params().Name
		alg := map[string]string{"P-256": "ES256", "P-384": "ES384"}[crv]
		jwk = map[string]string{"kty": "EC", "crv": crv, "x": x, "y": y, "alg": alg, "use": "sig"}
		canonical = `{"crv":"` + crv + `","kty":"EC","x":"` + x + `","y":"` + y + `"}`
	case *rsa.PublicKey:
		n, e := b64(p.N.Bytes()), b64(big.NewInt(int64(p.E)).Bytes())
		jwk = map[string]string{"kty": "RSA", "n": n, "e": e, "alg": "RS256", "use": "sig"}
		canonical = `{"e":"` + e + `","kty":"RSA","n":"` + n + `"}`
	default:
		log.Fatalf("unsupported key %T", pub)
	}
	sum := sha256.Sum256([]byte(canonical))
	jwk["kid"] = b64(sum[:])
	out, _ := json.MarshalIndent(jwk, "", "  ")
	fmt.Println(string(out))
}
