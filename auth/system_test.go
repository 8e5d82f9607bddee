package auth_test

import (
	"strings"
	"testing"

	"github.com/dischargegateway/gateway/auth"
)

// A system client's token carries its trusts, and the principal it
// verifies to sees no patient of any of them: its trusts are for
// aggregate reports only (sitrep.MayReadAggregates).
func TestSystemClientSeesNoPatients(t *testing.T) {
	iss := newIssuer(t)
	icb := &auth.Client{ID: "icb", Org: "QXY", OrgSystem: auth.SystemODS, Role: auth.RoleSystem, Members: []string{"RXA", "RXB"}}
	tok, _, err := iss.Issue(icb, scopes(t, "system/MeasureReport.rs"))
	if err != nil {
		t.Fatal(err)
	}
	p, err := iss.VerifyAccess(tok)
	if err != nil {
		t.Fatal(err)
	}
	if p.Role != auth.RoleSystem || strings.Join(p.Members, ",") != "RXA,RXB" {
		t.Fatalf("%+v", p)
	}
	for _, org := range []string{"RXA", "RXB", "QXY"} {
		if p.CanSee(org) {
			t.Errorf("a system client sees %s's patients", org)
		}
	}
	if got := p.ReadableOrgs(); len(got) != 0 {
		t.Errorf("ReadableOrgs %v, want none", got)
	}
}

// The demo registry has a system client, limited to aggregate scopes.
func TestDemoSystemClient(t *testing.T) {
	c, ok := demoRegistry(t).Client("demo-commissioner")
	if !ok {
		t.Fatal("no demo-commissioner in the demo registry")
	}
	if c.Role != auth.RoleSystem || len(c.Members) == 0 {
		t.Fatalf("%+v", c)
	}
	sc, err := auth.Grant(c, "system/*.rs")
	if err != nil {
		t.Fatal(err)
	}
	if sc.Allows("Patient", 'r') || sc.Allows("Encounter", 's') || !sc.Allows("MeasureReport", 's') {
		t.Fatalf("granted %s", sc)
	}
}
