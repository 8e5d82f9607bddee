package mappings

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
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

// PlacementExplanation renders an option's explanation extension: its
// score components, the needs it covers, its vacancies and their as-of
// time, and its freshness.
func PlacementExplanation(o discharge.Option) json.RawMessage {
	return appendExplanation(nil, o)
}

// appendExplanation is PlacementExplanation appending to b. It writes
// the extension straight from the option, in the bytes json.Marshal wrote
// for the typed tree it used to build (TestExplanationMatchesEncodingJSON
// holds the two to the same bytes for random options): that tree and its
// encoding were the largest allocation of rendering a placement answer.
// The URLs, names and the RFC 3339 time need no escaping; codes do.
func appendExplanation(b []byte, o discharge.Option) []byte {
	b = append(b, `{"url":`...)
	b = fhir.AppendString(b, PlacementExplanationURL, true)
	b = append(b, `,"extension":[{"url":"freshness"`...)
	if o.Freshness != "" {
		b = append(b, `,"valueCode":`...)
		b = fhir.AppendString(b, string(o.Freshness), true)
	}
	b = append(b, `},{"url":"asOf","valueDateTime":"`...)
	b = o.AsOf.UTC().AppendFormat(b, time.RFC3339)
	b = append(b, `"}`...)
	for _, c := range [...]struct {
		name string
		v    float64
	}{{"distance", o.Components.Distance}, {"freshness", o.Components.Freshness}, {"contract", o.Components.Contract},
		{"quality", o.Components.Quality}, {"preference", o.Components.Preference}, {"acceptance", o.Components.Acceptance}} {
		b = append(b, `,{"url":"component","extension":[{"url":"name","valueCode":"`...)
		b = append(b, c.name...)
		b = append(b, `"},{"url":"value","valueDecimal":`...)
		b = fhir.AppendFloat(b, round4(c.v))
		b = append(b, `}]}`...)
	}
	coding := func(b []byte, system, code string) []byte {
		b = append(b, `"valueCoding":{"system":`...)
		b = fhir.AppendString(b, system, true)
		b = append(b, `,"code":`...)
		b = fhir.AppendString(b, code, true)
		return append(b, '}')
	}
	integer := func(b []byte, url string, n int) []byte {
		b = append(b, `{"url":"`...)
		b = append(b, url...)
		b = append(b, `","valueInteger":`...)
		b = strconv.AppendInt(b, int64(n), 10)
		return append(b, '}')
	}
	for _, r := range o.Covered {
		b = append(b, `,{"url":"covers",`...)
		b = coding(b, RequirementSystem, string(r))
		b = append(b, '}')
	}
	for _, v := range o.Vacancies {
		b = append(b, `,{"url":"vacancy","extension":[{"url":"bedType",`...)
		b = coding(b, BedTypeSystem, string(v.Type))
		b = append(b, `},`...)
		b = integer(b, "acceptingAdmissions", v.AcceptingAdmissions)
		if v.Held > 0 {
			// held and bookable only when an offer holds a bed, so an
			// answer without holds reads as it always did.
			b = append(b, ',')
			b = integer(b, "held", v.Held)
			b = append(b, ',')
			b = integer(b, "bookable", v.Bookable())
		}
		b = append(b, `]}`...)
	}
	if a := o.Answers; a != nil {
		// The figures behind the acceptance component (present only when
		// the provider answered enough offers to be scored by them).
		b = append(b, `,{"url":"acceptance","extension":[{"url":"rate","valueDecimal":`...)
		b = fhir.AppendFloat(b, round4(a.Rate()))
		b = append(b, `},`...)
		b = integer(b, "answered", a.Answered)
		b = append(b, `,{"url":"medianMinutesToAnswer","valueDecimal":`...)
		b = fhir.AppendFloat(b, round4(a.MedianAnswer.Minutes()))
		b = append(b, `}]}`...)
	}
	for _, h := range o.HomeCare {
		b = append(b, `,{"url":"homeCare","extension":[{"url":"hoursPerWeek","valueDecimal":`...)
		b = fhir.AppendFloat(b, h.HoursPerWeek)
		b = append(b, `},{"url":"earliestStart"`...)
		if d := h.EarliestStart.String(); d != "" {
			b = append(b, `,"valueDate":`...)
			b = fhir.AppendString(b, d, true)
		}
		b = append(b, `}]}`...)
	}
	return append(b, `]}`...)
}

// ExclusionReasonCoding is the coding of a placement exclusion reason, for
// OperationOutcome.issue.details.coding: the filter's code in the
// placement-exclusion-reason CodeSystem.
func ExclusionReasonCoding(f discharge.Filter) (system, code string) {
	return ExclusionReasonSystem, string(f)
}

func round4(f float64) float64 { return float64(int64(f*10000+0.5)) / 10000 }

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
	return AppendPlacementBundle(nil, p, outcome)
}

// AppendPlacementBundle is PlacementBundle appending to dst, so the
// gateway can render every answer into a buffer it reuses.
func AppendPlacementBundle(dst []byte, p PlacementPage, outcome func(discharge.Issues) []fhir.OutcomeIssue) []byte {
	entries := make([]fhir.BundleEntryOut, 0, 3*len(p.Options)+1)
	// Every option's extensions are written into one buffer (about 1.5 kB
	// each) and sliced from it; a slice made before the buffer grew still
	// holds its bytes in the array it was cut from. The buffer is reused
	// once the Bundle has copied them.
	scratch := fhir.Buffer()
	exts := slices.Grow(*scratch, 1600*len(p.Options))
	defer func() { fhir.ReleaseBuffer(scratch, exts) }()
	extList := make([]json.RawMessage, 0, 2*len(p.Options))
	scores := make([]float64, len(p.Options))
	for i, o := range p.Options {
		sv := p.Resources["HealthcareService/"+o.Provider.ServiceID]
		scores[i] = o.Score
		first := len(extList)
		if o.DistanceKm != nil {
			start := len(exts)
			exts = fhir.AppendLocationDistance(exts, *o.DistanceKm)
			extList = append(extList, exts[start:len(exts):len(exts)])
		}
		start := len(exts)
		exts = appendExplanation(exts, o)
		extList = append(extList, exts[start:len(exts):len(exts)])
		entries = append(entries, fhir.BundleEntryOut{FullURL: p.Base + "/HealthcareService/" + sv.ID, Resource: sv.JSON,
			SearchMode: "match", SearchScore: &scores[i], Extension: extList[first:len(extList):len(extList)]})
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
	return fhir.AppendBundle(dst, "searchset", &total, p.Links, entries)
}
