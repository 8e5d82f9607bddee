// Package placement answers $placement-options: which providers can take a
// patient now, ranked and explained. It owns the operation's parameter
// rules, its radius limits and defaults, its refusals, the gathering of
// candidates from the capacity geo index and the directory, and the
// per-process cache of provider projections and shown resources (index.go).
//
// The Service reads through the small interfaces declared here, maps FHIR
// through mappings/ and matches with discharge.Match; it returns a domain
// Answer, which the HTTP layer renders with mappings.PlacementBundle. It
// knows nothing of HTTP.
//
// What others do with an answered search is theirs: placement tells its
// Observers (a Search: who asked, for which case, what was asked and how
// much was found) and knows nothing of what they keep. The case's
// shortlisted event (cases.ShortlistObserver) and the sitrep's unmet-demand
// count (sitrep.DemandObserver) are two; cmd/gateway wires them.
package placement

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/dischargegateway/gateway/auth"
	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/fhir"
	"github.com/dischargegateway/gateway/mappings"
	r4 "github.com/samply/golang-fhir-models/fhir-models/fhir"
)

// Capacity is the capacity geo index and the current postings.
type Capacity interface {
	// Near returns the locations with beds of the given types within
	// radiusKm of a point, nearest first, at most limit of them.
	Near(ctx context.Context, areas []string, beds []discharge.BedType, lat, lon, radiusKm float64, limit int) ([]Nearby, error)
	// NearLocations returns the directory Locations of any kind near a
	// point, nearest first.
	NearLocations(ctx context.Context, areas []string, lat, lon, radiusKm float64, limit int) ([]discharge.Nearby, error)
	// Covering lists locations that have posted home care for a district.
	Covering(ctx context.Context, outcode string) ([]string, error)
	// Versions returns each location's current posting version (0: none).
	Versions(ctx context.Context, ids ...string) ([]int64, error)
	// Get returns the current postings of locations.
	Get(ctx context.Context, ids ...string) (map[string]discharge.Capacity, error)
}

// Nearby is a location the capacity geo index found near a point, with the
// version hint placement's posting cache reads by. The hint is the cache's,
// not the domain's: it lives here, beside the Capacity contract that
// returns it, and not in discharge.
type Nearby struct {
	LocationID string
	DistanceKm float64
	// CapacityVersion is the version of the location's capacity posting the
	// index last saw (0: not known). It may trail the posting by the moment
	// between a posting and its index update; use it only to decide whether
	// a copy already held is current (capacityAt).
	CapacityVersion int64
}

// Directory reads the provider directory's partition (fhir.DirectoryPartition).
// A fhir.Store is one.
type Directory interface {
	ReadMany(ctx context.Context, partition string, refs []fhir.Ref) (map[string]fhir.Resource, error)
	Search(ctx context.Context, partition string, q fhir.Query) ([]fhir.Resource, int, error)
	// Generation grows with every write to the partition.
	Generation(ctx context.Context, partition string) (int64, error)
}

// Geocoder places postcode districts and names the geo shards near a point.
type Geocoder interface {
	Locate(postcode string) (discharge.Position, bool)
	AreasNear(lat, lon, radiusKm float64) []string
}

// Records reads the stored clinical records a placement starts from.
type Records interface {
	// ReadServiceRequest returns the stored JSON of the ServiceRequest id
	// from the first organisation p may read that holds it, and that
	// organisation's partition. One held for anyone else is KindNotFound.
	ReadServiceRequest(ctx context.Context, p *auth.Principal, id string) (raw []byte, partition string, err error)
	// ReadReference returns the stored JSON of the clinical resource a
	// reference ("Patient/1", an absolute URL to this server) names in
	// partition, or nil when there is none the caller may see. Any other
	// failure is returned: an outage is never taken for a missing record.
	ReadReference(ctx context.Context, partition, ref string) ([]byte, error)
}

