package sitrep

import (
	"slices"

	"github.com/dischargegateway/gateway/auth"
	"github.com/dischargegateway/gateway/discharge"
)

// MayReadAggregates is the access rule of every aggregate report (the
// sitrep, unmet demand, and any other report that counts cases without
// naming one): a trust reads its own, a hub its member trusts', a system
// client (a commissioner, an ICB or the national view) the trusts it is
// registered for. Anyone else is KindForbidden. A system client never
// reads patient data: auth.Principal.CanSee refuses it everywhere else, so
// this rule is the only door it has.
func MayReadAggregates(p *auth.Principal) error {
	if p == nil || (p.Role != auth.RoleTrust && p.Role != auth.RoleHub && p.Role != auth.RoleSystem) {
		return discharge.E(discharge.KindForbidden, "", "Only a trust (its own), a hub (its member trusts') or a system client (the trusts it is registered for) reads aggregate reports.")
	}
	return nil
}

// AggregateOrgs lists the trusts whose aggregates p reads (empty for a
// caller MayReadAggregates refuses). For a trust and a hub it is
// p.ReadableOrgs(); a system client adds up the trusts of its
// registration (auth.Principal.Members) but sees none of their patients.
func AggregateOrgs(p *auth.Principal) []string {
	if MayReadAggregates(p) != nil {
		return nil
	}
	if p.Role == auth.RoleSystem {
		return slices.Clone(p.Members)
	}
	return p.ReadableOrgs()
}

// subjectTrusts resolves a report's subject for p: "" or p's own code is
// every trust p reads (reported under p's code); one of those trusts is
// that trust alone. Any other subject is KindForbidden at "subject".
func subjectTrusts(p *auth.Principal, subject string) (string, []string, error) {
	if err := MayReadAggregates(p); err != nil {
		return "", nil, err
	}
	trusts := AggregateOrgs(p)
	switch {
	case subject == "" || subject == p.Org:
		return p.Org, trusts, nil
	case slices.Contains(trusts, subject):
		return subject, []string{subject}, nil
	}
	return "", nil, discharge.E(discharge.KindForbidden, "subject", "The caller does not read that organisation's reports.")
}
