package gateway_test

import (
	"net/http"
	"strings"
	"testing"
)

// The token endpoint's 401 invalid_client challenges with the client
// authentication scheme the client used (RFC 6749 section 5.2): Basic
// when it sent its assertion in the body, the Authorization header's
// scheme when it sent one; never the Bearer challenge of the FHIR routes,
// which still answer a missing token with Bearer.
func TestTokenInvalidClientChallenge(t *testing.T) {
	e := newEnv(t)
	// An unsigned assertion (alg none), as the Postman collection sends.
	form := grantForm("eyJhbGciOiJub25lIn0.eyJpc3MiOiJ4In0.", "").Encode()
	for _, c := range []struct {
		name, authorization, want string
	}{
		{"assertion in the body", "", `Basic realm="discharge-gateway"`},
		{"Basic header", "Basic ZGVtbzpzZWNyZXQ=", `Basic realm="discharge-gateway"`},
		{"another scheme", "Digest username=x", `Digest realm="discharge-gateway"`},
		{"no valid scheme", "(bad) x", `Basic realm="discharge-gateway"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := e.do("POST", "/oauth2/token", form, "Content-Type", "application/x-www-form-urlencoded", "Authorization", c.authorization)
			r.mustStatus(t, http.StatusUnauthorized)
			if got := r.header.Get("WWW-Authenticate"); got != c.want || oauthCode(r) != "invalid_client" {
				t.Fatalf("challenge %q (%s), want %q", got, r.body, c.want)
			}
		})
	}
	r := e.do("GET", "/fhir/Patient", nil, "Authorization", "").mustStatus(t, http.StatusUnauthorized)
	if got := r.header.Get("WWW-Authenticate"); !strings.HasPrefix(got, "Bearer ") {
		t.Fatalf("FHIR route challenge %q, want Bearer", got)
	}
}
