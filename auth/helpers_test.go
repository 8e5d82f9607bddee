package auth_test

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/dischargegateway/gateway/auth"
	"github.com/dischargegateway/gateway/discharge"
)

var demoDir = filepath.Join("..", "configs", "demo")

// demoKey reads a demo client's committed private key.
func demoKey(t testing.TB, clientID string) any {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(demoDir, "keys", "DEMO-ONLY-"+clientID+".pem"))
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(raw)
	if block == nil {
		t.Fatalf("%s: not PEM", clientID)
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func demoRegistry(t testing.TB) *auth.Registry {
	t.Helper()
	reg, err := auth.DemoRegistry(demoDir)
	if err != nil {
		t.Fatal(err)
	}
	return reg
}

// wantAuthErr checks err is a *discharge.Error of kind with detail as its
// first issue's Detail ("" for none).
func wantAuthErr(t *testing.T, err error, kind discharge.Kind, detail string) *discharge.Error {
	t.Helper()
	var de *discharge.Error
	if !errors.As(err, &de) {
		t.Fatalf("want *discharge.Error %s/%q, got %v", kind, detail, err)
	}
	if de.Kind != kind {
		t.Fatalf("kind %s, want %s (%v)", de.Kind, kind, err)
	}
	got := ""
	if len(de.Issues) > 0 {
		got = de.Issues[0].Detail
	}
	if got != detail {
		t.Fatalf("detail %q, want %q (%v)", got, detail, err)
	}
	return de
}
