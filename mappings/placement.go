package mappings

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/fhir"
)

// AcceptsDetainedURL (valueBoolean) on HealthcareService says the service
// takes patients detained under the Mental Health Act.
const AcceptsDetainedURL = ExtensionBase + "accepts-detained"

// PlacementExplanationURL is the extension on each $placement-options match
// carrying its score components, covered needs and vacancies.
const PlacementExplanationURL = ExtensionBase + "placement-explanation"

type codeable struct {
	Coding []struct {
		System string `json:"system"`
		Code   string `json:"code"`
	} `json:"coding"`
}

func (c codeable) in(system string) []string {
	var out []string
	for _, cd := range c.Coding {
		if cd.System == system {
			out = append(out, cd.Code)
		}
	}
	return out
}

var fhirDays = map[string]time.Weekday{"mon": time.Monday, "tue": time.Tuesday, "wed": time.Wednesday, "thu": time.Thursday,
	"fri": time.Friday, "sat": time.Saturday, "sun": time.Sunday}

// HealthcareServiceToProvider maps a directory HealthcareService and its
// Location to what matching needs:
//   - type (care-setting codes) → Settings; characteristic → Specialisms;
//   - program and eligibility codes from the funding CodeSystem → Fundings;
//   - availableTime.daysOfWeek → admission days; notAvailable.during →
//     closures; extensions contract-type, cqc-rating, accepts-detained;
//   - Location.position → Position.
func HealthcareServiceToProvider(hs, loc []byte) (discharge.Provider, error) {
	var s serviceDoc
	var l locationDoc
	if err := json.Unmarshal(hs, &s); err != nil {
		return discharge.Provider{}, err
	}
	if err := json.Unmarshal(loc, &l); err != nil {
		return discharge.Provider{}, err
	}
	return s.provider(&l), nil
}

// HealthcareServiceProviders maps a directory HealthcareService to one
// provider per Location it names in HealthcareService.location, as
// HealthcareServiceToProvider does, decoding the service once. location
// returns the stored JSON of a Location by id; a Location it does not
// return, or that cannot be read, gives no provider. A reference is read
// as "[base/]Type/id[/_history/n]".
func HealthcareServiceProviders(hs []byte, location func(id string) ([]byte, bool)) ([]discharge.Provider, error) {
	var s serviceDoc
	if err := json.Unmarshal(hs, &s); err != nil {
		return nil, err
	}
	var out []discharge.Provider
	for _, lr := range s.Location {
		ref := lr.Reference
		if i := strings.Index(ref, "/_history/"); i >= 0 {
			ref = ref[:i]
		}
		parts := strings.Split(ref, "/")
		n := len(parts)
		if n < 2 || parts[n-2] == "" || parts[n-1] == "" {
			continue
		}
		raw, ok := location(parts[n-1])
		if !ok {
			continue
		}
		var l locationDoc
		if err := json.Unmarshal(raw, &l); err != nil {
			continue
		}
		out = append(out, s.provider(&l))
	}
	return out, nil
}

// serviceDoc is the part of a HealthcareService that matching reads.
type serviceDoc struct {
	ID         string `json:"id"`
	Active     *bool  `json:"active"`
	Name       string `json:"name"`
	ProvidedBy struct {
		Reference string `json:"reference"`
	} `json:"providedBy"`
	Location []struct {
		Reference string `json:"reference"`
	} `json:"location"`
	Type           []codeable `json:"type"`
	Characteristic []codeable `json:"characteristic"`
	Program        []codeable `json:"program"`
	Eligibility    []struct {
		Code codeable `json:"code"`
	} `json:"eligibility"`
	AvailableTime []struct {
		DaysOfWeek         []string `json:"daysOfWeek"`
		AllDay             bool     `json:"allDay"`
		AvailableStartTime string   `json:"availableStartTime"`
		AvailableEndTime   string   `json:"availableEndTime"`
	} `json:"availableTime"`
	NotAvailable []struct {
		During struct {
			Start string `json:"start"`
			End   string `json:"end"`
		} `json:"during"`
	} `json:"notAvailable"`
	Extension []struct {
		URL          string `json:"url"`
		ValueCode    string `json:"valueCode"`
		ValueBoolean bool   `json:"valueBoolean"`
	} `json:"extension"`
}

