package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/fhir"
	"github.com/dischargegateway/gateway/mappings"
)

// Placement defaults and bounds.
const (
	defaultPlacementCount = 10
	maxPlacementCount     = 50
	// maxPlacementOffset bounds _offset. Issue 13 asks for every numeric
	// search and operation parameter to be bounded in one place; until the
	// shared paging parser does it, this is the operation's own bound. It
	// lies far past any real answer (a request considers at most
	// placementCandidates locations), so an offset past the end is an
	// empty page, and offset+count can never overflow.
	maxPlacementOffset = 10000
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
	offset       int
	date         *discharge.Date
	includeStale bool
	explain      bool
	// used are the parameters that shaped the answer, for its links;
	// ignored ones (Prefer: handling=lenient) are left out.
	used url.Values
	// warnings are the parameters ignored under Prefer: handling=lenient.
	warnings discharge.Issues
}

// placementResourceParams are the parameters that carry a resource, at the
// type level only.
var placementResourceParams = map[string]bool{"serviceRequest": true, "patient": true}

// parsePlacementParams reads the operation's primitive parameters, one
// value each (placementInput has merged the URL and the body). An unknown
// parameter is an error, or with lenient (Prefer: handling=lenient) a
// warning and ignored.
func parsePlacementParams(q url.Values, lenient bool) (placementParams, error) {
	p := placementParams{count: defaultPlacementCount, used: url.Values{}}
	// In name order, so that of two bad parameters the same one is
	// reported every time.
	for _, name := range sortedKeys(q) {
		v := q.Get(name)
		switch name {
		case "radius":
			f, err := strconv.ParseFloat(v, 64)
			if err != nil || !(f > 0 && f <= 200) { // NaN fails too
				return p, discharge.E(discharge.KindValue, name, "radius is kilometres, above 0 and at most 200.")
			}
			p.radius = f
		case "_count":
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				return p, discharge.E(discharge.KindValue, name, "_count is a whole number of 0 or more (0: only the total).")
			}
			p.count = min(n, maxPlacementCount)
		case "_offset":
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 || n > maxPlacementOffset {
				return p, discharge.E(discharge.KindValue, name, fmt.Sprintf("_offset is a whole number from 0 to %d.", maxPlacementOffset))
			}
			p.offset = n
		case "date":
			d, err := discharge.ParseDate(v)
			if err != nil {
				return p, discharge.E(discharge.KindValue, name, "date is YYYY-MM-DD.")
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
		case "serviceRequest", "patient":
			return p, discharge.E(discharge.KindValue, name,
				"'"+name+"' is a resource: send it inline in a Parameters body to ServiceRequest/$placement-options.")
		default:
			if !lenient {
				return p, discharge.E(discharge.KindNotSupported, name, "Unknown $placement-options parameter '"+name+"'.")
			}
			p.warnings.Warn(discharge.KindNotSupported, name,
				"Unknown $placement-options parameter '"+name+"' ignored (Prefer: handling=lenient).")
			continue
		}
		p.used.Set(name, v)
	}
	return p, nil
}

// placementInput is the operation's input: its primitive parameters, from
// the URL query and, for a POST, the Parameters body, and its inline
// resources.
type placementInput struct {
	vals url.Values // one value per name
	// at names, for each parameter that came in the body, its element
	// (Parameters.parameter[2].valueDecimal), so an error points there.
	at        map[string]string
	resources map[string][]byte
}

// readPlacementInput merges the URL query and a POST's Parameters body, as
// FHIR lets an operation's POST carry parameters in both. Every parameter
// is 0..1: one given twice, in the URL, in the body or in both, is refused
// (400, invalid, naming it) unless the values are the same text, so that
// no value is silently dropped.
func (s *Server) readPlacementInput(c echo.Context) (placementInput, error) {
	in := placementInput{vals: url.Values{}, at: map[string]string{}, resources: map[string][]byte{}}
	for name, vs := range c.QueryParams() {
		for _, v := range vs[1:] {
			if v != vs[0] {
				return in, twice(name)
			}
		}
		in.vals.Set(name, vs[0])
	}
	if c.Request().Method != http.MethodPost || c.Request().ContentLength == 0 {
		return in, nil
	}
	body, err := s.readBody(c, "Parameters")
	if err != nil {
		return in, err
	}
	doc, err := s.validate(body, "Parameters")
	if err != nil {
		return in, err
	}
	ps, _ := doc["parameter"].([]any)
	for i, x := range ps {
		m, _ := x.(map[string]any)
		name, _ := m["name"].(string)
		at := fmt.Sprintf("Parameters.parameter[%d]", i)
		if _, ok := m["part"]; ok {
			return in, discharge.E(discharge.KindNotSupported, at+".part", "$placement-options has no parameter with parts.")
		}
		if res, ok := m["resource"].(map[string]any); ok {
			_, dup := in.resources[name]
			if _, asValue := in.vals[name]; dup || asValue {
				return in, twice(name)
			}
			raw, err := encodeDoc(res)
			if err != nil {
				return in, err
			}
			in.resources[name] = raw
			in.at[name] = at + ".resource"
			continue
		}
		key, v, err := parameterValue(m, at, name)
		if err != nil {
			return in, err
		}
		_, asResource := in.resources[name]
		if prev, given := in.vals[name]; asResource || (given && prev[0] != v) {
			return in, twice(name)
		}
		in.vals.Set(name, v)
		in.at[name] = at + "." + key
	}
	return in, nil
}

