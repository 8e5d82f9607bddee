package mappings_test

import "github.com/dischargegateway/gateway/discharge"

// The golden files show the model as JSON. The discharge types carry no
// wire tags, so the test has its own representation of them, with the
// names the golden files have always used (the model's paths, as in
// discharge/validate.go and mappings.Origins).

type goldenCase struct {
	ID                    string                         `json:"id"`
	Trust                 string                         `json:"trust,omitempty"`
	Patient               goldenPatient                  `json:"patient"`
	AdmissionDate         *discharge.Date                `json:"admissionDate,omitempty"`
	Ward                  string                         `json:"ward,omitempty"`
	ExpectedDischargeDate *discharge.Date                `json:"expectedDischargeDate,omitempty"`
	DischargeReadyDate    *discharge.Date                `json:"dischargeReadyDate,omitempty"`
	CriteriaToReside      *goldenCriteriaToReside        `json:"criteriaToReside,omitempty"`
	Pathway               *discharge.Pathway             `json:"pathway,omitempty"`
	DelayReasons          []string                       `json:"delayReasons,omitempty"`
	DischargeDestination  discharge.DischargeDestination `json:"dischargeDestination,omitempty"`
	LegalStatus           string                         `json:"legalStatus,omitempty"`
	Status                string                         `json:"status"`
	NoUKPosition          bool                           `json:"noUKPosition,omitempty"`
}

type goldenPatient struct {
	NHSNumber    string `json:"nhsNumber,omitempty"`
	AgeBand      string `json:"ageBand,omitempty"`
	HomePostcode string `json:"homePostcode,omitempty"`
	HomeOutcode  string `json:"homeOutcode,omitempty"`
}

type goldenCriteriaToReside struct {
	Met   *bool           `json:"met,omitempty"`
	Since *discharge.Date `json:"since,omitempty"`
}

type goldenNeed struct {
	ID                 string                  `json:"id"`
	CaseID             string                  `json:"caseId,omitempty"`
	Setting            discharge.CareSetting   `json:"setting"`
	HoursPerWeek       *float64                `json:"hoursPerWeek,omitempty"`
	Requirements       []discharge.Requirement `json:"requirements,omitempty"`
	Funding            discharge.Funding       `json:"funding,omitempty"`
	SearchArea         *goldenSearchArea       `json:"searchArea,omitempty"`
	StartDate          *discharge.Date         `json:"startDate,omitempty"`
	PreferredProviders []string                `json:"preferredProviders,omitempty"`
	ExcludedProviders  []string                `json:"excludedProviders,omitempty"`
	Priority           discharge.Priority      `json:"priority"`
	Status             string                  `json:"status"`
}

type goldenSearchArea struct {
	Outcode   string   `json:"outcode"`
	Latitude  *float64 `json:"latitude,omitempty"`
	Longitude *float64 `json:"longitude,omitempty"`
}

// goldenOfCase converts a case for its golden file; nil stays nil (JSON
// null: no case could be mapped).
func goldenOfCase(c *discharge.Case) *goldenCase {
	if c == nil {
		return nil
	}
	p := c.Patient
	out := &goldenCase{ID: c.ID, Trust: c.Trust,
		Patient:       goldenPatient{NHSNumber: p.NHSNumber, AgeBand: p.AgeBand, HomePostcode: p.HomePostcode, HomeOutcode: p.HomeOutcode},
		AdmissionDate: c.AdmissionDate, Ward: c.Ward, ExpectedDischargeDate: c.ExpectedDischargeDate,
		DischargeReadyDate: c.DischargeReadyDate, Pathway: c.Pathway, DelayReasons: c.DelayReasons,
		DischargeDestination: c.DischargeDestination, LegalStatus: c.LegalStatus, Status: c.Status, NoUKPosition: c.NoUKPosition}
	if r := c.CriteriaToReside; r != nil {
		out.CriteriaToReside = &goldenCriteriaToReside{Met: r.Met, Since: r.Since}
	}
	return out
}

// goldenOfNeed converts a need for its golden file; nil stays nil.
func goldenOfNeed(n *discharge.CareNeed) *goldenNeed {
	if n == nil {
		return nil
	}
	out := &goldenNeed{ID: n.ID, CaseID: n.CaseID, Setting: n.Setting, HoursPerWeek: n.HoursPerWeek,
		Requirements: n.Requirements, Funding: n.Funding, StartDate: n.StartDate,
		PreferredProviders: n.PreferredProviders, ExcludedProviders: n.ExcludedProviders, Priority: n.Priority, Status: n.Status}
	if a := n.SearchArea; a != nil {
		out.SearchArea = &goldenSearchArea{Outcode: a.Outcode, Latitude: a.Latitude, Longitude: a.Longitude}
	}
	return out
}
