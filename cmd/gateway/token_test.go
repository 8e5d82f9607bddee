package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// lifetime is exp - iat of a JWT, read without verifying it.
func lifetime(t *testing.T, jwt string) time.Duration {
	t.Helper()
	parts := strings.Split(strings.TrimSpace(jwt), ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", jwt)
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c struct{ Iat, Exp int64 }
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	return time.Duration(c.Exp-c.Iat) * time.Second
}

// TestTokenLifetimes: with the demo registry, `gateway token` lasts as long
// as the tokens printed at start (the README walk-through mints one and
// uses it for a while); with a real registry it is GATEWAY_TOKEN_TTL; --ttl
// overrides both; and the expiry is told on stderr.
func TestTokenLifetimes(t *testing.T) {
	demo := filepath.Join("..", "..", "configs", "demo")
	cfg, err := loadConfig(func(k string) string { return map[string]string{"GATEWAY_DEMO_DIR": demo}[k] })
	if err != nil {
		t.Fatal(err)
	}
	reg, keys, err := loadSecurity(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var printed bytes.Buffer
	printDemoTokens(&printed, &securityParts{registry: reg, issuer: newIssuer(cfg, keys)})
	out := printed.String()
	i := strings.Index(out, "export TOKEN_DEMO_TRUST_RXA=")
	if i < 0 {
		t.Fatalf("no demo token printed: %s", out)
	}
	startup := lifetime(t, strings.Fields(out[i+len("export TOKEN_DEMO_TRUST_RXA="):])[0])
	if !strings.Contains(out, "until ") {
		t.Errorf("printed tokens do not say until when: %s", out)
	}

	for _, tc := range []struct {
		name   string
		env    map[string]string
		args   []string
		want   time.Duration
		client string
	}{
		{"demo registry: as the start-up tokens", map[string]string{"GATEWAY_DEMO_DIR": demo}, nil, startup, "demo-trust-rxa"},
		{"demo registry with --ttl", map[string]string{"GATEWAY_DEMO_DIR": demo}, []string{"--ttl", "1h"}, time.Hour, "demo-trust-rxa"},
		{"real registry: GATEWAY_TOKEN_TTL", map[string]string{"GATEWAY_DEMO_DIR": demo,
			"GATEWAY_CLIENTS":          filepath.Join("..", "..", "configs", "clients.example.json"),
			"GATEWAY_SIGNING_KEYS_DIR": filepath.Join(demo, "signing"), "GATEWAY_TOKEN_TTL": "10m"}, nil, 10 * time.Minute, "rxx-epr-prod"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			args := append([]string{"token", "--client", tc.client}, tc.args...)
			if err := run(context.Background(), args, func(k string) string { return tc.env[k] }, &stdout, &stderr, nil); err != nil {
				t.Fatal(err)
			}
			if got := lifetime(t, stdout.String()); got != tc.want {
				t.Errorf("lifetime %s, want %s", got, tc.want)
			}
			if !strings.Contains(stderr.String(), "expires at") || strings.Contains(stdout.String(), "expires") {
				t.Errorf("the expiry belongs on stderr and only the token on stdout:\nstdout %s\nstderr %s", stdout.String(), stderr.String())
			}
		})
	}
	if startup != 24*time.Hour {
		t.Errorf("start-up tokens last %s", startup)
	}
}