// Config holds the placement settings.
type Config struct {
	// Freshness says when capacity becomes stale and then unknown.
	Freshness discharge.FreshnessPolicy
	// Weights weigh the score's components.
	Weights discharge.Weights
	// Translator maps trust codes in the records (nil: none).
	Translator *mappings.Translator
	// Now is the clock (nil: time.Now).
	Now func() time.Time
	// MaxEntries bounds each of the cache's maps (0: 250,000).
	MaxEntries int
	// Referrals is the referral loop's record: the holds subtracted from
	// vacancies and providers' answers for the acceptance score. Nil: no
	// holds, neutral acceptance (a gateway without the referral loop).
	Referrals Referrals
	// Observers hear of every answered search, in this order (Observer).
	Observers []Observer
}

// Observer hears of every search placement answers: once per Options call
// that produced an answer, after the answer is complete and before it is
// returned, with the context of the request. An Observer's error fails the
// answer and is returned as it is (so an observer whose record the answer
// depends on makes it a 503); an observer whose work is a by-product logs
// its failure and returns nil. Observed must be safe for concurrent use.
type Observer interface {
	Observed(ctx context.Context, s Search) error
}

// Search is one answered search, as its Observers see it. It holds no
// patient identity, but its need and district are clinical detail: an
// observer never logs them.
type Search struct {
	// At is when the search was answered (the service's clock).
	At time.Time
	// Principal is the caller.
	Principal *auth.Principal
	// Partition and CaseID name the case of a stored ServiceRequest (the
	// trust's partition and its Encounter's id) when the gateway holds the
	// Encounter; both are empty for a what-if question sent inline.
	Partition, CaseID string
	// Need is the care need searched for.
	Need *discharge.CareNeed
	// Outcode is the postcode district searched from ("" when the search
	// area had only coordinates); RadiusKm the radius searched.
	Outcode  string
	RadiusKm float64
	// Total counts the options found (Answer.Total); LeftOut counts, per
	// hard filter, the providers it left out.
	Total   int
	LeftOut map[discharge.Filter]int
}

// Service answers $placement-options. It is safe for concurrent use.
type Service struct {
	cfg       Config
	capacity  Capacity
	directory Directory
	geo       Geocoder
	records   Records
	idx       *index
	answers   answersCache
}

// New returns a Service over its collaborators.
func New(cfg Config, capacity Capacity, directory Directory, geo Geocoder, records Records) *Service {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	s := &Service{cfg: cfg, capacity: capacity, directory: directory, geo: geo, records: records, idx: newIndex(cfg.MaxEntries)}
	s.answers.max = s.idx.maxEntries
	return s
}

// Request is one $placement-options call.
type Request struct {
	// Principal is the caller.
	Principal *auth.Principal
	// ServiceRequestID names the stored ServiceRequest at the instance
	// level; empty at the type level, where the body carries it inline.
	ServiceRequestID string
	// Query is the URL's query.
	Query url.Values
	// Parameters are a POST's Parameters body, as mappings.DecodeParameters
	// validated and read it; nil if none.
	Parameters []mappings.Parameter
	// Lenient is Prefer: handling=lenient: unknown parameters are ignored
	// with a warning instead of refused.
	Lenient bool
}

// Answer is one page of ranked options and what the page needs to show.
type Answer struct {
	// Options are the page's options, best first; an option whose service
	// was deleted since its projection was read is left out.
	Options []discharge.Option
	// Total counts every option, not only the page.
	Total int
	// Resources are the stored directory resources the options name, by
	// "Type/id": each option's HealthcareService, Location and Organization.
	Resources map[string]fhir.Resource
	// LeftOut counts, per hard filter, the providers it left out.
	LeftOut map[discharge.Filter]int
	// Excluded are, with explain, the nearest excluded providers.
	Excluded []discharge.Exclusion
	// Warnings are the answer's warnings: ignored parameters, a capped
	// search, an unmappable case, too few options.
	Warnings discharge.Issues
	// Used, Count and Offset are the parameters that shaped the answer,
	// for its paging links.
	Used          url.Values
	Count, Offset int
}

