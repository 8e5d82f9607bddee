package cqccsv

import (
	"net/url"
	"strings"
)

// telephone checks a public telephone number as directories write it
// ("0161 234 5678", "+44 161 234 5678", "(0161) 2345678") and returns it
// with runs of spaces collapsed. ok is false for anything else, so a
// column that is not a telephone number never reaches Location.telecom.
func telephone(s string) (string, bool) {
	s = strings.Join(strings.Fields(s), " ")
	if s == "" {
		return "", true
	}
	digits := 0
	for i, r := range s {
		switch {
		case r >= '0' && r <= '9':
			digits++
		case r == ' ' || r == '(' || r == ')' || r == '-':
		case r == '+' && i == 0:
		default:
			return "", false
		}
	}
	// UK numbers have 10 or 11 digits nationally, 12 with +44.
	return s, digits >= 10 && digits <= 13
}

// website checks a public website address. Directories often drop the
// scheme ("www.acorn.co.uk"); such a value is taken as http, the scheme a
// browser would try. ok is false unless the result is an http or https URL
// with a dotted host.
func website(s string) (string, bool) {
	if s == "" {
		return "", true
	}
	if !strings.Contains(s, "://") {
		s = "http://" + s
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || !strings.Contains(u.Hostname(), ".") ||
		strings.ContainsAny(s, " \t") || u.User != nil {
		return "", false
	}
	return s, true
}
