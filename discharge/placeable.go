package discharge

import (
	"slices"
	"time"
	_ "time/tzdata" // Europe/London must resolve in a container without zoneinfo
)

// london is the zone of the ward calendar: "today" for a discharge in
// England is today in London, whatever zone the server runs in.
var london = func() *time.Location {
	l, err := time.LoadLocation("Europe/London")
	if err != nil {
		panic(err) // time/tzdata is embedded: cannot fail
	}
	return l
}()

// Today is the date in England at instant now.
func Today(now time.Time) Date { return DateOf(now.In(london)) }

// closedNeedStatuses are the ServiceRequest statuses under which the care is
// no longer wanted: cancelled (revoked, as BaRS cancels), already given
// (completed), or never real (entered-in-error). Draft, active, on-hold and
// unknown may still be placed: a draft is how a hub asks "what if".
var closedNeedStatuses = []string{"revoked", "completed", "entered-in-error"}

// Closed reports whether the need's request has ended, so that placing it
// would offer a bed nobody asked for.
func (n *CareNeed) Closed() bool { return slices.Contains(closedNeedStatuses, n.Status) }

// endedCaseStatuses are the Encounter statuses under which the stay is over
// or never happened: the patient has left (finished), the stay was
// cancelled, or it was entered in error.
var endedCaseStatuses = []string{"finished", "cancelled", "entered-in-error"}

// CaseEnded reports whether an Encounter status means the inpatient stay
// is over, so there is no discharge left to place.
func CaseEnded(status string) bool { return slices.Contains(endedCaseStatuses, status) }
