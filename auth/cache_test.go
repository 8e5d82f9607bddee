package auth_test

import (
	"testing"
	"time"

	"github.com/dischargegateway/gateway/auth"
)

// TestAccessVerifierCachesUntilExpiry: a verified token is answered from
// the cache (it verifies even after the issuer's keys are gone), a token
// past its expiry is refused though cached, and a token that fails to
// verify is never cached.
func TestAccessVerifierCachesUntilExpiry(t *testing.T) {
	iss := newIssuer(t)
	tok, _, err := iss.Issue(trustRXA, scopes(t, "system/Encounter.rs"))
	if err != nil {
		t.Fatal(err)
	}
	now := t0
	v := auth.NewAccessVerifier(iss, func() time.Time { return now })
	p, err := v.Verify(tok)
	if err != nil || p.Org != "RXA" {
		t.Fatalf("%+v %v", p, err)
	}
	keys := iss.Keys
	iss.Keys = nil // a second verification would now fail: the answer is the cache's
	if p2, err := v.Verify(tok); err != nil || p2 != p {
		t.Fatalf("not answered from the cache: %v", err)
	}
	now = p.Expires.Add(time.Second)
	if _, err := v.Verify(tok); err == nil {
		t.Fatal("an expired token was taken from the cache")
	}
	iss.Keys = keys
	if _, err := v.Verify(tok + "x"); err == nil {
		t.Fatal("a forged token verified")
	}
	iss.Keys = nil
	if _, err := v.Verify(tok + "x"); err == nil {
		t.Fatal("a token that failed to verify was cached")
	}
}
