package wiring

import (
	"strings"
	"testing"
)

// TestMaskURL: the record's URL is logged without its password, in the
// user info or as a parameter, several hosts and all.
func TestMaskURL(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"postgres://gw:s3cret@db:5432/gateway?sslmode=require", "postgres://gw:xxxxx@db:5432/gateway?sslmode=require"},
		{"postgres://gw:s3cret@pg1:5432,pg2:5432,pg3:5432/gateway?target_session_attrs=read-write",
			"postgres://gw:xxxxx@pg1:5432,pg2:5432,pg3:5432/gateway?target_session_attrs=read-write"},
		{"postgres://gw@db/gateway?password=s3cret&sslpassword=k3y", "postgres://gw@db/gateway?password=xxxxx&sslpassword=xxxxx"},
		{"postgres://gw:s3cret@db:port/x", "(unparseable URL)"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got := MaskURL(tc.in)
			if got != tc.want || strings.Contains(got, "s3cret") || strings.Contains(got, "k3y") {
				t.Fatalf("MaskURL = %q, want %q", got, tc.want)
			}
		})
	}
}
