package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/fhir"
	"github.com/dischargegateway/gateway/mappings"
)

// Placement defaults.
const (
	defaultPlacementCount = 10
	maxPlacementCount     = 50
	// placementCandidates bounds how many nearby locations one request
	// considers.
	placementCandidates = 500
)

// defaultRadiusKm is the search radius per care setting when the caller
// gives none: care homes 25 km; short-term beds nearer to home.
var defaultRadiusKm = map[discharge.CareSetting]float64{
	discharge.CareD2ABed: 20, discharge.CareIntermediateBed: 20,
}

// placementParams are the operation's parameters.
type placementParams struct {
	radius       float64
	count        int
	date         *discharge.Date
	includeStale bool
	explain      bool
}

func parsePlacementParams(q url.Values) (placementParams, error) {
	p := placementParams{count: defaultPlacementCount}
	for name, vals := range q {
		v := vals[0]
		switch name {
		case "radius":
			f, err := strconv.ParseFloat(v, 64)
			if err != nil || f <= 0 || f > 200 {
				return p, discharge.E(discharge.KindValue, "radius", "radius is kilometres, above 0 and at most 200.")
			}
			p.radius = f
		case "_count":
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				return p, discharge.E(discharge.KindValue, "_count", "_count is a whole number of 1 or more.")
			}
			p.count = min(n, maxPlacementCount)
		case "date":
			d, err := discharge.ParseDate(v)
			if err != nil {
				return p, discharge.E(discharge.KindValue, "date", "date is YYYY-MM-DD.")
			}
			p.date = &d
		case "includeStale", "explain":
			b, err := strconv.ParseBool(v)
			if err != nil {
				return p, discharge.E(discharge.KindValue, name, name+" is true or false.")
			}
			if name == "explain" {
				p.explain = b
			} else {
				p.includeStale = b
			}
		case "_format":
		default:
			return p, discharge.E(discharge.KindNotSupported, name, "Unknown $placement-options parameter '"+name+"'.")
		}
	}
	return p, nil
}

// placementOptions is GET or POST /fhir/ServiceRequest/{id}/$placement-options:
// the providers that can take this patient, ranked and explained, as a
// searchset Bundle.
func (s *Server) placementOptions(c echo.Context) error {
	q := c.QueryParams()
	if c.Request().Method == http.MethodPost && c.Request().ContentLength != 0 {
		resources, err := s.operationParameters(c, q)
		if err != nil {
			return err
		}
		if len(resources) > 0 {
			return discharge.E(discharge.KindNotSupported, "Parameters.parameter",
				"An instance-level call takes the stored ServiceRequest; send resources to ServiceRequest/$placement-options.")
		}
	}
	params, err := parsePlacementParams(q)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	sr, part, err := s.readAcross(c, "ServiceRequest", c.Param("id"))
	if err != nil {
		return notFoundAt(err, "ServiceRequest")
	}
	srDoc, err := decodeDoc(sr.JSON)
	if err != nil {
		return err
	}
	// The Patient (home postcode) and the Encounter (discharge dates) shape
	// the answer: a store failure reading them is the caller's 503, never a
	// quietly different shortlist.
	patient, err := s.subjectPatient(ctx, part, srDoc, nil)
	if err != nil {
		return err
	}
	var cs *discharge.Case
	if ref, ok := refString(srDoc["encounter"]); ok {
		enc, err := s.lookupIfAny(ctx, part, ref, nil)
		if err != nil {
			return err
		}
		if enc != nil {
			if raw, err := encodeDoc(enc); err == nil {
				cs, _, _ = mappings.EncounterToCase(raw, patient, s.mapOptions(part))
			}
		}
	}
	return s.place(c, sr.JSON, patient, cs, part, params)
}

