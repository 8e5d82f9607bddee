package gateway

import (
	"encoding/json"
	"math"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/dischargegateway/gateway/auth"
	"github.com/dischargegateway/gateway/discharge"
)

// rootURL is the gateway's public root (the FHIR base without /fhir).
func (s *Server) rootURL(c echo.Context) string {
	return strings.TrimSuffix(s.baseURL(c), "/fhir")
}

// tokenURL is the token endpoint: the aud every client assertion must name.
func (s *Server) tokenURL(c echo.Context) string { return s.rootURL(c) + tokenPath }

// tokenPath is the token endpoint's route.
const tokenPath = "/oauth2/token"

// token is POST /oauth2/token: the client_credentials grant with a signed
// JWT client assertion (RFC 7523, SMART Backend Services). Errors are
// RFC 6749 section 5.2 JSON ({"error", "error_description"}), rendered by
// oauthError for every error on this route, echo's own included.
//
// Requests are rate-limited twice with the Security limiter, under keys no
// client id can take (client ids have no spaces): per remote address before
// any work, so a flood of forged assertions is cut off without signature
// checks, and per client once its assertion verifies, so one client cannot
// mint tokens without bound. A forged assertion naming a victim's client id
// cannot spend the victim's budget, as it never verifies.
func (s *Server) token(c echo.Context) error {
	h := c.Response().Header()
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	if err := s.limitToken(c, "token-addr "+remoteHost(c)); err != nil {
		return err
	}
	mt, _, _ := mime.ParseMediaType(c.Request().Header.Get(echo.HeaderContentType))
	if mt != "application/x-www-form-urlencoded" {
		return auth.Detail("invalid_request", "The token endpoint takes application/x-www-form-urlencoded.")
	}
	body, err := s.readBody(c, "")
	if err != nil {
		if discharge.ErrorKind(err) == discharge.KindRequired {
			return auth.Detail("invalid_request", "The request has no body: grant_type is required.")
		}
		return err
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return auth.Detail("invalid_request", "The form is malformed.")
	}
	// RFC 6749 section 3.2: parameters must not be repeated.
	for k, v := range form {
		if len(v) > 1 {
			return auth.Detail("invalid_request", "The parameter "+k+" is repeated.")
		}
	}
	switch form.Get("grant_type") {
	case "client_credentials":
	case "":
		return auth.Detail("invalid_request", "grant_type is required.")
	default:
		return auth.Detail("unsupported_grant_type", "grant_type must be client_credentials.")
	}
	v := *s.sec.Verifier
	v.TokenURL = s.tokenURL(c)
	client, err := v.VerifyAssertion(c.Request().Context(), form.Get("client_assertion_type"), form.Get("client_assertion"))
	if err != nil {
		return err
	}
	if err := s.limitToken(c, "token-client "+client.ID); err != nil {
		return err
	}
	scopes, err := auth.Grant(client, form.Get("scope"))
	if err != nil {
		return err
	}
	tok, exp, err := s.sec.Issuer.Issue(client, scopes)
	if err != nil {
		return discharge.Wrap(discharge.KindInternal, "issue token", err)
	}
	out, _ := json.Marshal(map[string]any{"access_token": tok, "token_type": "bearer", "expires_in": exp, "scope": scopes.String()})
	return c.Blob(http.StatusOK, plainJSON, out)
}

// limitToken counts one token request against key.
func (s *Server) limitToken(c echo.Context, key string) error {
	if s.sec.Limiter == nil {
		return nil
	}
	ok, wait, err := s.sec.Limiter.Allow(c.Request().Context(), key)
	if err != nil {
		return err
	}
	if !ok {
		c.Response().Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
		return discharge.E(discharge.KindThrottled, "", "Too many token requests: retry after the time in Retry-After.")
	}
	return nil
}

// remoteHost is the address the request came from: the TCP peer, not a
// forwarding header, which any caller can write. Behind a proxy, set the
// echo instance's IPExtractor to trust the proxy's header.
func remoteHost(c echo.Context) string {
	if c.Echo().IPExtractor != nil {
		return c.RealIP()
	}
	host, _, err := net.SplitHostPort(c.Request().RemoteAddr)
	if err != nil {
		return c.Request().RemoteAddr
	}
	return host
}

// oauthCodes are the error codes of RFC 6749 section 5.2.
var oauthCodes = map[string]bool{"invalid_request": true, "invalid_client": true, "invalid_grant": true,
	"unauthorized_client": true, "unsupported_grant_type": true, "invalid_scope": true}

