package auth_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"testing"

	"github.com/golang-jwt/jwt/v5"

	"github.com/dischargegateway/gateway/auth"
)

const benchScopes = "system/Patient.cruds system/Encounter.cruds system/ServiceRequest.cruds"

func BenchmarkIssue(b *testing.B) {
	iss := newIssuer(b)
	sc := scopes(b, benchScopes)
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := iss.Issue(hubQXH, sc); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifyAccess(b *testing.B) {
	iss := newIssuer(b)
	tok, _, _ := iss.Issue(hubQXH, scopes(b, benchScopes))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := iss.VerifyAccess(tok); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyAssertion is the token endpoint's cost per request,
// signature and in-memory replay check included.
func BenchmarkVerifyAssertion(b *testing.B) {
	for _, tc := range []struct {
		client string
		m      jwt.SigningMethod
	}{{"demo-trust-rxa", jwt.SigningMethodES384}, {"demo-trust-rxb", jwt.SigningMethodRS256}} {
		b.Run(tc.m.Alg(), func(b *testing.B) {
			v := newVerifier(b)
			key := demoKey(b, tc.client)
			// Distinct jti per op; signing happens outside the timer.
			as := make([]string, 0, 1024)
			for range cap(as) {
				as = append(as, sign(b, tc.m, key, good(tc.client), nil))
			}
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if i == len(as) {
					b.StopTimer()
					v.Replay = &auth.MemoryReplay{Now: v.Now}
					i = 0
					b.StartTimer()
				}
				if _, err := v.VerifyAssertion(context.Background(), auth.AssertionType, as[i]); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}

// BenchmarkSHA256 hashes a payload the size of an access token: the
// floor any signing scheme pays, for comparison in the same run.
func BenchmarkSHA256(b *testing.B) {
	iss := newIssuer(b)
	tok, _, _ := iss.Issue(hubQXH, scopes(b, benchScopes))
	payload := []byte(tok)
	b.SetBytes(int64(len(payload)))
	for b.Loop() {
		sha256.Sum256(payload)
	}
}

// BenchmarkECDSAP256Raw signs and verifies a digest with the standard
// library alone: what Issue and VerifyAccess cost beyond the JWT layer.
func BenchmarkECDSAP256Raw(b *testing.B) {
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	digest := sha256.Sum256([]byte("payload"))
	sig, _ := ecdsa.SignASN1(rand.Reader, k, digest[:])
	b.Run("sign", func(b *testing.B) {
		for b.Loop() {
			if _, err := ecdsa.SignASN1(rand.Reader, k, digest[:]); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("verify", func(b *testing.B) {
		for b.Loop() {
			if !ecdsa.VerifyASN1(&k.PublicKey, digest[:], sig) {
				b.Fatal("bad signature")
			}
		}
	})
}
