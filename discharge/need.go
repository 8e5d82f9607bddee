package discharge

// CareNeed is what a discharge case needs after hospital: one FHIR
// ServiceRequest for post-discharge care. Match (match.go) filters and ranks
// providers against it; its fields are the criteria it uses.
type CareNeed struct {
	ID string
	// CaseID is the id of the Encounter (Case) the need belongs to.
	CaseID  string
	Setting CareSetting
	// HoursPerWeek is the size of a home-care package.
	HoursPerWeek *float64
	Requirements []Requirement
	Funding      Funding
	SearchArea   *SearchArea
	// StartDate is the first day the care is wanted.
	StartDate *Date
	// PreferredProviders and ExcludedProviders are FHIR references
	// ("Organization/x", "HealthcareService/y") or identifier values.
	PreferredProviders []string
	ExcludedProviders  []string
	Priority           Priority
	// Status is the ServiceRequest status: draft, active, revoked and so on.
	Status string
}

// SearchArea is where to look for providers: a postcode district and,
// when known, a point.
type SearchArea struct {
	Outcode   string
	Latitude  *float64
	Longitude *float64
}

// Has reports whether the need lists requirement r.
func (n *CareNeed) Has(r Requirement) bool {
	for _, x := range n.Requirements {
		if x == r {
			return true
		}
	}
	return false
}

// Pathway returns the discharge pathway a care setting belongs to, and false
// for settings outside the four pathways (hospice, virtual ward).
func (s CareSetting) Pathway() (Pathway, bool) {
	switch s {
	case CareHomeCare, CareReablement:
		return 1, true
	case CareD2ABed, CareIntermediateBed:
		return 2, true
	case CareResidential, CareResidentialDementia, CareNursing, CareNursingDementia:
		return 3, true
	}
	return 0, false
}
