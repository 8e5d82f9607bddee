package mappings

import (
	"encoding/json"
	"strings"
	"time"

	"github.com/dischargegateway/gateway/discharge"
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
	var s struct {
		ID         string `json:"id"`
		Active     *bool  `json:"active"`
		Name       string `json:"name"`
		ProvidedBy struct {
			Reference string `json:"reference"`
		} `json:"providedBy"`
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
	var l struct {
		ID       string `json:"id"`
		Position *struct {
			Latitude  json.Number `json:"latitude"`
			Longitude json.Number `json:"longitude"`
		} `json:"position"`
	}
	if err := json.Unmarshal(hs, &s); err != nil {
		return discharge.Provider{}, err
	}
	if err := json.Unmarshal(loc, &l); err != nil {
		return discharge.Provider{}, err
	}
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
	return p, nil
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
	nums := make([]float64, 0, 6+len(o.HomeCare))
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
		ext = append(ext, explanationExt{URL: "vacancy", Extension: []explanationExt{
			{URL: "bedType", ValueCoding: &explainCoding{System: BedTypeSystem, Code: string(b.Type)}},
			{URL: "acceptingAdmissions", ValueInteger: &ints[len(ints)-1]}}})
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

func round4(f float64) float64 { return float64(int64(f*10000+0.5)) / 10000 }
