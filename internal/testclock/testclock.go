// Package testclock keeps tests that take "today in England" from the Go
// clock off the edge of a day. Such a test reads the date once and then
// asks the gateway, whose clock reads again (and the SQL store's sitrep
// copies read the database's clock): a run that starts a few seconds
// before midnight compares two different days and fails for no fault of
// the code. One did, at 23:59:59 UTC.
package testclock

import (
	"time"

	"github.com/dischargegateway/gateway/discharge"
)

// Margin is how close to midnight in England a test may start: within it,
// AwayFromMidnight waits for the next day. Every test that uses it runs
// in well under this.
const Margin = 2 * time.Minute

// AwayFromMidnight returns the time now or, within Margin of the next
// midnight in England, the time just after that midnight, having slept
// until then. Call it once, at the start of the test, and take the test's
// dates from what it returns.
func AwayFromMidnight() time.Time {
	return awayFrom(time.Now(), time.Sleep, time.Now)
}

// awayFrom is AwayFromMidnight with its clock and sleep given.
func awayFrom(now time.Time, sleep func(time.Duration), clock func() time.Time) time.Time {
	_, next := discharge.ReportingHours(discharge.Today(now))
	midnight := time.Unix(next*3600, 0)
	if wait := midnight.Sub(now); wait < Margin {
		sleep(wait + time.Second)
		return clock()
	}
	return now
}
