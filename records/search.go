package records

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/dischargegateway/gateway/auth"
	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/fhir"
	"github.com/dischargegateway/gateway/mappings"
	"github.com/dischargegateway/gateway/placement"
)

const (
	// defaultCount and maxCount are the paging bounds of plain searches
	// (fhir.ParsePaging documents them).
	defaultCount = fhir.DefaultCount
	maxCount     = fhir.MaxCount
	// maxChain bounds how many Patients a chained identifier may resolve to.
	maxChain = 1000
)

// resultParams are the search result parameters the gateway implements.
// Anything else beginning with "_" is unknown and never silently ignored.
var resultParams = map[string]bool{"_count": true, "_offset": true, "_format": true, "_total": true, "_include": true}

// Includes are the _include values a search of the type they start with
// supports (as the CapabilityStatement's searchInclude lists them).
func Includes() []string {
	out := make([]string, 0, len(includes))
	for v := range includes {
		out = append(out, v)
	}
	sort.Strings(out)
	return out
}

// includes are the _include values supported, and the element each follows.
var includes = map[string]string{
	"HealthcareService:location":     "location",
	"HealthcareService:organization": "providedBy",
	"Location:organization":          "managingOrganization",
}

// chainParams are the reference parameters that accept an identifier of the
// referenced Patient: patient:identifier=system|value (and the chained form
// patient.identifier).
var chainParams = map[string]bool{"patient": true, "subject": true}

// Searchset is the answer to a search: the matches and included resources
// as searchset Bundle entries, every match counted, the paging links, and
// warnings for the outcome entry (the gateway renders them with its issue
// codes).
type Searchset struct {
	Total    int
	Links    []fhir.Link
	Entries  []fhir.BundleEntryOut
	Warnings discharge.Issues
}

// Search is the FHIR search-type interaction: a search of typ in every
// partition the caller may read, with links under base. Unknown parameters
// are warnings, or, when strict (Prefer: handling=strict), errors.
func (s *Service) Search(ctx context.Context, p *auth.Principal, typ string, vals url.Values, strict bool, base string) (Searchset, error) {
	count, offset, err := pageParams(vals)
	if err != nil {
		return Searchset{}, err
	}
	var found []fhir.Resource
	var warns discharge.Issues
	var q query
	total := 0
	parts := ReadPartitions(p, typ)
	// Each organisation the caller may read is searched; a hub's results
	// are merged in id order, so paging stays stable.
	type partQuery struct {
		part string
		q    fhir.Query
	}
	var queries []partQuery
	for _, part := range parts {
		var err error
		q, warns, err = s.buildQuery(ctx, part, typ, vals, strict)
		if err != nil {
			return Searchset{}, err
		}
		if !q.empty {
			queries = append(queries, partQuery{part, q.Query})
		}
	}
	merged := len(parts) > 1 || q.distances != nil
	if merged && offset > maxCount {
		// Merged results are paged here, from each organisation's first
		// offset+count matches: count first, so a page far past the end
		// does not read every match of every organisation to find nothing.
		sum := 0
		for _, pq := range queries {
			cq := pq.q
			cq.Offset, cq.Count = 0, 0
			_, n, err := s.store.Search(ctx, pq.part, cq)
			if err != nil {
				return Searchset{}, err
			}
			sum += n
		}
		if offset >= sum {
			queries, total = nil, sum
		}
	}
	for _, pq := range queries {
		sq := pq.q
		sq.Offset, sq.Count = offset, count
		if merged {
			// Merged or distance-ordered results are paged here.
			sq.Offset, sq.Count = 0, addSat(offset, count)
			if q.distances != nil {
				sq.Count = len(q.distances)
			}
		}
		page, n, err := s.store.Search(ctx, pq.part, sq)
		if err != nil {
			return Searchset{}, err
		}
		found, total = append(found, page...), total+n
	}
	if merged {
		sort.Slice(found, func(i, j int) bool {
			if q.distances != nil && q.distances[found[i].ID] != q.distances[found[j].ID] {
				return q.distances[found[i].ID] < q.distances[found[j].ID]
			}
			return found[i].ID < found[j].ID
		})
		found = found[min(offset, len(found)):min(addSat(offset, count), len(found))]
	}
	entries := make([]fhir.BundleEntryOut, 0, len(found)+1)
	for _, r := range found {
		en := fhir.BundleEntryOut{FullURL: base + "/" + r.Type + "/" + r.ID, Resource: r.JSON, SearchMode: "match"}
		if d, ok := q.distances[r.ID]; ok {
			en.Extension = []json.RawMessage{fhir.LocationDistance(d)}
		}
		entries = append(entries, en)
	}
	inc, incWarns, err := s.included(ctx, typ, vals["_include"], found, strict, base)
	if err != nil {
		return Searchset{}, err
	}
	warns = append(warns, incWarns...)
	entries = append(entries, inc...)
	links := pageLinks(base+"/"+typ, q.used, count, offset, total)
	return Searchset{Total: total, Links: links, Entries: entries, Warnings: warns}, nil
}

