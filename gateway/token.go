package gateway

import (
	"encoding/json"
	"mime"
	"net/http"
	"net/url"
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
func (s *Server) tokenURL(c echo.Context) string { return s.rootURL(c) + "/oauth2/token" }

// token is POST /oauth2/token: the client_credentials grant with a signed
// JWT client assertion (RFC 7523). Errors are OperationOutcomes whose issue
// details carry the OAuth 2.0 error code (invalid_client, invalid_request,
// invalid_scope, unsupported_grant_type): 401 for invalid_client, else 400.
func (s *Server) token(c echo.Context) error {
	c.Response().Header().Set("Cache-Control", "no-store")
	mt, _, _ := mime.ParseMediaType(c.Request().Header.Get(echo.HeaderContentType))
	if mt != "application/x-www-form-urlencoded" {
		return discharge.E(discharge.KindUnsupportedMedia, "", "The token endpoint takes application/x-www-form-urlencoded.")
	}
	body, err := s.readBody(c, "")
	if err != nil {
		return err
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return tokenErr(auth.Detail("invalid_request", "The form is malformed."), "")
	}
	if gt := form.Get("grant_type"); gt != "client_credentials" {
		return tokenErr(auth.Detail("unsupported_grant_type", "grant_type must be client_credentials."), "grant_type")
	}
	v := *s.sec.Verifier
	v.TokenURL = s.tokenURL(c)
	client, err := v.VerifyAssertion(c.Request().Context(), form.Get("client_assertion_type"), form.Get("client_assertion"))
	if err != nil {
		return tokenErr(err, "client_assertion")
	}
	scopes, err := auth.Grant(client, form.Get("scope"))
	if err != nil {
		return tokenErr(err, "scope")
	}
	tok, exp, err := s.sec.Issuer.Issue(client, scopes)
	if err != nil {
		return discharge.Wrap(discharge.KindInternal, "issue token", err)
	}
	out, _ := json.Marshal(map[string]any{"access_token": tok, "token_type": "bearer", "expires_in": exp, "scope": scopes.String()})
	return c.Blob(http.StatusOK, plainJSON, out)
}

// tokenErr gives an OAuth failure its status: 401 for invalid_client, 400
// otherwise, keeping the OAuth code as the issue's detail.
func tokenErr(err error, expression string) error {
	de := toError(err)
	if de.Kind != discharge.KindUnauthorized || len(de.Issues) == 0 {
		return err
	}
	cp := *de
	cp.Issues = append([]discharge.Issue(nil), de.Issues...)
	if cp.Issues[0].Detail != "invalid_client" {
		cp.Kind = discharge.KindInvalid
		cp.Issues[0].Kind = discharge.KindInvalid
		cp.Issues[0].Expression = expression
	}
	return &cp
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
		"scopes_supported": []string{"system/Patient.cruds", "system/Encounter.cruds", "system/ServiceRequest.cruds",
			"system/Organization.cruds", "system/Location.cruds", "system/HealthcareService.cruds",
			"system/CodeSystem.rs", "system/ConceptMap.rs", "system/AuditEvent.rs"},
		"capabilities": []string{"client-confidential-asymmetric"},
	})
	return c.Blob(http.StatusOK, plainJSON, out)
}

// jwks publishes the public keys that verify the gateway's access tokens.
func (s *Server) jwks(c echo.Context) error {
	c.Response().Header().Set("Cache-Control", "max-age=300")
	return c.Blob(http.StatusOK, "application/jwk-set+json", s.sec.Issuer.Keys.JWKS())
}
