package directory_test

import (
	"testing"

	"github.com/dischargegateway/gateway/auth"
	"github.com/dischargegateway/gateway/directory"
	"github.com/dischargegateway/gateway/discharge"
)

func TestImportOwner(t *testing.T) {
	for _, tc := range []struct {
		name  string
		p     *auth.Principal
		owner string
		ok    bool
	}{
		{"care provider: its own rows", &auth.Principal{Org: "1-1", Role: auth.RoleCareProvider}, "1-1", true},
		{"admin: every provider's", &auth.Principal{Org: "DGADMIN", Role: auth.RoleAdmin}, "", true},
		{"trust: none", &auth.Principal{Org: "RXA", Role: auth.RoleTrust}, "", false},
		{"no caller", nil, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			owner, err := directory.ImportOwner(tc.p)
			if tc.ok && (err != nil || owner != tc.owner) {
				t.Fatalf("%q, %v; want %q", owner, err, tc.owner)
			}
			if !tc.ok && discharge.ErrorKind(err) != discharge.KindForbidden {
				t.Fatalf("%v, want forbidden", err)
			}
		})
	}
}
