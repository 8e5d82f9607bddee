package directory

import (
	"context"
	"strconv"

	"github.com/dischargegateway/gateway/auth"
	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/fhir"
	"github.com/dischargegateway/gateway/mappings"
)

// Write is a directory resource on its way into the store, as the
// ownership rules see it.
type Write struct {
	Type, ID string
	// Path is the resource's FHIRPath in the request ("Location", or
	// "Bundle.entry[2].resource"); issues are named under it.
	Path string
	// Doc is the resource as written, decoded (fhir.DecodeDoc).
	Doc map[string]any
	// Replaces says the write updates the stored version of Type/ID.
	Replaces bool
	// Pending holds the other resources of the same transaction by their
	// final reference ("Organization/abc"), so references between entries
	// resolve before anything is stored.
	Pending map[string]map[string]any
}

// CheckWrite lets a care provider write only its own directory entries: an
// Organization carrying its own identifier (CQC provider id), a Location
// managed by such an Organization, a HealthcareService provided by one and
// delivered at its Locations. An update must also own the version it
// replaces, so nobody can take over another provider's entry by re-pointing
// it. References resolve in the same transaction or the directory.
func (s *Service) CheckWrite(ctx context.Context, p *auth.Principal, w Write) error {
	if p == nil {
		return discharge.E(discharge.KindForbidden, "", "No caller.")
	}
	if err := s.owns(ctx, p, w.Type, w.Path, w.Doc, w.Pending); err != nil {
		return err
	}
	if w.Replaces {
		cur, err := s.store.Read(ctx, Partition, w.Type, w.ID)
		if err != nil {
			return err
		}
		doc, err := fhir.DecodeDoc(cur.JSON)
		if err != nil {
			return err
		}
		if err := s.owns(ctx, p, w.Type, w.Path, doc, nil); err != nil {
			return discharge.E(discharge.KindForbidden, w.Path, "This directory entry belongs to another provider.")
		}
	}
	return nil
}

// Place is where a directory Location is on the map.
type Place struct {
	// Position is the Location's position, else its postcode's; nil when
	// neither is known.
	Position *discharge.Position
	// Area is the postcode area whose geo shard holds the Location.
	Area string
}

// OwnLocation checks that a directory Location is managed by the caller's
// organisation and says where it is: KindNotFound at locationId if there is
// no such Location, KindForbidden if it is another provider's.
//
// A yes is cached for the directory's generation (owned.go): the
// generation is read first, on every call, by a read begun after the call
// (shared with concurrent callers, generation.go), so a directory change
// committed before the call began, by this process or any other on the
// same record, is never answered from the cache.
func (s *Service) OwnLocation(ctx context.Context, p *auth.Principal, id string) (Place, error) {
	if p == nil {
		return Place{}, discharge.E(discharge.KindForbidden, "", "No caller.")
	}
	gen, err := s.gens.read(ctx, s.generation)
	if err != nil {
		return Place{}, err
	}
	key := ownerKey{system: p.OrgSystem, org: p.Org, location: id}
	if pl, ok := s.owned.get(gen, key); ok {
		return pl, nil
	}
	pl, err := s.ownLocation(ctx, p, id)
	if err != nil {
		return Place{}, err
	}
	s.owned.put(gen, key, pl)
	return pl, nil
}

// generation reads the directory's generation from the store.
func (s *Service) generation(ctx context.Context) (int64, error) {
	return s.store.Generation(ctx, Partition)
}