// placementWhatIf is POST /fhir/ServiceRequest/$placement-options with a
// Parameters resource holding the ServiceRequest (and its Patient) inline:
// nothing is stored, for "what if" questions and testers.
func (s *Server) placementWhatIf(c echo.Context) error {
	q := url.Values{}
	resources, err := s.operationParameters(c, q)
	if err != nil {
		return err
	}
	params, err := parsePlacementParams(q)
	if err != nil {
		return err
	}
	sr, ok := resources["serviceRequest"]
	if !ok {
		return discharge.E(discharge.KindRequired, "Parameters.parameter", "A serviceRequest parameter with the ServiceRequest inline is required.")
	}
	if _, err := fhir.Validate(sr, "ServiceRequest", s.cfg.Limits); err != nil {
		return rebaseError(err, "ServiceRequest", "Parameters.parameter.resource")
	}
	patient := resources["patient"]
	if patient != nil {
		if _, err := fhir.Validate(patient, "Patient", s.cfg.Limits); err != nil {
			return rebaseError(err, "Patient", "Parameters.parameter.resource")
		}
	}
	part := ""
	if p := principal(c); p != nil {
		part = p.Org
	}
	return s.place(c, sr, patient, nil, part, params)
}

// operationParameters reads a Parameters body: primitive values into q,
// inline resources returned by parameter name.
func (s *Server) operationParameters(c echo.Context, q url.Values) (map[string][]byte, error) {
	body, err := s.readBody(c, "Parameters")
	if err != nil {
		return nil, err
	}
	doc, err := s.validate(body, "Parameters")
	if err != nil {
		return nil, err
	}
	resources := map[string][]byte{}
	ps, _ := doc["parameter"].([]any)
	for _, x := range ps {
		m, _ := x.(map[string]any)
		name, _ := m["name"].(string)
		for k, v := range m {
			switch {
			case k == "name":
			case k == "resource":
				raw, err := encodeDoc(v.(map[string]any))
				if err != nil {
					return nil, err
				}
				resources[name] = raw
			case len(k) > 5 && k[:5] == "value":
				q.Add(name, fmt.Sprint(v))
			}
		}
	}
	return resources, nil
}

// place matches a request and writes the Bundle.
func (s *Server) place(c echo.Context, srJSON, patient []byte, cs *discharge.Case, part string, params placementParams) error {
	need, issues, err := mappings.ServiceRequestToNeed(srJSON, patient, s.mapOptions(part))
	if err != nil {
		return err
	}
	if need == nil {
		return &discharge.Error{Kind: discharge.KindBusinessRule, Issues: rebaseIssues(issues, "ServiceRequest", "ServiceRequest")}
	}
	req := discharge.MatchRequest{Need: *need, Case: cs, Now: s.now(), Freshness: s.cfg.Freshness,
		Weights: s.cfg.Weights, IncludeStale: params.includeStale, Explain: params.explain, Limit: params.count}
	// The date needed: the parameter, else the request's own start, else
	// the case's Discharge Ready Date or expected discharge date, else today.
	switch {
	case params.date != nil:
		req.Date = *params.date
	case need.StartDate != nil:
		req.Date = *need.StartDate
	case cs != nil && cs.DischargeReadyDate != nil:
		req.Date = *cs.DischargeReadyDate
	case cs != nil && cs.ExpectedDischargeDate != nil:
		req.Date = *cs.ExpectedDischargeDate
	default:
		req.Date = discharge.DateOf(s.now())
	}
	origin, outcode, err := s.origin(need)
	if err != nil {
		return err
	}
	req.PatientOutcode = outcode
	req.RadiusKm = params.radius
	if req.RadiusKm == 0 {
		req.RadiusKm = 25
		if r, ok := defaultRadiusKm[need.Setting]; ok {
			req.RadiusKm = r
		}
	}
	// Only an explanation needs the providers just beyond the radius.
	reach := req.RadiusKm
	if params.explain {
		reach *= 1.5
	}
	cands, gen, err := s.candidates(c, need, origin, outcode, reach)
	if err != nil {
		return err
	}
	res := discharge.Match(req, cands)
	docs, err := s.matchedResources(c.Request().Context(), gen, res.Matches)
	if err != nil {
		return err
	}
	body, shown := s.placementBundle(c, res, docs, req)
	s.metrics.placementReturned(c.Request().Context(), shown)
	return respond(c, http.StatusOK, body)
}