// parameterValue returns a Parameters.parameter's value[x] element name and
// its value as URL text. It fails when there is no value[x] (KindRequired),
// more than one, or one that is not a primitive (KindValue).
func parameterValue(m map[string]any, at, name string) (key, text string, err error) {
	var keys []string
	for k := range m {
		if strings.HasPrefix(k, "value") {
			keys = append(keys, k)
		}
	}
	switch len(keys) {
	case 0:
		return "", "", discharge.E(discharge.KindRequired, at, "Parameter '"+name+"' has no value[x] or resource.")
	case 1:
	default:
		slices.Sort(keys)
		return "", "", discharge.E(discharge.KindValue, at+"."+keys[1], "Parameter '"+name+"' has more than one value[x].")
	}
	key = keys[0]
	switch x := m[key].(type) {
	case string:
		return key, x, nil
	case json.Number:
		return key, x.String(), nil
	case bool:
		return key, strconv.FormatBool(x), nil
	}
	return "", "", discharge.E(discharge.KindValue, at+"."+key, "Parameter '"+name+"' must have a primitive value.")
}

// sortedKeys returns a map's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// twice refuses a parameter given more than once with different values.
func twice(name string) error {
	return discharge.E(discharge.KindInvalid, name, "Parameter '"+name+
		"' is given more than once (in the URL, the body or both) with different values: give it once.")
}

// params parses the input's primitive parameters, pointing any error or
// warning at the body element a parameter came from.
func (in placementInput) params(c echo.Context) (placementParams, error) {
	p, err := parsePlacementParams(in.vals, preferHandling(c) == "lenient")
	var de *discharge.Error
	if errors.As(err, &de) {
		cp := *de
		cp.Issues = in.rebase(de.Issues)
		return p, &cp
	}
	p.warnings = in.rebase(p.warnings)
	return p, nil
}

func (in placementInput) rebase(issues discharge.Issues) discharge.Issues {
	out := make(discharge.Issues, len(issues))
	for i, is := range issues {
		if at, ok := in.at[is.Expression]; ok {
			is.Expression = at
		}
		out[i] = is
	}
	return out
}

// placementOptions is GET or POST /fhir/ServiceRequest/{id}/$placement-options:
// the providers that can take this patient, ranked and explained, as a
// searchset Bundle.
func (s *Server) placementOptions(c echo.Context) error {
	in, err := s.readPlacementInput(c)
	if err != nil {
		return err
	}
	if names := sortedKeys(in.resources); len(names) > 0 {
		return discharge.E(discharge.KindNotSupported, in.at[names[0]],
			"An instance-level call takes the stored ServiceRequest; send resources to ServiceRequest/$placement-options.")
	}
	params, err := in.params(c)
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
	in, err := s.readPlacementInput(c)
	if err != nil {
		return err
	}
	for _, name := range sortedKeys(in.resources) {
		if !placementResourceParams[name] {
			return discharge.E(discharge.KindNotSupported, in.at[name],
				"Unknown $placement-options resource parameter '"+name+"': the resources are serviceRequest and patient.")
		}
	}
	params, err := in.params(c)
	if err != nil {
		return err
	}
	sr, ok := in.resources["serviceRequest"]
	if !ok {
		return discharge.E(discharge.KindRequired, "Parameters.parameter", "A serviceRequest parameter with the ServiceRequest inline is required.")
	}
	if _, err := fhir.Validate(sr, "ServiceRequest", s.cfg.Limits); err != nil {
		return rebaseError(err, "ServiceRequest", in.at["serviceRequest"])
	}
	patient := in.resources["patient"]
	if patient != nil {
		if _, err := fhir.Validate(patient, "Patient", s.cfg.Limits); err != nil {
			return rebaseError(err, "Patient", in.at["patient"])
		}
	}
	part := ""
	if p := principal(c); p != nil {
		part = p.Org
	}
	return s.place(c, sr, patient, nil, part, params)
}

