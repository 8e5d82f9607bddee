package cqccsv

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/internal/csvrows"
)

// The CQC publishes its register of active locations as the "Care directory
// with filters" (file HSCA_Active_Locations, one sheet of the same name;
// https://www.cqc.org.uk/about-us/transparency/using-cqc-data). The reader
// here follows the column set of the October 2026 edition (122 columns,
// "Location ID" to "Primary ID (Dual registration locations)"), saved from
// that sheet as CSV. It reads columns by heading, not position, so the
// CQC's adding or reordering columns changes nothing; only the headings in
// cqcRequired must be there.
//
// Each "Service type - …" and "Service user band - …" column holds Y for a
// location registered for it, blank otherwise. Which of those mean a
// gateway care setting or requirement is not decided here but in the
// published ConceptMap configs/conceptmaps/cqc-service-type-to-care-setting.json,
// whose source codes are these column headings.

// CQCColumnSystem is the source system of that ConceptMap: its codes are the
// column headings of the CQC care directory with filters.
const CQCColumnSystem = "https://fhir.discharge-gateway.example/CodeSystem/cqc-care-directory-column"

// The gateway code systems the ConceptMap translates into; the same urls as
// mappings.CareSettingSystem and mappings.RequirementSystem (a test checks).
const (
	careSettingSystem = "https://fhir.discharge-gateway.example/CodeSystem/care-setting"
	requirementSystem = "https://fhir.discharge-gateway.example/CodeSystem/requirement"
)

// Translator is the part of mappings.Translator the CQC reader needs.
type Translator interface {
	Translate(system, code, targetSystem string) ([]discharge.Concept, bool)
}

// The headings the reader uses; the first group must be present.
const (
	colLocationID = "Location ID"
	colName       = "Location Name"
	colCareHome   = "Care home?"
	colDormant    = "Dormant (Y/N)"
	colPostcode   = "Location Postal Code"
	colProviderID = "Provider ID"
	colBeds       = "Care homes beds"
	colTelephone  = "Location Telephone Number"
	colWebsite    = "Location Web Address"
	colRating     = "Location Latest Overall Rating"
	colLatitude   = "Location Latitude"
	colLongitude  = "Location Longitude"
)

var cqcRequired = []string{colLocationID, colName, colCareHome, colPostcode, colProviderID}

// addressColumns are joined, in this order, into the address text.
var addressColumns = []string{"Location Street Address", "Location Address Line 2", "Location City", "Location County"}

// headerSearch is how many rows may precede the heading row: a sheet saved
// as CSV may carry a title or "Source: CQC database as at …" line above it.
const headerSearch = 10

// CQCDirectory is what ParseCQCDirectory makes of a file.
type CQCDirectory struct {
	// Listings are the care homes and home-care agencies to import.
	Listings []discharge.Listing
	// Rejected rows are care locations that cannot be imported as they
	// stand (a bad id or postcode): the operator should look at them.
	Rejected []RowError
	// Warnings are imported rows with a value left out (a malformed
	// website or telephone number): the location is listed without it.
	Warnings []RowError
	// Skipped counts rows that are not care the gateway ranks: GP
	// practices, hospitals, supported living, dormant locations. Most of
	// the CQC's register is such rows, so they are counted, not listed.
	Skipped int
	// Rows counts the data rows read.
	Rows int
}

