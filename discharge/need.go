package discharge

// CareNeed is what a discharge case needs after hospital: one FHIR
// ServiceRequest for post-discharge care. Match (match.go) filters and ranks
// providers against it; its fields are the criteria it uses.
type CareNeed struct {
	ID string
	// CaseID is the id of the Encounter (Case) the need belongs to.
	CaseID  string
	Setting CareSetting `validate:"required,caresetting"`
	// HoursPerWeek is the size of a home-care package.
	HoursPerWeek *float64      `validate:"omitempty,gt=0,lte=168"`
	Requirements []Requirement `validate:"dive,requirement"`
	Funding      Funding       `validate:"omitempty,funding"`
	SearchArea   *SearchArea
	// StartDate is the first day the care is wanted.
	StartDate *Date
	// PreferredProviders and ExcludedProviders are FHIR references
	// ("Organization/x", "HealthcareService/y") or identifier values.
	PreferredProviders []string
	ExcludedProviders  []string
	Priority           Priority `validate:"omitempty,oneof=routine urgent asap stat"`
	// Status is the ServiceRequest status: draft, active, revoked and so on.
	Status string
}

// SearchArea is where to look for providers: a postcode district and,
// when known, a point.
type SearchArea struct {
	Outcode   string   `validate:"required,outcode"`
	Latitude  *float64 `validate:"omitempty,latitude"`
	Longitude *float64 `validate:"omitempty,longitude"`
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