// origin is where the patient is to be placed from: the request's search
// area, else the patient's home postcode.
func (s *Server) origin(need *discharge.CareNeed) (discharge.Position, string, error) {
	a := need.SearchArea
	if a != nil && a.Latitude != nil && a.Longitude != nil {
		return discharge.Position{Lat: *a.Latitude, Lon: *a.Longitude}, a.Outcode, nil
	}
	if a != nil && a.Outcode != "" {
		if p, ok := s.geo.Locate(a.Outcode); ok {
			return p, a.Outcode, nil
		}
		return discharge.Position{}, "", discharge.E(discharge.KindBusinessRule, "Patient.address.postalCode",
			"No UK position for the patient: the gateway does not know the postcode district of the search area. "+
				"Send a UK postcode in Patient.address.postalCode, or a postcode district in the ServiceRequest's search-area extension ("+mappings.SearchAreaURL+").")
	}
	// An overseas visitor's case is accepted at intake (case.noUKPosition);
	// placement cannot rank by distance from nowhere, so it says what to send.
	return discharge.Position{}, "", discharge.E(discharge.KindBusinessRule, "Patient.address.postalCode",
		"No UK position for the patient: the ServiceRequest has no search area and its subject Patient has no UK postcode (an address outside the UK, or none). "+
			"Send a UK postcode in Patient.address.postalCode, or a postcode district in the ServiceRequest's search-area extension ("+mappings.SearchAreaURL+").")
}

// candidates loads the providers that could serve the need: bed-based ones
// from the geo shards near the origin, home care from its district's
// coverage set; then their projections (cached per directory generation)
// and current capacity (cached per posting version).
// It returns the directory generation the projections are at (0 when there
// were no candidates).
func (s *Server) candidates(c echo.Context, need *discharge.CareNeed, origin discharge.Position, outcode string, radius float64) ([]discharge.Candidate, int64, error) {
	ctx := c.Request().Context()
	var distance map[string]float64
	var hints map[string]int64
	var locIDs []string
	if beds := discharge.BedTypesForNeed(*need); beds != nil {
		// Near looks in a quarter of the radius first, in its copy of the
		// shards, and in the whole only when that does not hold
		// placementCandidates: one round trip either way.
		hits, err := s.capacity.Near(ctx, s.geo.AreasNear(origin.Lat, origin.Lon, radius), beds, origin.Lat, origin.Lon, radius, placementCandidates)
		if err != nil {
			return nil, 0, err
		}
		distance = make(map[string]float64, len(hits))
		hints = make(map[string]int64, len(hits))
		locIDs = make([]string, 0, len(hits))
		for _, h := range hits {
			distance[h.LocationID] = h.DistanceKm
			hints[h.LocationID] = h.CapacityVersion
			locIDs = append(locIDs, h.LocationID)
		}
	} else {
		ids, err := s.capacity.Covering(ctx, outcode)
		if err != nil {
			return nil, 0, err
		}
		locIDs = ids
	}
	if len(locIDs) == 0 {
		return nil, 0, nil
	}
	providers, gen, err := s.providersAt(ctx, locIDs)
	if err != nil {
		return nil, 0, err
	}
	caps, err := s.capacityAt(ctx, locIDs, hints)
	if err != nil {
		return nil, 0, err
	}
	// One backing array each for the candidates' postings and distances,
	// not a small heap object per location (GC was a fifth of the CPU).
	list := make([]discharge.Candidate, 0, len(locIDs))
	postings := make([]discharge.Capacity, 0, len(caps))
	dists := make([]float64, 0, len(distance))
	for _, lid := range locIDs {
		var cp *discharge.Capacity
		if c, ok := caps[lid]; ok {
			postings = append(postings, c)
			cp = &postings[len(postings)-1]
		}
		var dp *float64
		if d, ok := distance[lid]; ok {
			dists = append(dists, d)
			dp = &dists[len(dists)-1]
		}
		for _, p := range providers[lid] {
			list = append(list, discharge.Candidate{Provider: withCoverage(p, cp), Capacity: cp, DistanceKm: dp})
		}
	}
	return list, gen, nil
}