// oauthError renders an error at the token endpoint as RFC 6749 section 5.2
// requires: application/json {"error", "error_description"}, never cached.
// The status is 400, except 401 for invalid_client (with the challenge RFC
// 9110 requires of every 401, clientChallenge), 405 and 413 where HTTP says so, and 429 when
// rate-limited: RFC 6749 has no code for that, so it is invalid_request
// with Retry-After. Failures of the gateway itself keep their 5xx status and
// use the codes RFC 6749 section 4.1.2.1 defines for them, server_error and
// temporarily_unavailable, with the generic text and trace id only.
func oauthError(c echo.Context, de *discharge.Error, traceID string) {
	status := statusOf(de.Kind)
	code, desc := "", ""
	if len(de.Issues) > 0 {
		code, desc = de.Issues[0].Detail, de.Issues[0].Message
	}
	if !oauthCodes[code] {
		code = "invalid_request"
	}
	h := c.Response().Header()
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	switch {
	case status >= 500:
		code = "server_error"
		if de.Kind == discharge.KindUnavailable || de.Kind == discharge.KindTimeout {
			code = "temporarily_unavailable"
		}
		desc = genericText[de.Kind]
		if desc == "" {
			desc = genericText[discharge.KindInternal]
		}
		if traceID != "" {
			desc += " Trace id: " + traceID + "."
		}
	case code == "invalid_client":
		status = http.StatusUnauthorized
	case status == http.StatusMethodNotAllowed, status == http.StatusRequestEntityTooLarge, status == http.StatusTooManyRequests:
	default:
		status = http.StatusBadRequest
	}
	if status != http.StatusUnauthorized {
		h.Del("WWW-Authenticate")
	} else {
		h.Set("WWW-Authenticate", clientChallenge(c.Request()))
	}
	if desc == "" {
		desc = genericText[de.Kind]
	}
	if desc == "" {
		desc = http.StatusText(status)
	}
	out, _ := json.Marshal(map[string]string{"error": code, "error_description": oauthText(desc)})
	if c.Request().Method == http.MethodHead {
		_ = c.NoContent(status)
		return
	}
	_ = c.Blob(status, plainJSON, out)
}

// clientChallenge is the WWW-Authenticate of the token endpoint's 401
// invalid_client. RFC 6749 section 5.2: a client that authenticated with
// the Authorization header is challenged with the scheme it used. The
// gateway's clients authenticate with a JWT assertion in the body
// (private_key_jwt), which is no HTTP scheme, yet RFC 9110 requires a
// challenge on every 401: it is Basic, the scheme RFC 6749 (section 2.3.1)
// names for client authentication at a token endpoint. Never Bearer: that
// scheme is for access tokens at the FHIR routes, and a client at the
// token endpoint has none to send.
func clientChallenge(r *http.Request) string {
	scheme := "Basic"
	if used, _, _ := strings.Cut(r.Header.Get("Authorization"), " "); used != "" && isToken(used) {
		scheme = used
	}
	return scheme + ` realm="discharge-gateway"`
}

// isToken says whether s is an RFC 9110 token (an auth scheme's name).
func isToken(s string) bool {
	for _, r := range s {
		if r > 0x7e || r <= 0x20 || strings.ContainsRune(`"(),/:;<=>?@[\]{}`, r) {
			return false
		}
	}
	return s != ""
}

// oauthText keeps only the characters RFC 6749 allows in error_description
// (printable ASCII without '"' and '\').
func oauthText(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e || r == '"' || r == '\\' {
			return '\''
		}
		return r
	}, s)
}

// smartConfiguration is the SMART discovery document.
func (s *Server) smartConfiguration(c echo.Context) error {
	out, _ := json.Marshal(map[string]any{
		"issuer":                                s.sec.Issuer.Issuer,
		"token_endpoint":                        s.tokenURL(c),
		"jwks_uri":                              s.rootURL(c) + "/.well-known/jwks.json",
		"grant_types_supported":                 []string{"client_credentials"},
		"token_endpoint_auth_methods_supported": []string{"private_key_jwt"},
		"token_endpoint_auth_signing_alg_values_supported": []string{"RS256", "ES384"},
		// The one scope table in auth: the registry can grant nothing else.
		"scopes_supported": auth.SupportedScopes(),
		"capabilities":     []string{"client-confidential-asymmetric"},
	})
	return c.Blob(http.StatusOK, plainJSON, out)
}

// jwks publishes the public keys that verify the gateway's access tokens.
func (s *Server) jwks(c echo.Context) error {
	c.Response().Header().Set("Cache-Control", "max-age=300")
	return c.Blob(http.StatusOK, "application/jwk-set+json", s.sec.Issuer.Keys.JWKS())
}