// ownLocation is OwnLocation read from the directory.
func (s *Service) ownLocation(ctx context.Context, p *auth.Principal, id string) (Place, error) {
	r, err := s.store.Read(ctx, Partition, "Location", id)
	if err != nil {
		if discharge.ErrorKind(err) == discharge.KindNotFound {
			return Place{}, discharge.E(discharge.KindNotFound, "locationId", "No such Location in the directory: register it first.")
		}
		return Place{}, err
	}
	doc, err := fhir.DecodeDoc(r.JSON)
	if err != nil {
		return Place{}, err
	}
	ref, ok := mappings.LocationManagingOrganization(doc)
	if err := s.ownedOrganization(ctx, p, ref, ok, "Location.managingOrganization", nil); err != nil {
		switch discharge.ErrorKind(err) {
		case discharge.KindForbidden, discharge.KindRequired, discharge.KindBusinessRule, discharge.KindNotFound:
			return Place{}, discharge.E(discharge.KindForbidden, "locationId", "This Location belongs to another provider.")
		}
		return Place{}, err // an outage is not an answer about ownership
	}
	pos, area := s.Place(mappings.LocationPlace(doc))
	return Place{Position: pos, Area: area}, nil
}

func (s *Service) owns(ctx context.Context, p *auth.Principal, typ, path string, doc map[string]any, pending map[string]map[string]any) error {
	switch typ {
	case "Organization":
		if !mappings.HasIdentifier(doc, p.OrgSystem, p.Org) {
			return discharge.E(discharge.KindForbidden, path+".identifier",
				"A provider's Organization must carry its own identifier ("+p.OrgSystem+").")
		}
	case "Location":
		ref, ok := mappings.LocationManagingOrganization(doc)
		return s.ownedOrganization(ctx, p, ref, ok, path+".managingOrganization", pending)
	case "HealthcareService":
		ref, ok := mappings.HealthcareServiceProvidedBy(doc)
		if err := s.ownedOrganization(ctx, p, ref, ok, path+".providedBy", pending); err != nil {
			return err
		}
		for i, lref := range mappings.HealthcareServiceLocations(doc) {
			at := path + ".location[" + strconv.Itoa(i) + "]"
			if lref == "" {
				return discharge.E(discharge.KindRequired, at+".reference", "The location must be a reference to a Location.")
			}
			ld, err := s.lookup(ctx, lref, pending)
			if err != nil {
				return notFoundRef(err, at+".reference")
			}
			oref, ok := mappings.LocationManagingOrganization(ld)
			if err := s.ownedOrganization(ctx, p, oref, ok, at, pending); err != nil {
				return discharge.E(discharge.KindForbidden, at+".reference", "The Location belongs to another provider.")
			}
		}
	}
	return nil
}

// ownedOrganization checks that a Reference (ref, present) names an
// Organization carrying the caller's identifier.
func (s *Service) ownedOrganization(ctx context.Context, p *auth.Principal, ref string, present bool, expr string, pending map[string]map[string]any) error {
	if !present {
		return discharge.E(discharge.KindRequired, expr, "A reference to the provider's Organization is required.")
	}
	org, err := s.lookup(ctx, ref, pending)
	if err != nil {
		return notFoundRef(err, expr+".reference")
	}
	if !mappings.HasIdentifier(org, p.OrgSystem, p.Org) {
		return discharge.E(discharge.KindForbidden, expr+".reference", "The Organization belongs to another provider.")
	}
	return nil
}

// lookup finds a referenced directory resource in the transaction or the
// directory. Anything that is not a relative reference to a directory type
// is not found.
func (s *Service) lookup(ctx context.Context, ref string, pending map[string]map[string]any) (map[string]any, error) {
	if d, ok := pending[ref]; ok {
		return d, nil
	}
	typ, id, ok := fhir.SplitRef(ref)
	if !ok || !IsType(typ) {
		return nil, discharge.KindOf(discharge.KindNotFound)
	}
	r, err := s.store.Read(ctx, Partition, typ, id)
	if err != nil {
		return nil, err
	}
	return fhir.DecodeDoc(r.JSON)
}

// notFoundRef turns a reference that resolves to nothing into a business
// rule failure at the reference; other failures pass through.
func notFoundRef(err error, expr string) error {
	if discharge.ErrorKind(err) == discharge.KindNotFound {
		return &discharge.Error{Kind: discharge.KindBusinessRule, Issues: []discharge.Issue{{Kind: discharge.KindNotFound,
			Expression: expr, Message: "The referenced resource does not exist in the directory."}}}
	}
	return err
}