// matchedResources reads what the answer shows: each match's
// HealthcareService, Location and Organization, in one round trip.
func (s *Server) matchedResources(ctx context.Context, gen int64, matches []discharge.Option) (map[string]fhir.Resource, error) {
	var refs []fhir.Ref
	seen := map[fhir.Ref]bool{}
	add := func(typ, id string) {
		r := fhir.Ref{Type: typ, ID: id}
		if id != "" && !seen[r] {
			seen[r] = true
			refs = append(refs, r)
		}
	}
	for _, o := range matches {
		add("HealthcareService", o.Provider.ServiceID)
		add("Location", o.Provider.LocationID)
		add("Organization", o.Provider.OrganizationID)
	}
	if len(refs) == 0 {
		return map[string]fhir.Resource{}, nil
	}
	return s.directoryDocs(ctx, gen, refs)
}

// placementBundle renders the answer: one match entry per option with its
// score, distance and explanation, its Location and Organization as
// includes, and warnings (and, with explain, the exclusions) in an
// OperationOutcome entry.
func (s *Server) placementBundle(c echo.Context, res discharge.Result, docs map[string]fhir.Resource, req discharge.MatchRequest) ([]byte, int) {
	base := s.baseURL(c)
	var entries []fhir.BundleEntryOut
	included := map[string]bool{}
	var matches []discharge.Option
	for _, o := range res.Matches {
		sv, ok := docs["HealthcareService/"+o.Provider.ServiceID]
		if !ok {
			// Deleted since the projection was read: leave it out rather
			// than show an option that no longer exists.
			continue
		}
		matches = append(matches, o)
		score := o.Score
		ext := []json.RawMessage{mappings.PlacementExplanation(o)}
		if o.DistanceKm != nil {
			ext = append([]json.RawMessage{locationDistance(*o.DistanceKm)}, ext...)
		}
		entries = append(entries, fhir.BundleEntryOut{FullURL: base + "/HealthcareService/" + sv.ID, Resource: sv.JSON,
			SearchMode: "match", SearchScore: &score, Extension: ext})
	}
	for _, o := range matches {
		for _, ref := range []string{"Location/" + o.Provider.LocationID, "Organization/" + o.Provider.OrganizationID} {
			r, ok := docs[ref]
			if !ok || included[ref] {
				continue
			}
			included[ref] = true
			entries = append(entries, fhir.BundleEntryOut{FullURL: base + "/" + ref, Resource: r.JSON, SearchMode: "include"})
		}
	}
	var warns discharge.Issues
	for _, f := range discharge.Filters {
		if n := res.Counts[f]; n > 0 && (f == "capacity-stale" || f == "capacity-unknown" || f == "closed" || f == "vacancy") {
			warns.Warn(discharge.KindBusinessRule, "", fmt.Sprintf("%d provider(s) left out: %s.", n, f))
		}
	}
	if len(matches) < 3 {
		warns.Warn(discharge.KindBusinessRule, "", fmt.Sprintf("Fewer than 3 options within %.0f km.", req.RadiusKm))
	}
	for _, x := range res.Excluded {
		d := ""
		if x.DistanceKm != nil {
			d = fmt.Sprintf(" (%.1f km)", *x.DistanceKm)
		}
		warns = append(warns, discharge.Issue{Kind: discharge.KindBusinessRule, Severity: discharge.SeverityInformation,
			Expression: "HealthcareService/" + x.Provider.ServiceID,
			Message:    "Excluded by " + x.Filter + ": " + x.Detail + d + "."})
	}
	if len(warns) > 0 {
		entries = append(entries, fhir.BundleEntryOut{SearchMode: "outcome", Resource: fhir.OperationOutcome(issuesToOutcome(warns, discharge.KindBusinessRule))})
	}
	total := len(matches)
	// The operation's own URL below the base, with the query that shaped
	// the answer (a POST's Parameters are not repeated).
	self := base + strings.TrimPrefix(c.Request().URL.Path, "/fhir")
	if q := c.Request().URL.RawQuery; q != "" {
		self += "?" + q
	}
	links := []fhir.Link{{Relation: "self", URL: self}}
	return fhir.MarshalBundle("searchset", &total, links, entries), total
}
