package discharge

import (
	"slices"
	"time"
)

// Provider is one HealthcareService of a care provider at a Location: what
// matching needs to know about it. ServiceID is the HealthcareService id.
type Provider struct {
	ServiceID      string
	LocationID     string
	OrganizationID string
	Name           string
	Settings       []CareSetting
	Specialisms    []Requirement
	// Fundings accepted; empty means not stated, which accepts none when a
	// need names its funding.
	Fundings []Funding
	Position *Position
	// Outcode is the postcode district the location is in.
	Outcode string
	// Coverage lists the districts a home-care service serves.
	Coverage []string
	// Admission lists the days (and hours) admissions are taken; empty
	// means any day. Matching asks for a day, not a time, so only the days
	// count.
	Admission []AdmissionWindow
	// NotAvailable lists closures (an outbreak, a refurbishment).
	NotAvailable []DateRange
	Contract     string // ContractBlock or ContractSpot
	Rating       string // a CQC rating: RatingOutstanding and so on
	// AcceptsDetained says the service takes patients detained under the
	// Mental Health Act; see Detained for who counts as detained.
	AcceptsDetained bool
	Active          bool
}

// The contract types. A block-contracted bed is already paid for by the
// commissioner, so ranking prefers it to a spot purchase.
const (
	ContractBlock = "block"
	ContractSpot  = "spot"
)

// The CQC overall ratings. An unrated service ranks as RatingNotRated.
const (
	RatingOutstanding         = "outstanding"
	RatingGood                = "good"
	RatingRequiresImprovement = "requires-improvement"
	RatingInadequate          = "inadequate"
	RatingNotRated            = "not-rated"
)

// notDetained are the England Mental Health Act legal status classification
// codes (UKCore-LegalStatusClassificationEngland, from the NHS Data
// Dictionary) under which a person is not detained: 01 informal, 35 and 36
// guardianship (sections 7 and 37, which are in the community), 98 not
// applicable.
var notDetained = []string{"01", "35", "36", "98"}

// Detained reports whether a Case.LegalStatus code means the patient is
// detained under the Mental Health Act, and so may only be placed with a
// provider that AcceptsDetained.
//
// The rule fails safe: every code other than the four that say "not
// detained" counts as detained, including 99 (not known), 32 (other acts)
// and codes the gateway does not recognise. Placing a detained patient
// where the detention cannot lawfully continue is the worse error; a wrong
// exclusion is visible in the explanation (filter legal-status) and is put
// right by correcting the Encounter. An empty status is not detained.
func Detained(legalStatus string) bool {
	return legalStatus != "" && !slices.Contains(notDetained, legalStatus)
}

// AdmissionWindow is when a service admits: on these days, all day or
// between Start and End ("HH:MM").
type AdmissionWindow struct {
	Days   []time.Weekday
	AllDay bool
	Start  string
	End    string
}