// addSat is a+b for non-negative ints, saturating instead of overflowing
// (an _offset may be as large as fhir.MaxOffset).
func addSat(a, b int) int {
	if a > math.MaxInt-b {
		return math.MaxInt
	}
	return a + b
}

// query is a store query plus what the gateway needs to render links.
type query struct {
	fhir.Query
	used  url.Values // the parameters applied, for self and paging links
	empty bool       // a chain resolved to nothing: no resource can match
	// distances holds each candidate's distance in km when near was given.
	distances map[string]float64
}

// buildQuery turns query parameters into a store query. Unknown parameters
// are an error when strict, otherwise warnings.
func (s *Service) buildQuery(ctx context.Context, part, typ string, vals url.Values, strict bool) (query, discharge.Issues, error) {
	q := query{Query: fhir.Query{Type: typ}, used: url.Values{}}
	params := map[string]fhir.SearchParam{}
	for _, p := range fhir.SearchParams(typ) {
		params[p.Name] = p
	}
	var warns, errs discharge.Issues
	names := make([]string, 0, len(vals))
	for k := range vals {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, name := range names {
		if resultParams[name] {
			// The links repeat only what was applied: _count and _offset
			// they set themselves; _format is the caller's rendering;
			// _total is a hint (every match is always counted); an
			// _include the gateway does not support was not applied.
			switch name {
			case "_include":
				if inc := appliedIncludes(typ, vals[name]); len(inc) > 0 {
					q.used[name] = inc
				}
			case "_count", "_offset", "_format", "_total":
			default:
				q.used[name] = vals[name]
			}
			continue
		}
		base, chain := name, ""
		if i := strings.IndexAny(name, ":."); i >= 0 {
			base, chain = name[:i], name[i+1:]
		}
		p, known := params[base]
		switch {
		case known && chain == "" && p.Type == fhir.ParamSpecial:
			capped, err := s.applyNear(ctx, &q, vals[name])
			if err != nil {
				return q, nil, err
			}
			if capped {
				// The total can only count matches among the Locations
				// considered: say so, never silently.
				msg := fmt.Sprintf("near found more than %d Locations; only the nearest %d were considered, and total counts matches among them. Use a smaller distance.", maxNear, maxNear)
				if strict {
					errs.Add(discharge.KindNotSupported, name, msg)
				} else {
					warns.Warn(discharge.KindNotSupported, name, msg)
				}
			}
		case known && chain == "":
			for _, v := range vals[name] {
				f, err := fhir.ParseSearchValue(p, v)
				if err != nil {
					return q, nil, err
				}
				q.Filters = append(q.Filters, f)
			}
		case known && chainParams[base] && (chain == "identifier" || chain == "Patient.identifier"):
			for _, v := range vals[name] {
				refs, err := s.patientsByIdentifier(ctx, part, name, v)
				if err != nil {
					return q, nil, err
				}
				if len(refs) == 0 {
					q.empty = true
				}
				q.Filters = append(q.Filters, fhir.Filter{Param: base, AnyOf: refs})
			}
		default:
			msg := "Unknown or unsupported search parameter '" + name + "' for " + typ + "; it was not applied."
			if strict {
				errs.Add(discharge.KindNotSupported, name, msg)
			} else {
				warns.Warn(discharge.KindNotSupported, name, msg)
			}
			continue
		}
		q.used[name] = vals[name]
	}
	if err := errs.Err(discharge.KindNotSupported, "search"); err != nil {
		return q, nil, err
	}
	return q, warns, nil
}

// patientsByIdentifier resolves patient:identifier (the parameter name) to
// Patient references.
func (s *Service) patientsByIdentifier(ctx context.Context, part, name, value string) ([]string, error) {
	var idp fhir.SearchParam
	for _, p := range fhir.SearchParams("Patient") {
		if p.Name == "identifier" {
			idp = p
		}
	}
	f, err := fhir.ParseSearchValue(idp, value)
	if err != nil {
		return nil, err
	}
	found, total, err := s.store.Search(ctx, part, fhir.Query{Type: "Patient", Filters: []fhir.Filter{f}, Count: maxChain})
	if err != nil {
		return nil, err
	}
	if total > maxChain {
		// Resolving only some of them would undercount the search's total.
		return nil, discharge.E(discharge.KindNotSupported, name,
			fmt.Sprintf("The identifier matches more than %d Patients; give system|value.", maxChain))
	}
	refs := make([]string, len(found))
	for i, r := range found {
		refs[i] = "Patient/" + r.ID
	}
	return refs, nil
}

// pageParams reads _count, _offset and _total with the plain search
// bounds (fhir.ParsePaging).
func pageParams(vals url.Values) (count, offset int, err error) {
	p, err := fhir.ParsePaging(vals, defaultCount, maxCount)
	return p.Count, p.Offset, err
}

// pageLinks builds self, first, previous, next and last links
// (fhir.PageLinks).
func pageLinks(base string, used url.Values, count, offset, total int) []fhir.Link {
	return fhir.PageLinks(base, used, fhir.Paging{Count: count, Offset: offset}, total)
}

// maxNear bounds how many Locations one near search considers.
const maxNear = 1000

// applyNear evaluates Location near=[lat]|[long]|[distance]|[units] (the
// normative order; the R4 worked example swaps them) against the geo index
// and restricts the query to what it finds.
//
// capped reports that more than maxNear Locations are in range, of which
// only the nearest maxNear were considered.
func (s *Service) applyNear(ctx context.Context, q *query, vals []string) (capped bool, err error) {
	if len(vals) > 1 {
		return false, discharge.E(discharge.KindNotSupported, "near", "near may be given once.")
	}
	bad := discharge.E(discharge.KindValue, "near", "near must be latitude|longitude|distance|units, e.g. 53.44|-2.22|10|km.")
	parts := strings.Split(vals[0], "|")
	if len(parts) < 2 || len(parts) > 4 {
		return false, bad
	}
	lat, err1 := strconv.ParseFloat(parts[0], 64)
	lon, err2 := strconv.ParseFloat(parts[1], 64)
	// !(x >= lo && x <= hi) also refuses NaN, which ParseFloat accepts.
	if err1 != nil || err2 != nil || !(lat >= -90 && lat <= 90) || !(lon >= -180 && lon <= 180) {
		return false, bad
	}
	// The search radius rules are placement's, defined once: the same
	// default and the same bound as $placement-options and capacity.
	dist, unit := placement.DefaultRadiusKm, "km"
	if len(parts) > 2 && parts[2] != "" {
		d, err := strconv.ParseFloat(parts[2], 64)
		if err != nil || !(d > 0) || math.IsInf(d, 1) {
			return false, bad
		}
		dist = d
	}
	if len(parts) > 3 && parts[3] != "" {
		unit = parts[3]
	}
	km := map[string]float64{"km": 1, "m": 0.001, "mi": 1.609344, "[mi_i]": 1.609344}[unit]
	if km == 0 {
		return false, discharge.E(discharge.KindValue, "near", "near units must be km, m or mi.")
	}
	radius := dist * km
	if radius > placement.MaxRadiusKm {
		return false, discharge.E(discharge.KindValue, "near", fmt.Sprintf("near distance is limited to %g km.", placement.MaxRadiusKm))
	}
	var hits []discharge.Nearby
	if s.near != nil && s.areas != nil {
		if hits, err = s.near.NearLocations(ctx, s.areas.AreasNear(lat, lon, radius), lat, lon, radius, maxNear+1); err != nil {
			return false, err
		}
	}
	if len(hits) > maxNear {
		hits, capped = hits[:maxNear], true
	}
	q.distances = make(map[string]float64, len(hits))
	ids := make([]string, len(hits))
	for i, h := range hits {
		ids[i] = h.LocationID
		q.distances[h.LocationID] = h.DistanceKm
	}
	if len(ids) == 0 {
		q.empty = true
	}
	q.Filters = append(q.Filters, fhir.Filter{Param: "_id", AnyOf: ids})
	return capped, nil
}

// appliedIncludes are the _include values of a search of typ that the
// gateway applies.
func appliedIncludes(typ string, values []string) []string {
	var out []string
	for _, v := range values {
		if _, ok := includes[v]; ok && strings.HasPrefix(v, typ+":") {
			out = append(out, v)
		}
	}
	return out
}

// included resolves _include for one page of matches: each referenced
// resource once, as search.mode=include. Only directory resources are
// includable, so nothing crosses an organisation boundary.
func (s *Service) included(ctx context.Context, typ string, values []string, page []fhir.Resource, strict bool, base string) ([]fhir.BundleEntryOut, discharge.Issues, error) {
	var warns discharge.Issues
	var els []string
	for _, v := range values {
		el := includes[v]
		if len(appliedIncludes(typ, []string{v})) == 0 {
			msg := "Unsupported _include '" + v + "'; it was not applied."
			if strict {
				return nil, nil, discharge.E(discharge.KindNotSupported, "_include", msg)
			}
			warns.Warn(discharge.KindNotSupported, "_include", msg)
			continue
		}
		els = append(els, el)
	}
	if len(els) == 0 {
		return nil, warns, nil
	}
	seen := map[string]bool{}
	var out []fhir.BundleEntryOut
	for _, r := range page {
		doc, err := fhir.DecodeDoc(r.JSON)
		if err != nil {
			return nil, nil, err
		}
		for _, el := range els {
			for _, rs := range mappings.ElementReferences(doc, el) {
				rt, id, ok := SplitRef(rs)
				if !ok || seen[rt+"/"+id] || !IsDirectory(rt) {
					continue
				}
				seen[rt+"/"+id] = true
				got, err := s.store.Read(ctx, fhir.DirectoryPartition, rt, id)
				if discharge.ErrorKind(err) == discharge.KindNotFound {
					continue
				}
				if err != nil {
					return nil, nil, err
				}
				out = append(out, fhir.BundleEntryOut{FullURL: base + "/" + rt + "/" + id, Resource: got.JSON, SearchMode: "include"})
			}
		}
	}
	return out, warns, nil
}
