package main

import (
	"flag"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/dischargegateway/gateway/adapters/rediscache"
	"github.com/dischargegateway/gateway/auth"
	"github.com/dischargegateway/gateway/gateway"
	"github.com/dischargegateway/gateway/internal/wiring"
)

// tokenIssuer is the iss (and aud) of the gateway's access tokens. It is
// fixed rather than taken from each request so that `gateway token` and
// the server agree; the signing keys make it unique to a deployment.
func tokenIssuer(cfg config) string {
	if cfg.BaseURL != "" {
		return strings.TrimSuffix(cfg.BaseURL, "/fhir")
	}
	return "urn:discharge-gateway"
}

// newIssuer is the gateway's token issuer; the server and `gateway token`
// build it the same way so that their tokens agree.
func newIssuer(cfg config, keys *auth.KeySet) *auth.Issuer {
	iss := tokenIssuer(cfg)
	return &auth.Issuer{Keys: keys, Issuer: iss, Audience: iss, TTL: cfg.TokenTTL}
}

type securityParts struct {
	registry *auth.Registry
	issuer   *auth.Issuer
	gw       gateway.Security
}

// loadSecurity loads the client registry and the signing keys: the real
// ones when configured, else the demo ones, which production refuses.
func loadSecurity(cfg config) (*auth.Registry, *auth.KeySet, error) {
	regPath := cfg.ClientsFile
	if regPath == "" {
		regPath = filepath.Join(cfg.DemoDir, "clients.json")
	}
	reg, err := auth.LoadRegistry(regPath)
	if err != nil {
		return nil, nil, fmt.Errorf("client registry: %w", err)
	}
	keysDir := cfg.SigningKeysDir
	demoKeys := keysDir == ""
	if demoKeys {
		if !reg.Demo() {
			return nil, nil, fmt.Errorf("GATEWAY_SIGNING_KEYS_DIR is required with a real client registry")
		}
		keysDir = filepath.Join(cfg.DemoDir, "signing")
	}
	if cfg.Env == "production" && (reg.Demo() || demoKeys) {
		return nil, nil, fmt.Errorf("GATEWAY_ENV=production refuses demo clients and demo signing keys: set GATEWAY_CLIENTS and GATEWAY_SIGNING_KEYS_DIR")
	}
	keys, err := auth.LoadKeySet(keysDir)
	if err != nil {
		return nil, nil, fmt.Errorf("signing keys: %w", err)
	}
	return reg, keys, nil
}

// security is the server's security: the registry and keys, token replay
// and rate limits in Redis, the audit trail in the record.
func security(cfg config, st *wiring.Stores, log *slog.Logger) (*securityParts, error) {
	reg, keys, err := loadSecurity(cfg)
	if err != nil {
		return nil, err
	}
	issuer := newIssuer(cfg, keys)
	sp := &securityParts{registry: reg, issuer: issuer, gw: gateway.Security{
		Verifier: &auth.Verifier{Registry: reg, Replay: rediscache.NewReplay(st.Redis.Client)},
		Issuer:   issuer,
		Audit:    st.Audit,
	}}
	if cfg.RateLimit > 0 {
		sp.gw.Limiter = wiring.RateLimiter(st.Redis, cfg.RateLimit, log)
	}
	return sp, nil
}

// demoTokenTTL is the lifetime of the tokens printed at start with the demo
// registry and of `gateway token`'s with it: a newcomer following the
// README should not find the token they minted dead five minutes into the
// walk-through while the printed ones last the day. Real registries keep
// GATEWAY_TOKEN_TTL: a bearer token cannot be revoked before it expires.
const demoTokenTTL = 24 * time.Hour

// printDemoTokens prints a ready-to-use token per demo client, valid for a
// day, so a newcomer can curl at once.
func printDemoTokens(w io.Writer, sec *securityParts) {
	clients := sec.registry.Clients()
	sort.Slice(clients, func(i, j int) bool { return clients[i].ID < clients[j].ID })
	day := *sec.issuer
	day.TTL = demoTokenTTL
	fmt.Fprintf(w, "DEMO access tokens (valid %s, until %s; demo clients only; never for real data):\n",
		demoTokenTTL, time.Now().Add(demoTokenTTL).UTC().Format(time.RFC3339))
	for _, c := range clients {
		scopes, err := auth.Grant(c, "")
		if err != nil {
			continue
		}
		tok, _, err := day.Issue(c, scopes)
		if err != nil {
			continue
		}
		fmt.Fprintf(w, "  %-18s %-14s %s\n    export TOKEN_%s=%s\n", c.ID, c.Role, c.Org, strings.ToUpper(strings.NewReplacer("-", "_").Replace(c.ID)), tok)
	}
}

// mintToken is `gateway token --client ID [--scope S] [--ttl D]`: an access
// token signed with the gateway's own key, for operators and scripts. The
// token alone goes to stdout, for TOKEN=$(gateway token ...); when it
// expires goes to stderr.
func mintToken(args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("token", flag.ContinueOnError)
	client := fs.String("client", "", "client id from the registry")
	scope := fs.String("scope", "", "space-separated SMART system scopes (default: all the client may have)")
	ttl := fs.Duration("ttl", 0, "token lifetime (default GATEWAY_TOKEN_TTL; 24h with the demo registry, as the tokens printed at start)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, err := loadConfig(getenv)
	if err != nil {
		return err
	}
	reg, keys, err := loadSecurity(cfg)
	if err != nil {
		return err
	}
	c, ok := reg.Client(*client)
	if !ok {
		return fmt.Errorf("no client %q in the registry", *client)
	}
	scopes, err := auth.Grant(c, *scope)
	if err != nil {
		return err
	}
	issuer := newIssuer(cfg, keys)
	if reg.Demo() {
		issuer.TTL = demoTokenTTL
	}
	if *ttl > 0 {
		issuer.TTL = *ttl
	}
	now := time.Now()
	issuer.Now = func() time.Time { return now }
	tok, expiresIn, err := issuer.Issue(c, scopes)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, tok)
	fmt.Fprintf(stderr, "token for %s expires at %s (in %s)\n", c.ID,
		now.Add(time.Duration(expiresIn)*time.Second).UTC().Format(time.RFC3339), time.Duration(expiresIn)*time.Second)
	return nil
}