// Options answers one request. Errors are *discharge.Error: the caller's
// mistakes (KindValue, KindInvalid, KindNotSupported, KindRequired naming
// the parameter or element), KindNotFound for a ServiceRequest the caller
// cannot see, KindBusinessRule for a request that cannot be placed, and
// the store's own failures.
//
// It reads the parameters, then the question (a stored ServiceRequest with
// its Patient and Encounter, or one sent inline), places it once and tells
// the Observers; an Observer's error is returned instead of the answer.
func (s *Service) Options(ctx context.Context, req Request) (Answer, error) {
	in, err := readInput(req.Query, req.Parameters)
	if err != nil {
		return Answer{}, err
	}
	if err := in.resourcesFit(req.ServiceRequestID != ""); err != nil {
		return Answer{}, err
	}
	params, err := in.params(req.Lenient)
	if err != nil {
		return Answer{}, err
	}
	var q question
	if req.ServiceRequestID != "" {
		q, err = s.stored(ctx, req)
	} else {
		q, err = s.inline(in)
	}
	if err != nil {
		return Answer{}, err
	}
	a, seen, err := s.place(ctx, q, params)
	if err != nil {
		return Answer{}, err
	}
	seen.Principal = req.Principal
	for _, o := range s.cfg.Observers {
		if err := o.Observed(ctx, seen); err != nil {
			return Answer{}, err
		}
	}
	return a, nil
}

// question is what a request asks, mapped to the domain.
type question struct {
	// need is nil when the ServiceRequest is no care need; issues say why.
	need   *discharge.CareNeed
	issues discharge.Issues
	// cs is the discharge case of the request's Encounter, nil when there
	// is none the gateway holds or it could not be mapped; warnings then
	// say that its dates and status were not taken into account.
	cs       *discharge.Case
	warnings discharge.Issues
	// partition and caseID name a stored ServiceRequest's case (its
	// Encounter's id) when the gateway holds the Encounter; empty inline.
	partition, caseID string
}

// stored reads a stored ServiceRequest, with its subject Patient and its
// Encounter, each read and decoded once.
func (s *Service) stored(ctx context.Context, req Request) (question, error) {
	raw, part, err := s.records.ReadServiceRequest(ctx, req.Principal, req.ServiceRequestID)
	if err != nil {
		if discharge.ErrorKind(err) == discharge.KindNotFound {
			return question{}, discharge.E(discharge.KindNotFound, "ServiceRequest", "No ServiceRequest with that id.")
		}
		return question{}, err
	}
	sr, err := mappings.DecodeServiceRequest(raw)
	if err != nil {
		return question{}, err
	}
	// The Patient (home postcode) and the Encounter (discharge dates) shape
	// the answer: a store failure reading them is the caller's error, never
	// a quietly different shortlist.
	subject, encounter := mappings.ServiceRequestReferences(sr)
	// The two reads are independent: the Encounter is read while the
	// Patient is, and the Patient's error, if any, still comes first.
	var er []byte
	var encErr error
	var wg sync.WaitGroup
	if encounter != "" {
		wg.Add(1)
		go func() {
			defer wg.Done()
			er, encErr = s.records.ReadReference(ctx, part, encounter)
		}()
	}
	var patient *r4.Patient
	if strings.Contains(subject, "Patient/") {
		pr, err := s.records.ReadReference(ctx, part, subject)
		if err == nil && pr != nil {
			patient, err = mappings.DecodePatient(pr)
		}
		if err != nil {
			wg.Wait()
			return question{}, err
		}
	}
	wg.Wait()
	opt := s.mapOptions(part)
	var q question
	if encounter != "" {
		if encErr != nil {
			return question{}, encErr
		}
		if er != nil {
			q.partition, q.caseID = part, referenceID(encounter, "Encounter")
			if q.cs, err = s.toCase(er, patient, opt); err != nil {
				// The request can still be placed; the answer says that
				// its case's dates and status were not taken into account.
				q.warnings = caseWarnings(err)
			}
		}
	}
	if q.need, q.issues, err = mappings.NeedFromServiceRequest(sr, patient, opt); err != nil {
		return question{}, err
	}
	return q, nil
}

