package discharge

// Case is a discharge case: one inpatient stay (a FHIR Encounter) of one
// patient, with the dates and decisions that drive placement. It is served
// as JSON at GET /api/v1/cases/{id}.
//
// The validate tags are read by the validator in mappings/; the rules
// nhsnumber, pathway and outcode are registered there on top of
// ValidNHSNumber, Pathway.Valid and ValidOutcode.
type Case struct {
	// ID is the id of the Encounter the case came from.
	ID string `json:"id"`
	// Trust is the ODS code of the trust caring for the patient.
	Trust   string  `json:"trust,omitempty" validate:"omitempty,alphanum,max=10"`
	Patient Patient `json:"patient"`
	// AdmissionDate is the first day of the stay.
	AdmissionDate *Date  `json:"admissionDate,omitempty"`
	Ward          string `json:"ward,omitempty"`
	// ExpectedDischargeDate (EDD) is set at the first consultant review.
	ExpectedDischargeDate *Date `json:"expectedDischargeDate,omitempty"`
	// DischargeReadyDate (DRD) is the day the clinical team judged the
	// patient ready to leave.
	DischargeReadyDate *Date             `json:"dischargeReadyDate,omitempty"`
	CriteriaToReside   *CriteriaToReside `json:"criteriaToReside,omitempty"`
	Pathway            *Pathway          `json:"pathway,omitempty" validate:"omitempty,pathway"`
	// DelayReasons are the sitrep delay reason codes, as sent.
	DelayReasons         []string             `json:"delayReasons,omitempty"`
	DischargeDestination DischargeDestination `json:"dischargeDestination,omitempty"`
	// LegalStatus is the England legal status classification code (Mental
	// Health Act section), as sent.
	LegalStatus string `json:"legalStatus,omitempty"`
	// Status is the Encounter status: planned, arrived, in-progress,
	// finished and so on.
	Status string `json:"status"`
	// NoUKPosition is set when the gateway holds the patient but has no UK
	// position for them: the home address is outside the UK (an overseas
	// visitor) or has no UK postcode. The case is accepted all the same;
	// placement then needs a search area or a UK postcode before it can
	// rank anyone.
	NoUKPosition bool `json:"noUKPosition,omitempty"`
}

// Patient holds only what placement needs to know about the person: no
// name, no date of birth.
type Patient struct {
	NHSNumber string `json:"nhsNumber,omitempty" validate:"omitempty,nhsnumber"`
	// AgeBand is a ten-year band such as "80-89", as of the mapping date.
	AgeBand string `json:"ageBand,omitempty"`
	// HomePostcode is the normalised postcode of the home address.
	HomePostcode string `json:"homePostcode,omitempty"`
	// HomeOutcode is the postcode district of HomePostcode, e.g. "M14".
	HomeOutcode string `json:"homeOutcode,omitempty" validate:"omitempty,outcode"`
}

// CriteriaToReside records whether the patient still meets the criteria to
// reside in hospital. Met false is "no criteria to reside" (NCTR).
type CriteriaToReside struct {
	Met *bool `json:"met,omitempty"`
	// Since is the day from which Met has held.
	Since *Date `json:"since,omitempty"`
}

// NCTR reports whether the case is flagged as no longer meeting the
// criteria to reside.
func (c *Case) NCTR() bool {
	return c.CriteriaToReside != nil && c.CriteriaToReside.Met != nil && !*c.CriteriaToReside.Met
}
