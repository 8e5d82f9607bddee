package discharge

import (
	"regexp"
	"strings"
)

// ValidNHSNumber reports whether s is ten digits whose last is the
// modulus-11 check digit of the first nine (weights 10..2; a remainder
// giving 10 is never valid).
func ValidNHSNumber(s string) bool {
	if len(s) != 10 {
		return false
	}
	sum := 0
	for i := 0; i < 10; i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
		if i < 9 {
			sum += int(s[i]-'0') * (10 - i)
		}
	}
	check := 11 - sum%11
	switch check {
	case 11:
		check = 0
	case 10:
		return false
	}
	return check == int(s[9]-'0')
}

var outcodeRE = regexp.MustCompile(`^[A-Z]{1,2}[0-9][A-Z0-9]?$`)

// ValidOutcode reports whether s has the shape of a UK postcode district
// (outward code), e.g. "M14", "SW1A", "B1".
func ValidOutcode(s string) bool { return outcodeRE.MatchString(s) }

// NormalisePostcode upper-cases a postcode and puts exactly one space before
// the three-character inward code: "m144ab" → "M14 4AB". Text too short to
// hold an inward code is returned upper-cased without spaces.
func NormalisePostcode(s string) string {
	s = strings.ToUpper(strings.Join(strings.Fields(s), ""))
	if len(s) < 5 {
		return s
	}
	return s[:len(s)-3] + " " + s[len(s)-3:]
}

// Outcode returns the outward code (postcode district) of a full postcode,
// or of an outcode given alone: "M14 4AB", "m144ab" and "M14" all give "M14".
// It does not validate; use ValidOutcode on the result.
func Outcode(postcode string) string {
	f := strings.Fields(strings.ToUpper(postcode))
	switch {
	case len(f) == 0:
		return ""
	case len(f) > 1:
		return f[0]
	}
	s := f[0]
	if ValidOutcode(s) {
		return s
	}
	if len(s) >= 5 {
		return s[:len(s)-3]
	}
	return s
}
