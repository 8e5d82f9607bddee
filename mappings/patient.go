package mappings

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/dischargegateway/gateway/discharge"
	r4 "github.com/samply/golang-fhir-models/fhir-models/fhir"
)

// GeolocationURL is the core extension that puts a point on an Address.
const GeolocationURL = "http://hl7.org/fhir/StructureDefinition/geolocation"

// PatientFacts is what the mappings take from a Patient.
type PatientFacts struct {
	Patient discharge.Patient
	// Latitude and Longitude come from the home address's geolocation
	// extension, when present.
	Latitude, Longitude *float64
	// Origins maps "nhsNumber", "homePostcode", "homeOutcode", "latitude"
	// and "longitude" to the Patient elements they came from.
	Origins Origins
	// NoUKPosition is set when the Patient has no UK home postcode: the
	// address chosen is outside the UK, its postcode is not a UK one, or no
	// address has a postcode. Home postcode and outcode are then empty.
	NoUKPosition bool
}

// sendPosition tells the sender what placement needs instead of a UK home
// postcode.
const sendPosition = "placement needs a UK postcode in Patient.address.postalCode, or a postcode district in the ServiceRequest's search-area extension (" + SearchAreaURL + ")"

// ukCountries are the Address.country values that mean the United Kingdom:
// ISO 3166 codes and the names senders use. Crown Dependencies are not in
// the UK and are not listed.
var ukCountries = map[string]bool{
	"GB": true, "GBR": true, "UK": true, "826": true,
	"UNITED KINGDOM": true, "GREAT BRITAIN": true, "BRITAIN": true,
	"ENGLAND": true, "SCOTLAND": true, "WALES": true, "NORTHERN IRELAND": true,
	"UNITED KINGDOM OF GREAT BRITAIN AND NORTHERN IRELAND": true,
}

// ukCountry reports whether an Address.country names the UK, or is empty:
// most UK senders leave it out, and the postcode then decides.
func ukCountry(country string) bool {
	c := strings.ToUpper(strings.Join(strings.Fields(country), " "))
	return c == "" || ukCountries[c] || strings.HasPrefix(c, "GB-") // ISO 3166-2, e.g. GB-ENG
}

// aboutSubject re-anchors the issues found in the subject Patient at
// root.subject. The resource being mapped is the Encounter or
// ServiceRequest: it holds the reference, not the Patient's elements, and an
// expression must point into the request that was sent. The message keeps
// the Patient element's path.
func aboutSubject(is discharge.Issues, root string) discharge.Issues {
	out := make(discharge.Issues, len(is))
	for i, x := range is {
		if x.Expression == "Patient" || strings.HasPrefix(x.Expression, "Patient.") {
			x.Message = "the subject Patient, at " + x.Expression + ": " + x.Message
			x.Expression = root + ".subject"
		}
		out[i] = x
	}
	return out
}

// DecodePatient decodes raw Patient JSON. The gateway has already checked it
// against the R4 schema; this only refuses what is not a Patient at all.
func DecodePatient(raw []byte) (*r4.Patient, error) {
	var typed struct {
		ResourceType string `json:"resourceType"`
		r4.Patient
	}
	if json.Unmarshal(raw, &typed) == nil && typed.ResourceType == "Patient" {
		return &typed.Patient, nil
	}
	var p r4.Patient
	if err := decodeResource(raw, "Patient", &p); err != nil {
		return nil, err
	}
	return &p, nil
}

// PatientToFacts takes the NHS number, age band (as of asOf, in asOf's
// location) and home postcode from p.
//
//   - NHS number: the first Patient.identifier with system
//     https://fhir.nhs.uk/Id/nhs-number.
//   - Age band: Patient.birthDate; a partial date (year or year-month)
//     gives no band and a warning.
//   - Home postcode: Patient.address.postalCode of the first address with
//     use=home, else of the first address with a postcode; only a UK one
//     (Address.country UK or empty, and a UK postcode district). Otherwise
//     NoUKPosition and a warning: an overseas visitor is not an error.
func PatientToFacts(p *r4.Patient, asOf time.Time) (PatientFacts, discharge.Issues) {
	var is discharge.Issues
	f := PatientFacts{Origins: Origins{}}
	if p == nil {
		return f, is
	}
	for i, id := range p.Identifier {
		if str(id.System) == NHSNumberSystem && str(id.Value) != "" {
			f.Patient.NHSNumber = strings.Join(strings.Fields(str(id.Value)), "")
			f.Origins["nhsNumber"] = fmt.Sprintf("Patient.identifier[%d].value", i)
			break
		}
	}
	if p.BirthDate != nil {
		if d, ok := fullDate(*p.BirthDate); ok {
			f.Patient.AgeBand = discharge.AgeBand(d, discharge.DateOf(asOf))
		} else {
			is.Warn(discharge.KindValue, "Patient.birthDate", "the birth date is not a full date, so no age band is given")
		}
	}
	return f, append(is, patientHome(p, &f)...)
}

