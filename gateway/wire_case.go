package gateway

import "github.com/dischargegateway/gateway/discharge"

// The JSON of GET /api/v1/cases/{id} (described in openapi.json) and its
// converters: the discharge case and care needs as the API shows them.

// wireCase is a discharge case.
type wireCase struct {
	ID                    string                         `json:"id"`
	Trust                 string                         `json:"trust,omitempty"`
	Patient               wirePatient                    `json:"patient"`
	AdmissionDate         *discharge.Date                `json:"admissionDate,omitempty"`
	Ward                  string                         `json:"ward,omitempty"`
	ExpectedDischargeDate *discharge.Date                `json:"expectedDischargeDate,omitempty"`
	DischargeReadyDate    *discharge.Date                `json:"dischargeReadyDate,omitempty"`
	CriteriaToReside      *wireCriteriaToReside          `json:"criteriaToReside,omitempty"`
	Pathway               *discharge.Pathway             `json:"pathway,omitempty"`
	DelayReasons          []string                       `json:"delayReasons,omitempty"`
	DischargeDestination  discharge.DischargeDestination `json:"dischargeDestination,omitempty"`
	LegalStatus           string                         `json:"legalStatus,omitempty"`
	Status                string                         `json:"status"`
	NoUKPosition          bool                           `json:"noUKPosition,omitempty"`
}

// wirePatient is what a case shows of the patient: no name, no date of
// birth.
type wirePatient struct {
	NHSNumber    string `json:"nhsNumber,omitempty"`
	AgeBand      string `json:"ageBand,omitempty"`
	HomePostcode string `json:"homePostcode,omitempty"`
	HomeOutcode  string `json:"homeOutcode,omitempty"`
}

// wireCriteriaToReside says whether the patient still meets the criteria
// to reside, and since when.
type wireCriteriaToReside struct {
	Met   *bool           `json:"met,omitempty"`
	Since *discharge.Date `json:"since,omitempty"`
}

// wireCareNeed is one care need of a case.
type wireCareNeed struct {
	ID                 string                  `json:"id"`
	CaseID             string                  `json:"caseId,omitempty"`
	Setting            discharge.CareSetting   `json:"setting"`
	HoursPerWeek       *float64                `json:"hoursPerWeek,omitempty"`
	Requirements       []discharge.Requirement `json:"requirements,omitempty"`
	Funding            discharge.Funding       `json:"funding,omitempty"`
	SearchArea         *wireSearchArea         `json:"searchArea,omitempty"`
	StartDate          *discharge.Date         `json:"startDate,omitempty"`
	PreferredProviders []string                `json:"preferredProviders,omitempty"`
	ExcludedProviders  []string                `json:"excludedProviders,omitempty"`
	Priority           discharge.Priority      `json:"priority"`
	Status             string                  `json:"status"`
}

// wireSearchArea is where to look for providers.
type wireSearchArea struct {
	Outcode   string   `json:"outcode"`
	Latitude  *float64 `json:"latitude,omitempty"`
	Longitude *float64 `json:"longitude,omitempty"`
}

// toWireCase converts a case; nil stays nil (no case could be mapped).
func toWireCase(c *discharge.Case) *wireCase {
	if c == nil {
		return nil
	}
	pat := c.Patient
	out := &wireCase{ID: c.ID, Trust: c.Trust,
		Patient:       wirePatient{NHSNumber: pat.NHSNumber, AgeBand: pat.AgeBand, HomePostcode: pat.HomePostcode, HomeOutcode: pat.HomeOutcode},
		AdmissionDate: c.AdmissionDate, Ward: c.Ward,
		ExpectedDischargeDate: c.ExpectedDischargeDate, DischargeReadyDate: c.DischargeReadyDate, Pathway: c.Pathway,
		DelayReasons: c.DelayReasons, DischargeDestination: c.DischargeDestination, LegalStatus: c.LegalStatus,
		Status: c.Status, NoUKPosition: c.NoUKPosition}
	if r := c.CriteriaToReside; r != nil {
		out.CriteriaToReside = &wireCriteriaToReside{Met: r.Met, Since: r.Since}
	}
	return out
}

// toWireCareNeed converts a care need.
func toWireCareNeed(n *discharge.CareNeed) *wireCareNeed {
	out := &wireCareNeed{ID: n.ID, CaseID: n.CaseID, Setting: n.Setting, HoursPerWeek: n.HoursPerWeek,
		Requirements: n.Requirements, Funding: n.Funding, StartDate: n.StartDate,
		PreferredProviders: n.PreferredProviders, ExcludedProviders: n.ExcludedProviders, Priority: n.Priority, Status: n.Status}
	if a := n.SearchArea; a != nil {
		out.SearchArea = &wireSearchArea{Outcode: a.Outcode, Latitude: a.Latitude, Longitude: a.Longitude}
	}
	return out
}