// place matches a request and writes the Bundle.
//
// It refuses (422 business-rule) to place what is over: a ServiceRequest
// that is revoked, completed or entered-in-error, an inpatient Encounter
// that is finished, cancelled or entered-in-error, and a date parameter
// before today in England. A date taken from the request or the case (its
// occurrence, Discharge Ready Date or expected discharge date) that has
// passed means "as soon as possible": it becomes today.
func (s *Server) place(c echo.Context, srJSON, patient []byte, cs *discharge.Case, part string, params placementParams) error {
	need, issues, err := mappings.ServiceRequestToNeed(srJSON, patient, s.mapOptions(part))
	if err != nil {
		return err
	}
	if need == nil {
		return &discharge.Error{Kind: discharge.KindBusinessRule, Issues: rebaseIssues(issues, "ServiceRequest", "ServiceRequest")}
	}
	if need.Closed() {
		return discharge.E(discharge.KindBusinessRule, "ServiceRequest.status",
			"The ServiceRequest is "+need.Status+": there is nothing left to place.")
	}
	if cs != nil && discharge.CaseEnded(cs.Status) {
		return discharge.E(discharge.KindBusinessRule, "Encounter.status",
			"The inpatient Encounter is "+cs.Status+": there is no discharge left to place.")
	}
	today := discharge.Today(s.now())
	limit := params.offset + params.count
	if limit == 0 {
		limit = 1 // _count=0: only the total, but Limit 0 would keep every option
	}
	req := discharge.MatchRequest{Need: *need, Case: cs, Now: s.now(), Freshness: s.cfg.Freshness,
		Weights: s.cfg.Weights, IncludeStale: params.includeStale, Explain: params.explain, Limit: limit}
	// The date needed: the parameter, else the request's own start, else
	// the case's Discharge Ready Date or expected discharge date, else today.
	switch {
	case params.date != nil:
		if params.date.Before(today) {
			return discharge.E(discharge.KindBusinessRule, "date",
				"date "+params.date.String()+" is in the past (today in England is "+today.String()+").")
		}
		req.Date = *params.date
	case need.StartDate != nil:
		req.Date = *need.StartDate
	case cs != nil && cs.DischargeReadyDate != nil:
		req.Date = *cs.DischargeReadyDate
	case cs != nil && cs.ExpectedDischargeDate != nil:
		req.Date = *cs.ExpectedDischargeDate
	default:
		req.Date = today
	}
	if req.Date.Before(today) {
		req.Date = today
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
	cands, err := s.candidates(c, need, origin, outcode, reach, params.explain)
	if err != nil {
		return err
	}
	res := discharge.Match(req, cands.list)
	page := res.Matches[min(params.offset, len(res.Matches)):min(params.offset+params.count, len(res.Matches))]
	docs, err := s.matchedResources(c.Request().Context(), cands.gen, page)
	if err != nil {
		return err
	}
	warns := params.warnings
	if cands.capped {
		warns.Warn(discharge.KindBusinessRule, "", fmt.Sprintf(
			"Only the %d nearest locations (up to %.1f km) were considered: total counts the options among them.",
			placementCandidates, cands.furthestKm))
	}
	body, shown := s.placementBundle(c, res, page, docs, req, params, warns)
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

// candidateSet is what candidates found.
type candidateSet struct {
	list []discharge.Candidate
	// gen is the directory generation the projections are at (0 when there
	// were no candidates).
	gen int64
	// capped says the bed-based search stopped at placementCandidates
	// locations, the furthest furthestKm away: there may be more options
	// beyond them than total counts.
	capped     bool
	furthestKm float64
}

// candidates loads the providers that could serve the need: bed-based ones
// from the geo shards near the origin, home care from its district's
// coverage set; then their projections (cached per directory generation)
// and current capacity (cached per posting version).
//
// With explain, a bed-based search also takes the nearest directory
// Locations of any kind (the geo index behind Location near), marked
// ExplainOnly: a care home next door that offers another setting or bed
// type is what "why does nobody fit?" needs, and the bed-type shards never
// hold it. Match lists them but never counts or returns them.
func (s *Server) candidates(c echo.Context, need *discharge.CareNeed, origin discharge.Position, outcode string, radius float64, explain bool) (candidateSet, error) {
	ctx := c.Request().Context()
	var out candidateSet
	var distance map[string]float64
	var hints map[string]int64
	var locIDs []string
	explainOnly := map[string]bool{}
	if beds := discharge.BedTypesForNeed(*need); beds != nil {
		// Near looks in a quarter of the radius first, in its copy of the
		// shards, and in the whole only when that does not hold
		// placementCandidates: one round trip either way.
		areas := s.geo.AreasNear(origin.Lat, origin.Lon, radius)
		hits, err := s.capacity.Near(ctx, areas, beds, origin.Lat, origin.Lon, radius, placementCandidates)
		if err != nil {
			return out, err
		}
		if len(hits) >= placementCandidates {
			out.capped, out.furthestKm = true, hits[len(hits)-1].DistanceKm
		}
		var extra []discharge.Nearby
		if explain {
			// Enough of the nearest Locations to find MaxExplained that
			// the bed-type search did not: they are all excluded, and
			// only the nearest MaxExplained exclusions are listed.
			extra, err = s.capacity.NearLocations(ctx, areas, origin.Lat, origin.Lon, radius,
				min(placementCandidates, len(hits)+discharge.MaxExplained))
			if err != nil {
				return out, err
			}
		}
		distance = make(map[string]float64, len(hits)+len(extra))
		hints = make(map[string]int64, len(hits))
		locIDs = make([]string, 0, len(hits)+len(extra))
		for _, h := range hits {
			distance[h.LocationID] = h.DistanceKm
			hints[h.LocationID] = h.CapacityVersion
			locIDs = append(locIDs, h.LocationID)
		}
		for _, h := range extra {
			if _, ok := distance[h.LocationID]; ok {
				continue
			}
			distance[h.LocationID] = h.DistanceKm
			explainOnly[h.LocationID] = true
			locIDs = append(locIDs, h.LocationID)
		}
	} else {
		ids, err := s.capacity.Covering(ctx, outcode)
		if err != nil {
			return out, err
		}
		locIDs = ids
	}
	if len(locIDs) == 0 {
		return out, nil
	}
	providers, gen, err := s.providersAt(ctx, locIDs)
	if err != nil {
		return out, err
	}
	caps, err := s.capacityAt(ctx, locIDs, hints)
	if err != nil {
		return out, err
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
			list = append(list, discharge.Candidate{Provider: withCoverage(p, cp), Capacity: cp, DistanceKm: dp, ExplainOnly: explainOnly[lid]})
		}
	}
	out.list, out.gen = list, gen
	return out, nil
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

// placementBundle renders the answer: one match entry per option on the
// page with its score, distance and explanation, its Location and
// Organization as includes, warnings (and, with explain, the exclusions)
// in an OperationOutcome entry, total (every option, not just the page)
// and self/first/previous/next/last links that carry the parameters.
// It returns the Bundle and how many options it shows.
func (s *Server) placementBundle(c echo.Context, res discharge.Result, page []discharge.Option, docs map[string]fhir.Resource,
	req discharge.MatchRequest, params placementParams, warns discharge.Issues) ([]byte, int) {
	base := s.baseURL(c)
	var entries []fhir.BundleEntryOut
	included := map[string]bool{}
	var matches []discharge.Option
	for _, o := range page {
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
	// A service deleted since its projection was read is no option.
	total := res.Total - (len(page) - len(matches))
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
	// Each reason a provider was left out is coded, so software can act on
	// it: the filter's code in the placement-exclusion-reason CodeSystem.
	coded := func(sev discharge.Severity, f discharge.Filter, expression, msg string) fhir.OutcomeIssue {
		system, code := mappings.ExclusionReasonCoding(f)
		return fhir.OutcomeIssue{Severity: severityCode(sev), Code: issueCode(discharge.KindBusinessRule),
			Expression: expression, DetailSystem: system, DetailCode: code, Diagnostics: msg}
	}
	var issues []fhir.OutcomeIssue
	for _, f := range discharge.Filters {
		if n := res.Counts[f]; n > 0 && (f == discharge.FilterCapacityStale || f == discharge.FilterCapacityUnknown ||
			f == discharge.FilterClosed || f == discharge.FilterVacancy) {
			issues = append(issues, coded(discharge.SeverityWarning, f, "", fmt.Sprintf("%d provider(s) left out: %s.", n, f)))
		}
	}
	if total < 3 {
		warns.Warn(discharge.KindBusinessRule, "", fmt.Sprintf("Fewer than 3 options within %.0f km.", req.RadiusKm))
	}
	issues = append(issues, issuesToOutcome(warns, discharge.KindBusinessRule)...)
	for _, x := range res.Excluded {
		d := ""
		if x.DistanceKm != nil {
			d = fmt.Sprintf(" (%.1f km)", *x.DistanceKm)
		}
		issues = append(issues, coded(discharge.SeverityInformation, x.Filter, "HealthcareService/"+x.Provider.ServiceID,
			"Excluded by "+string(x.Filter)+": "+x.Detail+d+"."))
	}
	if len(issues) > 0 {
		entries = append(entries, fhir.BundleEntryOut{SearchMode: "outcome", Resource: fhir.OperationOutcome(issues)})
	}
	// The operation's own URL below the base, with the parameters that
	// shaped the answer, a POST body's primitive ones included: the
	// instance-level links are GETs of the same question; at the type
	// level, POST the same resources to them.
	self := base + strings.TrimPrefix(c.Request().URL.Path, "/fhir")
	links := pageLinks(self, params.used, params.count, params.offset, total)
	return fhir.MarshalBundle("searchset", &total, links, entries), len(matches)
}