// patientHome fills f's home postcode, outcode and point from
// Patient.address (see PatientToFacts), and says why there is none. The
// need mapping reads only this part of a Patient: a need's search area is
// where the patient lives, not who they are.
func patientHome(p *r4.Patient, f *PatientFacts) discharge.Issues {
	var is discharge.Issues
	ai := -1
	for i, a := range p.Address {
		if a.Use != nil && a.Use.Code() == "home" && str(a.PostalCode) != "" {
			ai = i
			break
		}
	}
	if ai < 0 {
		for i, a := range p.Address {
			if str(a.PostalCode) != "" {
				ai = i
				break
			}
		}
	}
	// An overseas visitor, or a patient with no postcode on record, is a
	// patient all the same: the stay and its case are accepted, and the case
	// says that placement has no UK position to start from.
	if ai < 0 {
		f.NoUKPosition = true
		is.Warn(discharge.KindRequired, "Patient.address", "no address has a postcode, so the gateway has no UK position for the patient: "+sendPosition)
		return is
	}
	a := p.Address[ai]
	at := fmt.Sprintf("Patient.address[%d]", ai)
	outcode := discharge.Outcode(*a.PostalCode)
	switch {
	case !ukCountry(str(a.Country)):
		f.NoUKPosition = true
		is.Warn(discharge.KindBusinessRule, at+".country", "the home address is outside the UK, so the gateway has no UK position for the patient: "+sendPosition)
	case !discharge.ValidOutcode(outcode):
		f.NoUKPosition = true
		is.Warn(discharge.KindValue, at+".postalCode", "the postcode is not a UK postcode, so the gateway has no UK position for the patient: "+sendPosition)
	default:
		f.Patient.HomePostcode = discharge.NormalisePostcode(*a.PostalCode)
		f.Patient.HomeOutcode = outcode
		f.Origins["homePostcode"], f.Origins["homeOutcode"] = at+".postalCode", at+".postalCode"
		for j, e := range a.Extension {
			if e.Url != GeolocationURL {
				continue
			}
			for k, sub := range e.Extension {
				v, ok := decimal(sub.ValueDecimal)
				switch {
				case !ok:
				case sub.Url == "latitude":
					f.Latitude = &v
					f.Origins["latitude"] = fmt.Sprintf("%s.extension[%d].extension[%d].valueDecimal", at, j, k)
				case sub.Url == "longitude":
					f.Longitude = &v
					f.Origins["longitude"] = fmt.Sprintf("%s.extension[%d].extension[%d].valueDecimal", at, j, k)
				}
			}
		}
		// A point off the globe, or half a point, is the Patient's data
		// problem: placement falls back to the postcode, and nothing that
		// refers to the Patient is refused for it.
		if (f.Latitude == nil) != (f.Longitude == nil) ||
			f.Latitude != nil && !(discharge.Position{Lat: *f.Latitude, Lon: *f.Longitude}).Valid() {
			is.Warn(discharge.KindValue, at+".extension", "the geolocation is not a latitude and longitude in range and was ignored; the postcode places the patient")
			f.Latitude, f.Longitude = nil, nil
			delete(f.Origins, "latitude")
			delete(f.Origins, "longitude")
		}
	}
	return is
}

// decodeResource decodes raw into v after checking resourceType, returning a
// KindStructure *discharge.Error for anything that is not the wanted type.
func decodeResource(raw []byte, want string, v any) error {
	var head struct {
		ResourceType string `json:"resourceType"`
	}
	if err := json.Unmarshal(raw, &head); err != nil {
		return &discharge.Error{Kind: discharge.KindStructure, Op: "mappings.decode" + want, Err: err,
			Issues: []discharge.Issue{{Kind: discharge.KindStructure, Expression: want, Message: "the body is not a JSON " + want}}}
	}
	if head.ResourceType != want {
		return &discharge.Error{Kind: discharge.KindStructure, Op: "mappings.decode" + want,
			Issues: []discharge.Issue{{Kind: discharge.KindStructure, Expression: want, Message: "expected a " + want + " resource"}}}
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return &discharge.Error{Kind: discharge.KindStructure, Op: "mappings.decode" + want, Err: err,
			Issues: []discharge.Issue{{Kind: discharge.KindStructure, Expression: want, Message: "the " + want + " could not be read: an element has the wrong type or an unknown code"}}}
	}
	return nil
}

func str(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func decimal(n *json.Number) (float64, bool) {
	if n == nil {
		return 0, false
	}
	v, err := strconv.ParseFloat(string(*n), 64)
	return v, err == nil
}

// fullDate reads a FHIR date or dateTime as a civil date. A dateTime's date
// is taken as written, in the zone the sender wrote it in: that is the ward's
// calendar day, which is what EDD and DRD mean. Partial dates fail.
func fullDate(s string) (discharge.Date, bool) {
	if len(s) > 10 && s[10] == 'T' {
		s = s[:10]
	}
	d, err := discharge.ParseDate(s)
	return d, err == nil
}

// datePtr maps an optional date element to *Date, adding a warning at expr
// when it is present but not a full date.
func datePtr(s *string, expr string, is *discharge.Issues) *discharge.Date {
	if s == nil || *s == "" {
		return nil
	}
	d, ok := fullDate(*s)
	if !ok {
		is.Warn(discharge.KindValue, expr, "the date is not a full date and was ignored")
		return nil
	}
	return &d
}

// refID returns the id in a reference such as "Encounter/123" or
// "https://x/fhir/Encounter/123/_history/2" when it names resourceType, else
// the reference as written (e.g. an unresolved urn:uuid).
func refID(ref, resourceType string) string {
	if i := strings.Index(ref, "/_history/"); i >= 0 {
		ref = ref[:i]
	}
	parts := strings.Split(ref, "/")
	if n := len(parts); n >= 2 && parts[n-2] == resourceType && parts[n-1] != "" {
		return parts[n-1]
	}
	return ref
}

// refString renders a Reference as "Type/id", or its identifier value, or
// its display, whichever is first present.
func refString(r r4.Reference) string {
	switch {
	case str(r.Reference) != "":
		return *r.Reference
	case r.Identifier != nil && str(r.Identifier.Value) != "":
		if s := str(r.Identifier.System); s != "" {
			return s + "|" + *r.Identifier.Value
		}
		return *r.Identifier.Value
	}
	return str(r.Display)
}