// referenceID is the id of a reference to typ ("Encounter/1", or an
// absolute URL ending so), or "".
func referenceID(ref, typ string) string {
	i := strings.LastIndex(ref, typ+"/")
	if i < 0 || (i > 0 && ref[i-1] != '/') {
		return ""
	}
	id, _, _ := strings.Cut(ref[i+len(typ)+1:], "/")
	return id
}

// toCase maps a stored Encounter. Its warnings were given when it was
// stored; only an error, which leaves no case, matters here.
func (s *Service) toCase(raw []byte, patient *r4.Patient, opt mappings.Options) (*discharge.Case, error) {
	enc, err := mappings.DecodeEncounter(raw)
	if err != nil {
		return nil, err
	}
	cs, _, err := mappings.CaseFromEncounter(enc, patient, opt)
	return cs, err
}

// caseWarnings turns the error of an Encounter that could not be mapped
// into the answer's warnings, one per issue at the element that carried it.
func caseWarnings(err error) discharge.Issues {
	const why = "The ServiceRequest's Encounter could not be read as a discharge case, so its status and dates were not used: "
	var is discharge.Issues
	var de *discharge.Error
	if errors.As(err, &de) && len(de.Issues) > 0 {
		for _, x := range de.Issues {
			is.Warn(discharge.KindBusinessRule, x.Expression, why+x.Message+".")
		}
		return is
	}
	is.Warn(discharge.KindBusinessRule, "Encounter", why+"it is not an Encounter the gateway can read.")
	return is
}

// inline reads a ServiceRequest (and its Patient) sent inline, for "what
// if" questions: nothing is read from or written to the records.
func (s *Service) inline(in input) (question, error) {
	sr, err := in.resource("serviceRequest", "ServiceRequest")
	if err != nil {
		return question{}, err
	}
	if sr == nil {
		return question{}, discharge.E(discharge.KindRequired, "Parameters.parameter", "A serviceRequest parameter with the ServiceRequest inline is required.")
	}
	patient, err := in.resource("patient", "Patient")
	if err != nil {
		return question{}, err
	}
	// Resources sent inline belong to no organisation's records: they are
	// mapped with the gateway's ConceptMaps alone (a need has no trust rule;
	// Options.Trust is the Encounter's).
	need, issues, err := mappings.ServiceRequestDocToNeed(sr, patient, s.mapOptions(""))
	if err != nil {
		return question{}, err
	}
	return question{need: need, issues: issues}, nil
}

// mapOptions are the mapping options for records of a partition.
func (s *Service) mapOptions(part string) mappings.Options {
	return mappings.Options{Translator: s.cfg.Translator, AsOf: s.cfg.Now(), Trust: part}
}

