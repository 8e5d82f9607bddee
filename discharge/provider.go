package discharge

import (
	"slices"
	"time"
)

// Provider is one HealthcareService of a care provider at a Location: what
// matching needs to know about it.
type Provider struct {
	ServiceID      string        `json:"serviceId"`
	LocationID     string        `json:"locationId"`
	OrganizationID string        `json:"organizationId"`
	Name           string        `json:"name"`
	Settings       []CareSetting `json:"settings"`
	Specialisms    []Requirement `json:"specialisms,omitempty"`
	// Fundings accepted; empty means not stated, which accepts none when a
	// need names its funding.
	Fundings []Funding `json:"fundings,omitempty"`
	Position *Position `json:"position,omitempty"`
	// Coverage lists the districts a home-care service serves.
	Coverage []string `json:"coverage,omitempty"`
	// Admission lists the days (and hours) admissions are taken; empty
	// means any day.
	Admission    []AdmissionWindow `json:"admission,omitempty"`
	NotAvailable []DateRange       `json:"notAvailable,omitempty"`
	Contract     string            `json:"contract,omitempty"` // block | spot
	Rating       string            `json:"rating,omitempty"`   // CQC rating
	// AcceptsDetained says the service takes patients detained under the
	// Mental Health Act.
	AcceptsDetained bool `json:"acceptsDetained,omitempty"`
	Active          bool `json:"active"`
}

// AdmissionWindow is when a service admits: on these days, all day or
// between Start and End ("HH:MM").
type AdmissionWindow struct {
	Days   []time.Weekday `json:"days"`
	AllDay bool           `json:"allDay"`
	Start  string         `json:"start,omitempty"`
	End    string         `json:"end,omitempty"`
}

// DateRange is a closed range of days.
type DateRange struct {
	From Date `json:"from"`
	To   Date `json:"to"`
}

// admits reports whether a service takes admissions on a day.
func admits(ws []AdmissionWindow, d Date) bool {
	if len(ws) == 0 {
		return true
	}
	day := d.Weekday()
	for _, w := range ws {
		if slices.Contains(w.Days, day) {
			return true
		}
	}
	return false
}

// Weekday is the day of the week of d.
func (d Date) Weekday() time.Weekday {
	return time.Date(d.Year, d.Month, d.Day, 12, 0, 0, 0, time.UTC).Weekday()
}
