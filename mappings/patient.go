package mappings

import (
	"fmt"
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
