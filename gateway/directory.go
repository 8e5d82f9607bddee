package gateway

import (
	"context"

	"github.com/dischargegateway/gateway/auth"
	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/records"
)

// checkOwnership lets a care provider write only its own directory
// entries: an Organization carrying its own identifier (CQC provider id), a
// Location managed by such an Organization, a HealthcareService provided by
// one and delivered at its Locations. An update must also own the version it
// replaces, so nobody can take over another provider's entry by re-pointing
// it. References resolve in the same transaction or the directory.
func (s *Server) checkOwnership(ctx context.Context, p *auth.Principal, w records.DirectoryWrite) error {
	if p == nil {
		return discharge.E(discharge.KindForbidden, "", "No caller.")
	}
	if err := s.ownsDoc(ctx, p, w.Type, w.Path, w.Doc, w.Pending); err != nil {
		return err
	}
	if w.Replaces {
		cur, err := s.store.Read(ctx, directoryPartition, w.Type, w.ID)
		if err != nil {
			return err
		}
		doc, err := decodeDoc(cur.JSON)
		if err != nil {
			return err
		}
		if err := s.ownsDoc(ctx, p, w.Type, w.Path, doc, nil); err != nil {
			return discharge.E(discharge.KindForbidden, w.Path, "This directory entry belongs to another provider.")
		}
	}
	return nil
}

func (s *Server) ownsDoc(ctx context.Context, p *auth.Principal, typ, path string, doc map[string]any, loc local) error {
	switch typ {
	case "Organization":
		if !hasIdentifier(doc, p.OrgSystem, p.Org) {
			return discharge.E(discharge.KindForbidden, path+".identifier",
				"A provider's Organization must carry its own identifier ("+p.OrgSystem+").")
		}
	case "Location":
		return s.ownedOrganization(ctx, p, doc["managingOrganization"], path+".managingOrganization", loc)
	case "HealthcareService":
		if err := s.ownedOrganization(ctx, p, doc["providedBy"], path+".providedBy", loc); err != nil {
			return err
		}
		locs, _ := doc["location"].([]any)
		for i, l := range locs {
			at := path + ".location[" + itoa(i) + "]"
			ref, ok := refString(l)
			if !ok {
				return discharge.E(discharge.KindRequired, at+".reference", "The location must be a reference to a Location.")
			}
			ld, err := s.lookup(ctx, directoryPartition, ref, loc)
			if err != nil {
				return notFoundRef(err, at+".reference")
			}
			if err := s.ownedOrganization(ctx, p, ld["managingOrganization"], at, loc); err != nil {
				return discharge.E(discharge.KindForbidden, at+".reference", "The Location belongs to another provider.")
			}
		}
	}
	return nil
}

// ownedOrganization checks that a Reference names an Organization carrying
// the caller's identifier.
func (s *Server) ownedOrganization(ctx context.Context, p *auth.Principal, ref any, expr string, loc local) error {
	r, ok := refString(ref)
	if !ok {
		return discharge.E(discharge.KindRequired, expr, "A reference to the provider's Organization is required.")
	}
	org, err := s.lookup(ctx, directoryPartition, r, loc)
	if err != nil {
		return notFoundRef(err, expr+".reference")
	}
	if !hasIdentifier(org, p.OrgSystem, p.Org) {
		return discharge.E(discharge.KindForbidden, expr+".reference", "The Organization belongs to another provider.")
	}
	return nil
}

func notFoundRef(err error, expr string) error {
	if discharge.ErrorKind(err) == discharge.KindNotFound {
		return &discharge.Error{Kind: discharge.KindBusinessRule, Issues: []discharge.Issue{{Kind: discharge.KindNotFound,
			Expression: expr, Message: "The referenced resource does not exist in the directory."}}}
	}
	return err
}

func hasIdentifier(doc map[string]any, system, value string) bool {
	ids, _ := doc["identifier"].([]any)
	for _, x := range ids {
		m, _ := x.(map[string]any)
		if m["system"] == system && m["value"] == value {
			return true
		}
	}
	return false
}
