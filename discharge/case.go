package discharge

// Case is a discharge case: one inpatient stay (a FHIR Encounter) of one
// patient, with the dates and decisions that drive placement. Validate
// checks it (validate.go); GET /api/v1/cases/{id} serves it through
// gateway's wire types.
type Case struct {
	// ID is the id of the Encounter the case came from.
	ID string
	// Trust is the ODS code of the trust caring for the patient.
	Trust   string
	Patient Patient
	// AdmissionDate is the first day of the stay.
	AdmissionDate *Date
	Ward          string
	// ExpectedDischargeDate (EDD) is set at the first consultant review.
	ExpectedDischargeDate *Date
	// DischargeReadyDate (DRD) is the day the clinical team judged the
	// patient ready to leave.
	DischargeReadyDate *Date
	CriteriaToReside   *CriteriaToReside
	Pathway            *Pathway
	// DelayReasons are the sitrep delay reason codes, as sent.
	DelayReasons         []string
	DischargeDestination DischargeDestination
	// LegalStatus is the England legal status classification code (Mental
	// Health Act section), as sent.
	LegalStatus string
	// Status is the Encounter status: planned, arrived, in-progress,
	// finished and so on.
	Status string
	// NoUKPosition is set when the gateway holds the patient but has no UK
	// position for them: the home address is outside the UK (an overseas
	// visitor) or has no UK postcode. The case is accepted all the same;
	// placement then needs a search area or a UK postcode before it can
	// rank anyone.
	NoUKPosition bool
}

// Patient holds only what placement needs to know about the person: no
// name, no date of birth.
type Patient struct {
	NHSNumber string
	// AgeBand is a ten-year band such as "80-89", as of the mapping date.
	AgeBand string
	// HomePostcode is the normalised postcode of the home address.
	HomePostcode string
	// HomeOutcode is the postcode district of HomePostcode, e.g. "M14".
	HomeOutcode string
}

// CriteriaToReside records whether the patient still meets the criteria to
// reside in hospital. Met false is "no criteria to reside" (NCTR).
type CriteriaToReside struct {
	Met *bool
	// Since is the day from which Met has held.
	Since *Date
}

// NCTR reports whether the case is flagged as no longer meeting the
// criteria to reside.
func (c *Case) NCTR() bool {
	return c.CriteriaToReside != nil && c.CriteriaToReside.Met != nil && !*c.CriteriaToReside.Met
}
