package auth

import (
	"fmt"
	"sort"
	"strings"

	"github.com/dischargegateway/gateway/discharge"
)

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
		if !ok || typ == "" || perm == "" {
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

// Intersect keeps only what allowed also grants.
func (s Scopes) Intersect(allowed Scopes) Scopes {
	out := Scopes{}
	for typ, perm := range s {
		var keep strings.Builder
		for _, ch := range perm {
			if allowed.Allows(typ, byte(ch)) {
				keep.WriteRune(ch)
			}
		}
		if keep.Len() > 0 {
			out[typ] = keep.String()
		}
	}
	return out
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
// scopes it is allowed (all its allowed scopes when none are requested). No
// scope left is an invalid_scope error.
func Grant(c *Client, requested string) (Scopes, error) {
	allowed, err := ParseScopes(joinScopes(c.Scopes))
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
