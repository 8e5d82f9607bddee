// Package cqccsv reads a CQC-style care directory export: one row per
// registered location, with columns name, cqcLocationId, providerId,
// services, specialisms, address, postcode, latitude, longitude,
// registeredBeds, and optionally fundings, contract, rating, telephone and
// website. Services and specialisms are lists separated by ";" of the
// gateway's care-setting and requirement codes.
//
// The CQC's own published directory, in the columns the CQC publishes it,
// is read by ParseCQCDirectory instead.
package cqccsv

import (
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"

	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/internal/csvrows"
)

// RowError is why a row was rejected.
type RowError = discharge.RowIssue

var required = []string{"name", "cqclocationid", "providerid", "services", "postcode"}

var cqcID = regexp.MustCompile(`^1-[0-9]{6,12}$`)

// Parse reads every row, returning the valid listings and a RowError for
// each rejected row. A file whose header lacks a required column is an
// error of its own.
func Parse(r io.Reader) ([]discharge.Listing, []RowError, error) {
	cr, err := csvrows.New(r, required...)
	if err != nil {
		return nil, nil, err
	}
	var out []discharge.Listing
	var rejected []RowError
	seen := map[string]int{}
	for {
		rec, err := cr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		row := rec.Number
		if fe := (*csvrows.FieldError)(nil); errors.As(err, &fe) {
			rejected = append(rejected, RowError{Row: row, Column: fe.Column, Reason: fe.Reason})
			continue
		}
		if err != nil {
			rejected = append(rejected, RowError{Row: row, Reason: "not valid CSV"})
			continue
		}
		get := rec.Get
		l, rerr := listing(get)
		l.Row = row
		if rerr != nil {
			rerr.Row = row
			rejected = append(rejected, *rerr)
			continue
		}
		if first, dup := seen[l.LocationID]; dup {
			rejected = append(rejected, RowError{Row: row, Column: "cqcLocationId", Reason: fmt.Sprintf("repeats row %d", first)})
			continue
		}
		seen[l.LocationID] = row
		out = append(out, l)
	}
	return out, rejected, nil
}

func listing(get func(string) string) (discharge.Listing, *RowError) {
	fail := func(column, reason string) (discharge.Listing, *RowError) {
		return discharge.Listing{}, &RowError{Column: column, Reason: reason}
	}
	l := discharge.Listing{Name: get("name"), LocationID: get("cqclocationid"), ProviderID: get("providerid"),
		Address: get("address"), Postcode: discharge.NormalisePostcode(get("postcode")),
		Contract: strings.ToLower(get("contract")), Rating: strings.ToLower(get("rating"))}
	switch {
	case l.Name == "":
		return fail("name", "name is required")
	case !cqcID.MatchString(l.LocationID):
		return fail("cqcLocationId", "not a CQC location id (1-123456789)")
	case !cqcID.MatchString(l.ProviderID):
		return fail("providerId", "not a CQC provider id (1-123456789)")
	case !discharge.ValidOutcode(discharge.Outcode(l.Postcode)):
		return fail("postcode", "not a UK postcode")
	}
	for _, s := range split(get("services")) {
		cs := discharge.CareSetting(s)
		if !cs.Valid() {
			return fail("services", fmt.Sprintf("unknown care setting %q", s))
		}
		l.Services = append(l.Services, cs)
	}
	if len(l.Services) == 0 {
		return fail("services", "at least one care setting is required")
	}
	for _, s := range split(get("specialisms")) {
		r := discharge.Requirement(s)
		if !r.Valid() {
			return fail("specialisms", fmt.Sprintf("unknown specialism %q", s))
		}
		l.Specialisms = append(l.Specialisms, r)
	}
	for _, s := range split(get("fundings")) {
		f := discharge.Funding(s)
		if !f.Valid() {
			return fail("fundings", fmt.Sprintf("unknown funding %q", s))
		}
		l.Fundings = append(l.Fundings, f)
	}
	if lat, lon := get("latitude"), get("longitude"); lat != "" || lon != "" {
		la, err1 := strconv.ParseFloat(lat, 64)
		lo, err2 := strconv.ParseFloat(lon, 64)
		if err1 != nil || err2 != nil || la < 49 || la > 61 || lo < -9 || lo > 2.5 {
			return fail("latitude", "latitude and longitude must both be numbers within the UK")
		}
		l.Position = &discharge.Position{Lat: la, Lon: lo}
	}
	if b := get("registeredbeds"); b != "" {
		n, err := strconv.Atoi(b)
		if err != nil || n < 0 {
			return fail("registeredBeds", "must be a whole number of 0 or more")
		}
		l.Beds = n
	}
	var ok bool
	if l.Telephone, ok = telephone(get("telephone")); !ok {
		return fail("telephone", "not a telephone number (digits, spaces, brackets, a leading +)")
	}
	if l.Website, ok = website(get("website")); !ok {
		return fail("website", "not a website address (http or https)")
	}
	switch l.Contract {
	case "", "block", "spot":
	default:
		return fail("contract", "must be block or spot")
	}
	switch l.Rating {
	case "", "outstanding", "good", "requires-improvement", "inadequate", "not-rated":
	default:
		return fail("rating", "must be outstanding, good, requires-improvement, inadequate or not-rated")
	}
	return l, nil
}

func split(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ";") {
		if p = strings.ToLower(strings.TrimSpace(p)); p != "" {
			out = append(out, p)
		}
	}
	return out
}