// ParseCQCDirectory reads the CQC care directory with filters, saved as
// CSV. Row numbers in the result are the file's line numbers as a
// spreadsheet shows them (the heading row included), so an operator can
// find a rejected row. A file without the required headings, or a
// translator without the CQC ConceptMap, is an error of its own.
func ParseCQCDirectory(r io.Reader, tr Translator) (CQCDirectory, error) {
	var out CQCDirectory
	if _, ok := tr.Translate(CQCColumnSystem, "Service type - Care home service with nursing", careSettingSystem); !ok {
		return out, fmt.Errorf("the ConceptMap cqc-service-type-to-care-setting.json (source %s) is not loaded: check GATEWAY_CONCEPTMAPS_DIR", CQCColumnSystem)
	}
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	col := map[string]int{}
	row := 0
	for len(col) == 0 {
		rec, err := cr.Read()
		row++
		if errors.Is(err, io.EOF) || row > headerSearch {
			return out, fmt.Errorf("header: no row with the heading %q in the first %d rows", colLocationID, headerSearch)
		}
		if err != nil {
			return out, fmt.Errorf("header: %w", err)
		}
		heading := func(h string) string { return strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")) }
		if slices.ContainsFunc(rec, func(h string) bool { return heading(h) == colLocationID }) {
			for j, h := range rec {
				col[heading(h)] = j
			}
		}
	}
	for _, c := range cqcRequired {
		if _, ok := col[c]; !ok {
			return out, fmt.Errorf("header: missing column %q", c)
		}
	}
	// The flag columns, in file order so results do not depend on map order.
	var flags []string
	for h := range col {
		if strings.HasPrefix(h, "Service type - ") || strings.HasPrefix(h, "Service user band - ") {
			flags = append(flags, h)
		}
	}
	slices.SortFunc(flags, func(a, b string) int { return col[a] - col[b] })

	seen := map[string]int{}
	for {
		rec, err := cr.Read()
		row++
		if errors.Is(err, io.EOF) {
			break
		}
		out.Rows++
		if err != nil {
			out.Rejected = append(out.Rejected, RowError{Row: row, Reason: "not valid CSV"})
			continue
		}
		if i := csvrows.ControlField(rec); i >= 0 {
			out.Rejected = append(out.Rejected, RowError{Row: row, Column: headingAt(col, i), Reason: csvrows.ControlReason})
			continue
		}
		get := func(h string) string {
			i, ok := col[h]
			if !ok || i >= len(rec) {
				return ""
			}
			return strings.TrimSpace(rec[i])
		}
		l, skip, warn, rerr := cqcListing(get, flags, tr)
		for _, w := range warn {
			w.Row = row
			out.Warnings = append(out.Warnings, w)
		}
		switch {
		case skip:
			out.Skipped++
			continue
		case rerr != nil:
			rerr.Row = row
			out.Rejected = append(out.Rejected, *rerr)
			continue
		}
		if first, dup := seen[l.LocationID]; dup {
			out.Rejected = append(out.Rejected, RowError{Row: row, Column: colLocationID, Reason: fmt.Sprintf("repeats row %d", first)})
			continue
		}
		seen[l.LocationID] = row
		l.Row = row
		out.Listings = append(out.Listings, l)
	}
	return out, nil
}

// fullPostcode is a whole UK postcode, normalised: the CQC register has
// full postcodes, so a district alone or a malformed inward code is a typo.
var fullPostcode = regexp.MustCompile(`^[A-Z]{1,2}[0-9][A-Z0-9]? [0-9][A-Z]{2}$`)

// cqcRatings maps the CQC's overall rating words to the gateway's codes.
// Anything else ("Insufficient evidence to rate", blank) is left unknown.
var cqcRatings = map[string]string{"outstanding": discharge.RatingOutstanding, "good": discharge.RatingGood,
	"requires improvement": discharge.RatingRequiresImprovement, "inadequate": discharge.RatingInadequate}

// cqcListing makes one row a listing. skip is true for a row that is not
// care the gateway ranks, checked before any validation so that a GP
// practice with an odd postcode is skipped, not rejected.
func cqcListing(get func(string) string, flags []string, tr Translator) (l discharge.Listing, skip bool, warn []RowError, rerr *RowError) {
	if strings.EqualFold(get(colDormant), "Y") {
		return l, true, nil, nil
	}
	careHome := strings.EqualFold(get(colCareHome), "Y")
	var dementia bool
	for _, h := range flags {
		if !strings.EqualFold(get(h), "Y") {
			continue
		}
		if cs, ok := tr.Translate(CQCColumnSystem, h, careSettingSystem); ok {
			for _, c := range cs {
				s := discharge.CareSetting(c.Code)
				// A bed setting needs a care home: a rehabilitation or
				// hospice registration elsewhere is not a bed to place in.
				if (discharge.BedTypesFor(s) != nil && !careHome) || slices.Contains(l.Services, s) {
					continue
				}
				l.Services = append(l.Services, s)
			}
		}
		if rs, ok := tr.Translate(CQCColumnSystem, h, requirementSystem); ok {
			for _, c := range rs {
				q := discharge.Requirement(c.Code)
				if !slices.Contains(l.Specialisms, q) {
					l.Specialisms = append(l.Specialisms, q)
				}
				dementia = dementia || q == discharge.ReqDementia
			}
		}
	}
	if len(l.Services) == 0 {
		return l, true, nil, nil
	}
	// A home registered for the dementia band offers the dementia setting
	// of each of its care home settings.
	if dementia {
		for _, p := range [][2]discharge.CareSetting{{discharge.CareResidential, discharge.CareResidentialDementia},
			{discharge.CareNursing, discharge.CareNursingDementia}} {
			if slices.Contains(l.Services, p[0]) {
				l.Services = append(l.Services, p[1])
			}
		}
	}
	fail := func(column, reason string) (discharge.Listing, bool, []RowError, *RowError) {
		return discharge.Listing{}, false, nil, &RowError{Column: column, Reason: reason}
	}
	l.Name, l.LocationID, l.ProviderID = get(colName), get(colLocationID), get(colProviderID)
	l.Postcode = discharge.NormalisePostcode(get(colPostcode))
	switch {
	case l.Name == "":
		return fail(colName, "name is required")
	case !cqcID.MatchString(l.LocationID):
		return fail(colLocationID, "not a CQC location id (1-123456789)")
	case !cqcID.MatchString(l.ProviderID):
		return fail(colProviderID, "not a CQC provider id (1-123456789)")
	case !fullPostcode.MatchString(l.Postcode):
		return fail(colPostcode, "not a UK postcode")
	}
	var parts []string
	for _, c := range addressColumns {
		if v := get(c); v != "" {
			parts = append(parts, v)
		}
	}
	l.Address = strings.Join(parts, ", ")
	if lat, lon := get(colLatitude), get(colLongitude); lat != "" || lon != "" {
		la, err1 := strconv.ParseFloat(lat, 64)
		lo, err2 := strconv.ParseFloat(lon, 64)
		if err1 != nil || err2 != nil || la < 49 || la > 61 || lo < -9 || lo > 2.5 {
			return fail(colLatitude, "latitude and longitude must both be numbers within the UK")
		}
		l.Position = &discharge.Position{Lat: la, Lon: lo}
	}
	if b := get(colBeds); b != "" {
		n, err := strconv.Atoi(b)
		if err != nil || n < 0 {
			return fail(colBeds, "must be a whole number of 0 or more")
		}
		l.Beds = n
	}
	l.Rating = cqcRatings[strings.ToLower(get(colRating))]
	// A spreadsheet that took the number for a number dropped its leading
	// 0; every UK national number starts with one.
	tel := get(colTelephone)
	if len(tel) == 10 && tel[0] != '0' && strings.Trim(tel, "0123456789") == "" {
		tel = "0" + tel
	}
	var ok bool
	if l.Telephone, ok = telephone(tel); !ok {
		warn = append(warn, RowError{Column: colTelephone, Reason: "not a telephone number: left out"})
	}
	if l.Website, ok = website(get(colWebsite)); !ok {
		warn = append(warn, RowError{Column: colWebsite, Reason: "not a website address: left out"})
	}
	return l, false, warn, nil
}

// headingAt is the heading of column i, "" for a column without one.
func headingAt(col map[string]int, i int) string {
	for h, j := range col {
		if j == i {
			return h
		}
	}
	return ""
}