// place matches a question's need and reads what the page shows.
//
// It refuses (422 business-rule) to place what is over: a ServiceRequest
// that is revoked, completed or entered-in-error, an inpatient Encounter
// that is finished, cancelled or entered-in-error, and a date parameter
// before today in England. A date taken from the request or the case (its
// occurrence, Discharge Ready Date or expected discharge date) that has
// passed means "as soon as possible": it becomes today.
func (s *Service) place(ctx context.Context, q question, params Params) (Answer, Search, error) {
	need, cs := q.need, q.cs
	if need == nil {
		return Answer{}, Search{}, &discharge.Error{Kind: discharge.KindBusinessRule, Issues: q.issues}
	}
	if need.Closed() {
		return Answer{}, Search{}, discharge.E(discharge.KindBusinessRule, "ServiceRequest.status",
			"The ServiceRequest is "+need.Status+": there is nothing left to place.")
	}
	if cs != nil && discharge.CaseEnded(cs.Status) {
		return Answer{}, Search{}, discharge.E(discharge.KindBusinessRule, "Encounter.status",
			"The inpatient Encounter is "+cs.Status+": there is no discharge left to place.")
	}
	now := s.cfg.Now()
	today := discharge.Today(now)
	// No request considers more than MaxCandidates locations, so an offset
	// past them is an empty page whatever its size (and offset+count cannot
	// overflow).
	offset := min(params.Offset, MaxCandidates)
	limit := offset + params.Count
	if limit == 0 {
		limit = 1 // _count=0: only the total, but Limit 0 would keep every option
	}
	req := discharge.MatchRequest{Need: *need, Case: cs, Now: now, Freshness: s.cfg.Freshness,
		Weights: s.cfg.Weights, IncludeStale: params.IncludeStale, Explain: params.Explain, Limit: limit}
	// The date needed: the parameter, else the request's own start, else
	// the case's Discharge Ready Date or expected discharge date, else today.
	switch {
	case params.Date != nil:
		if params.Date.Before(today) {
			return Answer{}, Search{}, discharge.E(discharge.KindBusinessRule, "date",
				"date "+params.Date.String()+" is in the past (today in England is "+today.String()+").")
		}
		req.Date = *params.Date
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
		return Answer{}, Search{}, err
	}
	req.PatientOutcode = outcode
	req.RadiusKm = params.RadiusKm
	if req.RadiusKm == 0 {
		req.RadiusKm = DefaultRadius(need.Setting)
	}
	// Only an explanation needs the providers just beyond the radius.
	reach := req.RadiusKm
	if params.Explain {
		reach *= 1.5
	}
	cands, err := s.candidates(ctx, need, origin, outcode, reach, params.Explain)
	if err != nil {
		return Answer{}, Search{}, err
	}
	res := discharge.Match(req, cands.list)
	cands.release()
	page := res.Matches[min(offset, len(res.Matches)):min(offset+params.Count, len(res.Matches))]
	docs, err := s.matchedResources(ctx, cands.gen, page)
	if err != nil {
		return Answer{}, Search{}, err
	}
	a := Answer{Resources: docs, LeftOut: res.Counts, Excluded: res.Excluded,
		Warnings: append(append(params.Warnings, q.warnings...), cands.warnings...),
		Used:     params.Used, Count: params.Count, Offset: params.Offset}
	if len(page) > 0 {
		a.Options = make([]discharge.Option, 0, len(page))
	}
	for _, o := range page {
		// Deleted since the projection was read: leave it out rather than
		// show an option that no longer exists.
		if _, ok := docs["HealthcareService/"+o.Provider.ServiceID]; ok {
			a.Options = append(a.Options, o)
		}
	}
	// A service deleted since its projection was read is no option.
	a.Total = res.Total - (len(page) - len(a.Options))
	if cands.capped {
		a.Warnings.Warn(discharge.KindBusinessRule, "", fmt.Sprintf(
			"Only the %d nearest locations (up to %.1f km) were considered: total counts the options among them.",
			MaxCandidates, cands.furthestKm))
	}
	if a.Total < discharge.MinOptions {
		a.Warnings.Warn(discharge.KindBusinessRule, "", fmt.Sprintf("Fewer than 3 options within %.0f km.", req.RadiusKm))
	}
	return a, Search{At: now, Partition: q.partition, CaseID: q.caseID, Need: need, Outcode: outcode,
		RadiusKm: req.RadiusKm, Total: a.Total, LeftOut: res.Counts}, nil
}

// origin is where the patient is to be placed from: the request's search
// area, else the patient's home postcode.
func (s *Service) origin(need *discharge.CareNeed) (discharge.Position, string, error) {
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