// locationDoc is the part of a Location that matching reads.
type locationDoc struct {
	ID       string `json:"id"`
	Position *struct {
		Latitude  json.Number `json:"latitude"`
		Longitude json.Number `json:"longitude"`
	} `json:"position"`
}

// provider projects a service at one of its locations.
func (s *serviceDoc) provider(l *locationDoc) discharge.Provider {
	p := discharge.Provider{ServiceID: s.ID, LocationID: l.ID, Name: s.Name, Active: s.Active == nil || *s.Active}
	if _, id, ok := strings.Cut(s.ProvidedBy.Reference, "Organization/"); ok {
		p.OrganizationID = id
	}
	for _, t := range s.Type {
		for _, c := range t.in(CareSettingSystem) {
			p.Settings = append(p.Settings, discharge.CareSetting(c))
		}
	}
	for _, t := range s.Characteristic {
		for _, c := range t.in(RequirementSystem) {
			p.Specialisms = append(p.Specialisms, discharge.Requirement(c))
		}
	}
	for _, t := range s.Program {
		for _, c := range t.in(FundingSystem) {
			p.Fundings = append(p.Fundings, discharge.Funding(c))
		}
	}
	for _, e := range s.Eligibility {
		for _, c := range e.Code.in(FundingSystem) {
			p.Fundings = append(p.Fundings, discharge.Funding(c))
		}
	}
	for _, a := range s.AvailableTime {
		w := discharge.AdmissionWindow{AllDay: a.AllDay, Start: a.AvailableStartTime, End: a.AvailableEndTime}
		for _, d := range a.DaysOfWeek {
			if wd, ok := fhirDays[d]; ok {
				w.Days = append(w.Days, wd)
			}
		}
		p.Admission = append(p.Admission, w)
	}
	for _, n := range s.NotAvailable {
		from, err1 := discharge.ParseDate(firstN(n.During.Start, 10))
		to, err2 := discharge.ParseDate(firstN(n.During.End, 10))
		if err1 == nil && err2 == nil {
			p.NotAvailable = append(p.NotAvailable, discharge.DateRange{From: from, To: to})
		}
	}
	for _, e := range s.Extension {
		switch e.URL {
		case ContractTypeURL:
			p.Contract = e.ValueCode
		case CQCRatingURL:
			p.Rating = e.ValueCode
		case AcceptsDetainedURL:
			p.AcceptsDetained = e.ValueBoolean
		}
	}
	if l.Position != nil {
		lat, err1 := l.Position.Latitude.Float64()
		lon, err2 := l.Position.Longitude.Float64()
		if err1 == nil && err2 == nil {
			p.Position = &discharge.Position{Lat: lat, Lon: lon}
		}
	}
	return p
}

