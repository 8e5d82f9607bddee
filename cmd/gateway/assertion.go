package main

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/dischargegateway/gateway/auth"
)

// assertionLifetime is how far ahead a signed assertion's exp is. The
// gateway refuses more than auth.MaxAssertionLifetime (5 min, SMART Backend
// Services and NHS England) plus 30 s of skew; a minute less leaves room
// for a client clock that runs ahead of the gateway's.
const assertionLifetime = auth.MaxAssertionLifetime - time.Minute

// clientAssertion is `gateway client-assertion --client ID --key key.pem
// [--kid K] [--token-url URL] [--scope S] [--fetch]`: the production way in,
// runnable. It signs an RFC 7523 client assertion with the client's private
// key, as an EPR's integration engine would, and prints it; with --fetch it
// also exchanges it at the token endpoint (client_credentials) and prints
// the token response. Nothing here uses the gateway's own keys.
func clientAssertion(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("client-assertion", flag.ContinueOnError)
	fs.SetOutput(stderr)
	client := fs.String("client", "", "the client id the operator registered (iss and sub)")
	keyFile := fs.String("key", "", "PEM private key of the client: RSA 2048+ bits (RS256) or EC P-384 (ES384); PKCS#8, PKCS#1 or SEC 1")
	kid := fs.String("kid", "", "kid of the registered public key (recommended when the client has several)")
	tokenURL := fs.String("token-url", "", "the token endpoint, exactly as the gateway publishes it (default from GATEWAY_BASE_URL, else http://localhost:8080/oauth2/token)")
	scope := fs.String("scope", "", "with --fetch: space-separated SMART system scopes to ask for (default: all the client may have)")
	fetch := fs.Bool("fetch", false, "POST the assertion to the token endpoint and print the access token response")
	printJWKS := fs.Bool("print-jwks", false, "print the key's public JWK Set (to send to the gateway's operator) instead of an assertion")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *keyFile == "" || (*client == "" && !*printJWKS) {
		return fmt.Errorf("usage: gateway client-assertion --client ID --key key.pem [--kid K] [--token-url URL] [--scope S] [--fetch | --print-jwks]")
	}
	if *tokenURL == "" {
		*tokenURL = "http://localhost:8080/oauth2/token"
		if base := strings.TrimRight(getenv("GATEWAY_BASE_URL"), "/"); base != "" {
			*tokenURL = strings.TrimSuffix(base, "/fhir") + "/oauth2/token"
		}
	}
	pemBytes, err := os.ReadFile(*keyFile)
	if err != nil {
		return err
	}
	key, method, err := signingKey(pemBytes)
	if err != nil {
		return fmt.Errorf("%s: %w", *keyFile, err)
	}
	if *printJWKS {
		set, err := publicJWKS(key, method, *kid)
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, string(set))
		return nil
	}
	assertion, err := signAssertion(*client, *tokenURL, *kid, key, method, time.Now())
	if err != nil {
		return err
	}
	if !*fetch {
		fmt.Fprintln(stdout, assertion)
		return nil
	}
	form := url.Values{"grant_type": {"client_credentials"}, "client_assertion_type": {auth.AssertionType},
		"client_assertion": {assertion}}
	if *scope != "" {
		form.Set("scope", *scope)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, *tokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	hc := &http.Client{Timeout: 30 * time.Second}
	res, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if err != nil {
		return err
	}
	if res.StatusCode != http.StatusOK {
		// The OperationOutcome says which OAuth error (invalid_client ...)
		// and why: show it as it came.
		fmt.Fprintln(stderr, strings.TrimSpace(string(body)))
		return fmt.Errorf("the token endpoint answered %s", res.Status)
	}
	fmt.Fprintln(stdout, strings.TrimSpace(string(body)))
	return nil
}

// signingKey reads a PEM private key and picks the JWS algorithm the
// gateway accepts for it: RS256 for RSA, ES384 for EC P-384. Anything else
// is refused here rather than at the gateway, with the reason.
func signingKey(pemBytes []byte) (crypto.Signer, jwt.SigningMethod, error) {
	block, _ := pem.Decode(pemBytes)
	if block == nil {
		return nil, nil, errors.New("no PEM block")
	}
	var key any
	var err error
	switch block.Type {
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(block.Bytes)
	default:
		return nil, nil, fmt.Errorf("PEM block %q is not a private key", block.Type)
	}
	if err != nil {
		return nil, nil, err
	}
	switch k := key.(type) {
	case *rsa.PrivateKey:
		if k.N.BitLen() < 2048 {
			return nil, nil, fmt.Errorf("RSA key of %d bits: the gateway needs at least 2048", k.N.BitLen())
		}
		return k, jwt.SigningMethodRS256, nil
	case *ecdsa.PrivateKey:
		if k.Curve != elliptic.P384() {
			return nil, nil, fmt.Errorf("EC key on %s: the gateway takes P-384 (ES384)", k.Curve.Params().Name)
		}
		return k, jwt.SigningMethodES384, nil
	}
	return nil, nil, fmt.Errorf("a %T key: the gateway takes RSA (RS256) or EC P-384 (ES384)", key)
}

// signAssertion makes the RFC 7523 client assertion: iss = sub = the client
// id, aud = the token endpoint, a random jti (the gateway refuses one it
// has seen), iat now and exp assertionLifetime later.
func signAssertion(clientID, tokenURL, kid string, key crypto.Signer, method jwt.SigningMethod, now time.Time) (string, error) {
	var jti [16]byte
	if _, err := rand.Read(jti[:]); err != nil {
		return "", err
	}
	t := jwt.NewWithClaims(method, jwt.RegisteredClaims{
		Issuer: clientID, Subject: clientID, Audience: jwt.ClaimStrings{tokenURL},
		IssuedAt: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(now.Add(assertionLifetime)),
		ID: hex.EncodeToString(jti[:]),
	})
	if kid != "" {
		t.Header["kid"] = kid
	}
	return t.SignedString(key)
}

// publicJWKS is the JWK Set of the key's public half, as the client
// registry takes it (configs/clients.example.json): kty and its members,
// alg, use sig, and kid (the RFC 7638 thumbprint unless one is given).
// Only public members are written.
func publicJWKS(key crypto.Signer, method jwt.SigningMethod, kid string) ([]byte, error) {
	b64 := base64.RawURLEncoding.EncodeToString
	var members map[string]string // the RFC 7638 required members
	switch pub := key.Public().(type) {
	case *rsa.PublicKey:
		members = map[string]string{"kty": "RSA", "n": b64(pub.N.Bytes()), "e": b64(big.NewInt(int64(pub.E)).Bytes())}
	case *ecdsa.PublicKey:
		ecdh, err := pub.ECDH()
		if err != nil {
			return nil, err
		}
		raw := ecdh.Bytes() // 0x04 || X || Y, each padded to the curve size
		n := (len(raw) - 1) / 2
		members = map[string]string{"kty": "EC", "crv": "P-384", "x": b64(raw[1 : 1+n]), "y": b64(raw[1+n:])}
	default:
		return nil, fmt.Errorf("a %T key has no JWK here", pub)
	}
	if kid == "" {
		// RFC 7638: the required members, in lexicographic order, no
		// whitespace; encoding/json sorts map keys.
		canon, err := json.Marshal(members)
		if err != nil {
			return nil, err
		}
		sum := sha256.Sum256(canon)
		kid = b64(sum[:])
	}
	jwk := map[string]string{"alg": method.Alg(), "use": "sig", "kid": kid}
	for k, v := range members {
		jwk[k] = v
	}
	return json.MarshalIndent(map[string]any{"keys": []any{jwk}}, "", "  ")
}
