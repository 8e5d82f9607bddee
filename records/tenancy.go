package records

import (
	"slices"

	"github.com/dischargegateway/gateway/auth"
	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/fhir"
)

// ClinicalTypes are the patient-data resource types: each held in the
// partition of the organisation that wrote it.
var ClinicalTypes = []string{"Patient", "Encounter", "ServiceRequest"}

// DirectoryTypes are the provider directory's resource types: readable by
// every authenticated caller with the scope, written by care providers for
// their own organisation only.
var DirectoryTypes = []string{"Organization", "Location", "HealthcareService"}

// Types are every resource type the record service keeps.
func Types() []string {
	return append(append([]string(nil), ClinicalTypes...), DirectoryTypes...)
}

// IsDirectory reports whether typ belongs to the provider directory.
func IsDirectory(typ string) bool { return slices.Contains(DirectoryTypes, typ) }

// WritePartition is where a resource of typ is written for the caller.
// Patient data goes to the caller's own organisation and only trusts write
// it (hubs read their members'); directory entries go to the directory and
// only care providers write them.
func WritePartition(p *auth.Principal, typ string) (string, error) {
	if err := CheckWriter(p, typ); err != nil {
		return "", err
	}
	if IsDirectory(typ) {
		return fhir.DirectoryPartition, nil
	}
	return p.Org, nil
}

// CheckWriter is the role rule of writes: only a trust's client writes
// patient data, and only a care provider's client writes directory
// entries. The gateway's route table applies it to the create and update
// routes; WritePartition applies it to every write, a Bundle's entries too.
func CheckWriter(p *auth.Principal, typ string) error {
	if IsDirectory(typ) {
		if p == nil || p.Role != auth.RoleCareProvider {
			return discharge.E(discharge.KindForbidden, "", "Only a care provider's client writes directory entries.")
		}
		return nil
	}
	if p == nil || p.Role != auth.RoleTrust {
		return discharge.E(discharge.KindForbidden, "", "Only a trust's client writes patient data.")
	}
	return nil
}

// ReadPartitions are the partitions the caller may read resources of typ
// in. A patient-data resource anywhere else is answered as if it did not
// exist.
func ReadPartitions(p *auth.Principal, typ string) []string {
	if IsDirectory(typ) {
		return []string{fhir.DirectoryPartition}
	}
	if p != nil {
		return p.ReadableOrgs()
	}
	return nil
}

// Allow checks the caller's SMART scopes for op (c r u d s) on typ. The
// route table applies it to each route; a Bundle's entries are checked one
// by one, as each names its own type and interaction.
func Allow(p *auth.Principal, typ string, op byte) error {
	if p == nil || !p.Scopes.Allows(typ, op) {
		return discharge.E(discharge.KindForbidden, "", "The access token's scopes do not allow "+
			opName(op)+" on "+typ+": ask for system/"+typ+"."+string(op)+".")
	}
	return nil
}

func opName(op byte) string {
	switch op {
	case 'c':
		return "create"
	case 'r':
		return "read"
	case 'u':
		return "update"
	case 'd':
		return "delete"
	}
	return "search"
}
