package gateway_test

import (
	"net/http"
	"testing"

	"github.com/dischargegateway/gateway/auth"
)

// The route table declares who writes what: a caller of the wrong role is
// refused by the route, before its body is read or validated, whatever
// its scopes allow.
func TestRouteTableRefusesTheWrongRoleBeforeTheBody(t *testing.T) {
	e := newEnv(t)
	allScopes := clinicalScopes + " " + directoryScopes
	care := e.tokenFor("care", auth.RoleCareProvider, "1-000000001", allScopes)
	trust := e.tokenFor("trust", auth.RoleTrust, "RXX", allScopes)
	for _, tc := range []struct {
		name, method, path, token string
	}{
		{"care provider creates a Patient", "POST", "/fhir/Patient", care},
		{"care provider updates an Encounter", "PUT", "/fhir/Encounter/e1", care},
		{"trust creates a Location", "POST", "/fhir/Location", trust},
		{"trust updates an Organization", "PUT", "/fhir/Organization/o1", trust},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do(tc.method, tc.path, `{"resourceType":"Nonsense","favouriteColour":"blue"}`, "Authorization", "Bearer "+tc.token)
			r.mustStatus(t, http.StatusForbidden)
			if code, _ := r.issue(t); code != "forbidden" {
				t.Fatalf("code %q", code)
			}
		})
	}
}