func firstN(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// explanationExt is one FHIR Extension of the explanation, typed so that
// rendering an answer's explanations allocates a few structs, not a map per
// element (they were a tenth of the placement path's allocation).
type explanationExt struct {
	URL           string           `json:"url"`
	Extension     []explanationExt `json:"extension,omitempty"`
	ValueCode     string           `json:"valueCode,omitempty"`
	ValueDateTime string           `json:"valueDateTime,omitempty"`
	ValueDate     string           `json:"valueDate,omitempty"`
	ValueDecimal  *float64         `json:"valueDecimal,omitempty"`
	ValueInteger  *int             `json:"valueInteger,omitempty"`
	ValueCoding   *explainCoding   `json:"valueCoding,omitempty"`
}

type explainCoding struct {
	System string `json:"system"`
	Code   string `json:"code"`
}

// PlacementExplanation renders an option's explanation extension: its
// score components, the needs it covers, its vacancies and their as-of
// time, and its freshness.
func PlacementExplanation(o discharge.Option) json.RawMessage {
	n := 2 + 6 + len(o.Covered) + len(o.Vacancies) + len(o.HomeCare)
	ext := make([]explanationExt, 0, n)
	ext = append(ext,
		explanationExt{URL: "freshness", ValueCode: string(o.Freshness)},
		explanationExt{URL: "asOf", ValueDateTime: o.AsOf.UTC().Format(time.RFC3339)})
	// One backing array for the numbers the extensions point at.
	nums := make([]float64, 0, 8+len(o.HomeCare))
	num := func(f float64) *float64 { nums = append(nums, f); return &nums[len(nums)-1] }
	ints := make([]int, 0, len(o.Vacancies))
	for _, c := range [...]struct {
		name string
		v    float64
	}{{"distance", o.Components.Distance}, {"freshness", o.Components.Freshness}, {"contract", o.Components.Contract},
		{"quality", o.Components.Quality}, {"preference", o.Components.Preference}, {"acceptance", o.Components.Acceptance}} {
		ext = append(ext, explanationExt{URL: "component", Extension: []explanationExt{
			{URL: "name", ValueCode: c.name}, {URL: "value", ValueDecimal: num(round4(c.v))}}})
	}
	for _, r := range o.Covered {
		ext = append(ext, explanationExt{URL: "covers", ValueCoding: &explainCoding{System: RequirementSystem, Code: string(r)}})
	}
	for _, b := range o.Vacancies {
		ints = append(ints, b.AcceptingAdmissions)
		v := []explanationExt{
			{URL: "bedType", ValueCoding: &explainCoding{System: BedTypeSystem, Code: string(b.Type)}},
			{URL: "acceptingAdmissions", ValueInteger: &ints[len(ints)-1]}}
		if b.Held > 0 {
			// held and bookable only when an offer holds a bed, so an
			// answer without holds reads as it always did.
			v = append(v, explanationExt{URL: "held", ValueInteger: &b.Held},
				explanationExt{URL: "bookable", ValueInteger: ptr(b.Bookable())})
		}
		ext = append(ext, explanationExt{URL: "vacancy", Extension: v})
	}
	if a := o.Answers; a != nil {
		// The figures behind the acceptance component (present only when
		// the provider answered enough offers to be scored by them).
		ext = append(ext, explanationExt{URL: "acceptance", Extension: []explanationExt{
			{URL: "rate", ValueDecimal: num(round4(a.Rate()))},
			{URL: "answered", ValueInteger: ptr(a.Answered)},
			{URL: "medianMinutesToAnswer", ValueDecimal: num(round4(a.MedianAnswer.Minutes()))}}})
	}
	for _, h := range o.HomeCare {
		ext = append(ext, explanationExt{URL: "homeCare", Extension: []explanationExt{
			{URL: "hoursPerWeek", ValueDecimal: num(h.HoursPerWeek)},
			{URL: "earliestStart", ValueDate: h.EarliestStart.String()}}})
	}
	b, _ := json.Marshal(explanationExt{URL: PlacementExplanationURL, Extension: ext})
	return b
}

// ExclusionReasonCoding is the coding of a placement exclusion reason, for
// OperationOutcome.issue.details.coding: the filter's code in the
// placement-exclusion-reason CodeSystem.
func ExclusionReasonCoding(f discharge.Filter) (system, code string) {
	return ExclusionReasonSystem, string(f)
}

func ptr(n int) *int { return &n }

func round4(f float64) float64 { return float64(int64(f*10000+0.5)) / 10000 }

// LocationDistanceURL is the core extension giving a search match's
// distance from the point searched around.
const LocationDistanceURL = "http://hl7.org/fhir/StructureDefinition/location-distance"

// LocationDistance renders the location-distance extension (valueDistance
// in UCUM km, rounded to 10 m) of a match km away.
func LocationDistance(km float64) json.RawMessage {
	b, _ := json.Marshal(map[string]any{"url": LocationDistanceURL,
		"valueDistance": map[string]any{"value": float64(int64(km*100+0.5)) / 100, "unit": "km", "system": "http://unitsofmeasure.org", "code": "km"}})
	return b
}

// PlacementPage is what one $placement-options searchset Bundle shows.
type PlacementPage struct {
	// Base is the FHIR base URL the entries' fullUrls start with.
	Base string
	// Options are the page's options, best first. Each one's
	// HealthcareService must be in Resources.
	Options []discharge.Option
	// Total counts every option, not only the page (Bundle.total).
	Total int
	// Resources are the stored directory resources the options name, by
	// "Type/id"; a Location or Organization missing here is not included.
	Resources map[string]fhir.Resource
	// LeftOut counts, per hard filter, the providers it left out.
	LeftOut map[discharge.Filter]int
	// Excluded are the nearest excluded providers (explain).
	Excluded []discharge.Exclusion
	// Warnings are the answer's own warnings.
	Warnings discharge.Issues
	// Links are Bundle.link: self, first, previous, next, last.
	Links []fhir.Link
}

// leftOutWarned are the filters whose exclusions a placement answer warns
// about even without explain: they are about the capacity data, which the
// caller may want to chase, not about the patient's needs.
var leftOutWarned = map[discharge.Filter]bool{discharge.FilterCapacityStale: true, discharge.FilterCapacityUnknown: true,
	discharge.FilterClosed: true, discharge.FilterVacancy: true}

// PlacementBundle renders a $placement-options answer as a searchset
// Bundle:
//   - one entry per option, search.mode=match, with search.score and, on
//     Bundle.entry.search, the location-distance and placement-explanation
//     extensions;
//   - each option's Location and Organization once, search.mode=include;
//   - an OperationOutcome, search.mode=outcome, with the counts of the
//     capacity filters' exclusions, the warnings and the listed exclusions,
//     each exclusion coded in issue.details from ExclusionReasonSystem.
//
// outcome renders issues as OperationOutcome issues, one for one and in
// order: the HTTP layer owns the table from Kind to issue code.
func PlacementBundle(p PlacementPage, outcome func(discharge.Issues) []fhir.OutcomeIssue) []byte {
	entries := make([]fhir.BundleEntryOut, 0, 3*len(p.Options)+1)
	for _, o := range p.Options {
		sv := p.Resources["HealthcareService/"+o.Provider.ServiceID]
		score := o.Score
		ext := []json.RawMessage{PlacementExplanation(o)}
		if o.DistanceKm != nil {
			ext = append([]json.RawMessage{LocationDistance(*o.DistanceKm)}, ext...)
		}
		entries = append(entries, fhir.BundleEntryOut{FullURL: p.Base + "/HealthcareService/" + sv.ID, Resource: sv.JSON,
			SearchMode: "match", SearchScore: &score, Extension: ext})
	}
	included := map[string]bool{}
	for _, o := range p.Options {
		for _, ref := range []string{"Location/" + o.Provider.LocationID, "Organization/" + o.Provider.OrganizationID} {
			r, ok := p.Resources[ref]
			if !ok || included[ref] {
				continue
			}
			included[ref] = true
			entries = append(entries, fhir.BundleEntryOut{FullURL: p.Base + "/" + ref, Resource: r.JSON, SearchMode: "include"})
		}
	}
	// Each reason a provider was left out is coded, so software can act on
	// it: the filter's code in the placement-exclusion-reason CodeSystem.
	var issues discharge.Issues
	var codes []discharge.Filter // per issue: the filter to code it with, "" for none
	for _, f := range discharge.Filters {
		if n := p.LeftOut[f]; n > 0 && leftOutWarned[f] {
			issues = append(issues, discharge.Issue{Kind: discharge.KindBusinessRule, Severity: discharge.SeverityWarning,
				Message: fmt.Sprintf("%d provider(s) left out: %s.", n, f)})
			codes = append(codes, f)
		}
	}
	for _, w := range p.Warnings {
		issues = append(issues, w)
		codes = append(codes, "")
	}
	for _, x := range p.Excluded {
		d := ""
		if x.DistanceKm != nil {
			d = fmt.Sprintf(" (%.1f km)", *x.DistanceKm)
		}
		// No expression: OperationOutcome.issue.expression is FHIRPath to
		// an element of the request or the answer, and the excluded
		// service is in neither. Its reference opens the diagnostics;
		// the reason is coded in details (below).
		issues = append(issues, discharge.Issue{Kind: discharge.KindBusinessRule, Severity: discharge.SeverityInformation,
			Message: "HealthcareService/" + x.Provider.ServiceID + " excluded by " + string(x.Filter) + ": " + x.Detail + d + "."})
		codes = append(codes, x.Filter)
	}
	if len(issues) > 0 {
		out := outcome(issues)
		for i, f := range codes {
			if f != "" && i < len(out) {
				out[i].DetailSystem, out[i].DetailCode = ExclusionReasonCoding(f)
			}
		}
		entries = append(entries, fhir.OutcomeEntry(out))
	}
	total := p.Total
	return fhir.MarshalBundle("searchset", &total, p.Links, entries)
}
