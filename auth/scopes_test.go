package auth_test

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/dischargegateway/gateway/auth"
	"github.com/dischargegateway/gateway/discharge"
)

func TestScopesAllow(t *testing.T) {
	tests := []struct {
		in      string
		typ     string
		op      byte
		allowed bool
	}{
		{"system/Encounter.cruds", "Encounter", 'u', true},
		{"system/Encounter.rs", "Encounter", 'c', false},
		{"system/Encounter.rs", "Patient", 'r', false},
		{"system/*.rs", "ServiceRequest", 's', true},
		{"system/*.rs", "ServiceRequest", 'd', false},
		{"system/Patient.read", "Patient", 's', true},
		{"system/Patient.read", "Patient", 'u', false},
		{"system/Patient.write", "Patient", 'u', true},
		{"system/Patient.write", "Patient", 'r', false},
		{"system/Patient.*", "Patient", 'd', true},
		{"system/Patient.c system/Patient.r", "Patient", 'r', true},
		{"  system/Patient.r\tsystem/Encounter.s  ", "Encounter", 's', true},
	}
	for _, tc := range tests {
		t.Run(tc.in+"/"+tc.typ+"/"+string(tc.op), func(t *testing.T) {
			s, err := auth.ParseScopes(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if s.Allows(tc.typ, tc.op) != tc.allowed {
				t.Fatalf("want %v", tc.allowed)
			}
		})
	}
}

func TestScopesRefused(t *testing.T) {
	for _, bad := range []string{
		"user/Patient.read", "patient/*.rs", "launch", "openid",
		"system/Patient", "system/.rs", "system/Patient.", "system/Patient.sr", "system/Patient.xyz", "system/Patient.rr",
		"system/Patient.rs?category=x", "system/patient.rs", "system/Pat*ent.rs", "system/../x.rs", "system/**.rs",
		"system/Patient.read.write",
	} {
		t.Run(bad, func(t *testing.T) {
			if _, err := auth.ParseScopes(bad); err == nil {
				t.Fatal("accepted")
			}
		})
	}
}

func TestScopesIntersect(t *testing.T) {
	tests := []struct{ want, allowed, got string }{
		{"system/Patient.cruds system/Encounter.rs", "system/Patient.rs system/ServiceRequest.cruds", "system/Patient.rs"},
		{"system/*.rs", "system/Patient.cruds system/Encounter.r", "system/Encounter.r system/Patient.rs"},
		{"system/Patient.cruds", "system/*.rs", "system/Patient.rs"},
		{"system/*.cruds", "system/*.rs system/Patient.cud", "system/*.rs system/Patient.cud"},
		{"system/*.rs system/Patient.rs", "system/*.rs", "system/*.rs"},
		{"system/Patient.read", "system/Patient.*", "system/Patient.rs"},
		{"system/Encounter.cruds", "system/Patient.cruds", ""},
	}
	for _, tc := range tests {
		t.Run(tc.want+" ∩ "+tc.allowed, func(t *testing.T) {
			w, _ := auth.ParseScopes(tc.want)
			a, _ := auth.ParseScopes(tc.allowed)
			if got := w.Intersect(a).String(); got != tc.got {
				t.Fatalf("got %q, want %q", got, tc.got)
			}
		})
	}
}

func TestScopesStringRoundTrip(t *testing.T) {
	s, _ := auth.ParseScopes("system/Patient.write system/Patient.r system/*.s")
	// write is cud; with r that is crud, in cruds order.
	if got := s.String(); got != "system/*.s system/Patient.crud" {
		t.Fatalf("%q", got)
	}
	again, err := auth.ParseScopes(s.String())
	if err != nil || again.String() != s.String() {
		t.Fatalf("round trip %q %v", again, err)
	}
}

func TestGrant(t *testing.T) {
	c := &auth.Client{ID: "x", Scopes: []string{"system/Patient.rs", "system/Encounter.cruds"}}
	tests := []struct {
		name, requested, got, detail string
	}{
		{"none requested: everything allowed", "", "system/Encounter.cruds system/Patient.rs", ""},
		{"narrower", "system/Patient.r", "system/Patient.r", ""},
		{"wider is narrowed", "system/Patient.cruds", "system/Patient.rs", ""},
		{"outside scopes dropped", "system/Patient.rs system/AuditEvent.rs", "system/Patient.rs", ""},
		{"wildcard narrows to the allowed types", "system/*.rs", "system/Encounter.rs system/Patient.rs", ""},
		{"nothing left", "system/AuditEvent.rs", "", "invalid_scope"},
		{"malformed", "system/Patient.rs launch", "", "invalid_scope"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g, err := auth.Grant(c, tc.requested)
			if tc.detail != "" {
				wantAuthErr(t, err, discharge.KindUnauthorized, tc.detail)
				return
			}
			if err != nil || g.String() != tc.got {
				t.Fatalf("got %q %v, want %q", g, err, tc.got)
			}
		})
	}
}

func FuzzParseScopes(f *testing.F) {
	for _, s := range []string{"system/Patient.cruds", "system/*.rs system/Encounter.read", "system/X.*", "user/a.b", "system/\x00.r"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		s, err := auth.ParseScopes(in)
		if err != nil {
			return
		}
		// What parses renders to something that parses to the same thing.
		again, err := auth.ParseScopes(s.String())
		if err != nil || again.String() != s.String() {
			t.Fatalf("%q -> %q -> %q %v", in, s.String(), again.String(), err)
		}
		_ = s.Intersect(again)
	})
}

// TestSupportedScopesCoverRegistries: every scope a shipped registry gives a
// client is listed in SupportedScopes (the SMART configuration's
// scopes_supported), letter by letter.
func TestSupportedScopesCoverRegistries(t *testing.T) {
	supported, err := auth.ParseScopes(strings.Join(auth.SupportedScopes(), " "))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"demo/clients.json", "clients.example.json"} {
		reg, err := auth.LoadRegistry(filepath.Join("..", "configs", f))
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, c := range reg.Clients() {
			got, err := auth.Grant(c, "")
			if err != nil {
				t.Fatal(err)
			}
			for typ, perm := range got {
				if common(supported[typ], perm) != perm {
					t.Errorf("%s: %s holds system/%s.%s, which scopes_supported does not list", f, c.ID, typ, perm)
				}
			}
		}
	}
	for _, want := range []string{"system/MeasureReport.cruds", "system/AuditEvent.rs"} {
		if !slices.Contains(auth.SupportedScopes(), want) {
			t.Errorf("%s missing from %v", want, auth.SupportedScopes())
		}
	}
}

func common(a, b string) string {
	var out strings.Builder
	for _, ch := range "cruds" {
		if strings.ContainsRune(a, ch) && strings.ContainsRune(b, ch) {
			out.WriteRune(ch)
		}
	}
	return out.String()
}
