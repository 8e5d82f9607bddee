package discharge

import (
	"errors"
	"fmt"
	"time"
)

// Date is a civil calendar date (YYYY-MM-DD) with no time of day and no
// zone. Discharge dates are days on a ward calendar: converting them through
// time.Time in UTC would move a midnight BST date to the day before.
type Date struct {
	Year  int
	Month time.Month
	Day   int
}

// ErrDate reports text that is not a full YYYY-MM-DD date.
var ErrDate = errors.New("not a YYYY-MM-DD date")

// ParseDate parses a full date in YYYY-MM-DD form.
func ParseDate(s string) (Date, error) {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return Date{}, fmt.Errorf("%w: %q", ErrDate, s)
	}
	return DateOf(t), nil
}

// DateOf returns the civil date of t in t's own location.
func DateOf(t time.Time) Date {
	y, m, d := t.Date()
	return Date{Year: y, Month: m, Day: d}
}

// IsZero reports whether d is the zero Date.
func (d Date) IsZero() bool { return d == Date{} }

// String returns d as YYYY-MM-DD.
func (d Date) String() string { return fmt.Sprintf("%04d-%02d-%02d", d.Year, int(d.Month), d.Day) }

// Before reports whether d is earlier than o.
func (d Date) Before(o Date) bool {
	if d.Year != o.Year {
		return d.Year < o.Year
	}
	if d.Month != o.Month {
		return d.Month < o.Month
	}
	return d.Day < o.Day
}

// After reports whether d is later than o.
func (d Date) After(o Date) bool { return o.Before(d) }

// Weekday is the day of the week of d.
func (d Date) Weekday() time.Weekday {
	return time.Date(d.Year, d.Month, d.Day, 12, 0, 0, 0, time.UTC).Weekday()
}

// DateRange is a closed range of days, both ends included. A zero To
// means open-ended: closed until further notice.
type DateRange struct {
	From Date
	To   Date
}

// Contains reports whether d falls in r.
func (r DateRange) Contains(d Date) bool {
	return !d.Before(r.From) && (r.To.IsZero() || !d.After(r.To))
}

// MarshalText implements encoding.TextMarshaler, so Date appears in JSON as
// "YYYY-MM-DD".
func (d Date) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (d *Date) UnmarshalText(b []byte) error {
	p, err := ParseDate(string(b))
	if err != nil {
		return err
	}
	*d = p
	return nil
}

// AgeBand returns the ten-year age band ("80-89") of someone born on birth,
// on the day at; "100+" from a hundred on, and "" if birth is zero or after
// at. A band, not an age, is what leaves the gateway: it is enough to match
// age-restricted services and is less identifying.
func AgeBand(birth, at Date) string {
	if birth.IsZero() || at.Before(birth) {
		return ""
	}
	age := at.Year - birth.Year
	if at.Month < birth.Month || (at.Month == birth.Month && at.Day < birth.Day) {
		age--
	}
	if age >= 100 {
		return "100+"
	}
	lo := age / 10 * 10
	return fmt.Sprintf("%d-%d", lo, lo+9)
}
