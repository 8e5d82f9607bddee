package auth

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	"github.com/dischargegateway/gateway/discharge"
)

// grantable is the one table of what a client can be granted: every resource
// type the gateway guards with a scope, and the SMART v2 letters a client may
// hold on it ("*", any type, only for reading and searching). The SMART
// configuration's scopes_supported is rendered from it (SupportedScopes) and
// LoadRegistry refuses a client whose scopes go beyond it, so the published
// list cannot miss a scope some client holds. A route that guards a new type
// needs a row here (gateway TestScopesSupportedCoverRoutes checks).
var grantable = Scopes{
	"Patient":           "cruds",
	"Encounter":         "cruds",
	"ServiceRequest":    "cruds",
	"Organization":      "cruds",
	"Location":          "cruds",
	"HealthcareService": "cruds",
	"MeasureReport":     "cruds",
	// Offers (the referral loop): never deleted, cancelled instead.
	"Task": "crus",
	// Subscriptions (docs/subscriptions.md): never updated; deleted.
	"Subscription": "crds",
	"CodeSystem":   "rs",
	"ConceptMap":   "rs",
	"AuditEvent":   "rs",
	"*":            "rs",
}

// SupportedScopes lists every scope a client can be granted, as SMART v2
// system scopes (system/Patient.cruds), sorted: the SMART configuration's
// scopes_supported.
func SupportedScopes() []string {
	return strings.Fields(grantable.String())
}

// Grantable reports whether the scopes stay within what the gateway grants
// (see SupportedScopes); the error names the first scope that does not.
func Grantable(s Scopes) error {
	for _, typ := range slices.Sorted(maps.Keys(s)) {
		perm := s[typ]
		if common(perm, grantable[typ]) != perm {
			return fmt.Errorf("scope system/%s.%s: the gateway grants at most %s", typ, perm, describe(typ))
		}
	}
	return nil
}

func describe(typ string) string {
	if g, ok := grantable[typ]; ok {
		return "system/" + typ + "." + g
	}
	return "nothing on " + typ
}

// Scopes are granted SMART system scopes: resource type ("*" for any) →
// the interactions allowed, as SMART v2 letters c r u d s.
type Scopes map[string]string

// ParseScopes reads a space-separated list of SMART system scopes, v2
// (system/Encounter.cruds, system/*.rs) or v1 (system/Encounter.read,
// .write, .*), which are mapped to their v2 letters.
func ParseScopes(s string) (Scopes, error) {
	out := Scopes{}
	for _, sc := range strings.Fields(s) {
		rest, ok := strings.CutPrefix(sc, "system/")
		if !ok {
			return nil, fmt.Errorf("scope %q: only system/ scopes are supported", sc)
		}
		typ, perm, ok := strings.Cut(rest, ".")
		if !ok || !validType(typ) || perm == "" {
			return nil, fmt.Errorf("scope %q: want system/<Type>.<cruds>", sc)
		}
		switch perm {
		case "read":
			perm = "rs"
		case "write":
			perm = "cud"
		case "*":
			perm = "cruds"
		default:
			// v2 letters, in order, each at most once; "?" query parts are
			// not supported.
			order := "cruds"
			last := -1
			for _, ch := range perm {
				i := strings.IndexRune(order, ch)
				if i < 0 || i <= last {
					return nil, fmt.Errorf("scope %q: permissions must be letters of cruds in that order", sc)
				}
				last = i
			}
		}
		out[typ] = union(out[typ], perm)
	}
	return out, nil
}

// validType reports whether typ is "*" or shaped like a FHIR resource type
// name (an upper-case letter, then letters and digits), so no scope can
// smuggle a separator or wildcard pattern into the token.
func validType(typ string) bool {
	if typ == "*" {
		return true
	}
	if typ == "" || len(typ) > 64 || typ[0] < 'A' || typ[0] > 'Z' {
		return false
	}
	for i := 1; i < len(typ); i++ {
		c := typ[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

func union(a, b string) string {
	var out strings.Builder
	for _, ch := range "cruds" {
		if strings.ContainsRune(a, ch) || strings.ContainsRune(b, ch) {
			out.WriteRune(ch)
		}
	}
	return out.String()
}

// Allows reports whether the scopes allow op (one of c r u d s) on typ.
func (s Scopes) Allows(typ string, op byte) bool {
	return strings.IndexByte(s[typ], op) >= 0 || strings.IndexByte(s["*"], op) >= 0
}

// Intersect keeps only what allowed also grants. A wildcard request
// (system/*.rs) narrows to the types allowed names, so a client allowed
// system/Patient.cruds asking for system/*.rs gets system/Patient.rs.
func (s Scopes) Intersect(allowed Scopes) Scopes {
	out := Scopes{}
	add := func(typ, perm string) {
		if perm != "" {
			out[typ] = union(out[typ], perm)
		}
	}
	for typ, perm := range s {
		if typ == "*" {
			for at, ap := range allowed {
				add(at, common(perm, ap))
			}
			continue
		}
		add(typ, common(perm, union(allowed[typ], allowed["*"])))
	}
	// A type whose letters the wildcard already grants adds nothing.
	if all, ok := out["*"]; ok {
		for typ, perm := range out {
			if typ != "*" && common(perm, all) == perm {
				delete(out, typ)
			}
		}
	}
	return out
}

// common returns the letters of cruds in both a and b, in cruds order.
func common(a, b string) string {
	var out strings.Builder
	for _, ch := range "cruds" {
		if strings.ContainsRune(a, ch) && strings.ContainsRune(b, ch) {
			out.WriteRune(ch)
		}
	}
	return out.String()
}

// String renders the scopes as SMART v2 system scopes, sorted.
func (s Scopes) String() string {
	parts := make([]string, 0, len(s))
	for typ, perm := range s {
		parts = append(parts, "system/"+typ+"."+perm)
	}
	sort.Strings(parts)
	return strings.Join(parts, " ")
}

// Grant computes the scopes a client gets for a request: the requested
// scopes it is allowed (all its allowed scopes when none are requested, as
// NHS England's platform grants by registration, not by request). Requested
// scopes outside the allowed ones are dropped, as RFC 6749 section 3.3
// permits, and the token response's scope says what was granted. No scope
// left, or a malformed one, is an invalid_scope error.
func Grant(c *Client, requested string) (Scopes, error) {
	allowed, err := ParseScopes(strings.Join(c.Scopes, " "))
	if err != nil {
		return nil, err
	}
	if strings.TrimSpace(requested) == "" {
		return allowed, nil
	}
	want, err := ParseScopes(requested)
	if err != nil {
		return nil, oauthErr("invalid_scope", err.Error())
	}
	got := want.Intersect(allowed)
	if len(got) == 0 {
		return nil, oauthErr("invalid_scope", "none of the requested scopes is allowed for this client")
	}
	return got, nil
}

// oauthErr is an authentication failure carrying an OAuth 2.0 error code
// (RFC 6749 section 5.2) in Detail; the gateway chooses the status from it.
func oauthErr(code, msg string) *discharge.Error {
	return &discharge.Error{Kind: discharge.KindUnauthorized, Issues: []discharge.Issue{{
		Kind: discharge.KindUnauthorized, Detail: code, Message: msg}}}
}

// Detail builds an authentication failure with an OAuth error code.
func Detail(code, msg string) error { return oauthErr(code, msg) }
