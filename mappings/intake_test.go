package mappings_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/mappings"
)

// withJSON returns raw with top-level element key set to v (deleted when v
// is nil).
func withJSON(t *testing.T, raw []byte, key string, v any) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	if v == nil {
		delete(m, key)
	} else {
		m[key] = v
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func odsProvider(code string) map[string]any {
	return map[string]any{"identifier": map[string]any{"system": mappings.ODSSystem, "value": code}}
}

// The case belongs to the trust that sent the Encounter, whatever
// Encounter.serviceProvider says; a serviceProvider naming another trust by
// ODS code is refused at Encounter.serviceProvider.
func TestCaseTrustIsTheSenders(t *testing.T) {
	enc := read(t, "encounter-inpatient.json") // serviceProvider RXX
	for _, tc := range []struct {
		name      string
		provider  any // nil: no serviceProvider
		partition string
		refused   bool
	}{
		{"no serviceProvider", nil, "RXA", false},
		{"own ODS code", odsProvider("RXA"), "RXA", false},
		{"own ODS code, lower case", odsProvider("rxa"), "RXA", false},
		{"own site", odsProvider("RXA01"), "RXA", false},
		{"another trust", odsProvider("RXX"), "RXA", true},
		{"another trust's site", odsProvider("RXX01"), "RXA", true},
		{"a longer code with the caller's prefix", odsProvider("RXA0123"), "RXA", true},
		{"by reference only: kept as data", map[string]any{"reference": "Organization/leeds"}, "RXA", false},
		{"another identifier system: kept as data", map[string]any{"identifier": map[string]any{"system": "urn:x", "value": "RXX"}}, "RXA", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			raw := withJSON(t, enc, "serviceProvider", tc.provider)
			c, _, err := mappings.EncounterToCase(raw, read(t, "patient.json"), mappings.Options{AsOf: asOf, Trust: tc.partition})
			checkErr(t, err)
			if tc.refused {
				if discharge.ErrorKind(err) != discharge.KindBusinessRule || asErr(t, err).Issues[0].Expression != "Encounter.serviceProvider" {
					t.Fatalf("err = %v, want business-rule at Encounter.serviceProvider", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.Trust != tc.partition {
				t.Errorf("trust = %q, want the sender's %q", c.Trust, tc.partition)
			}
		})
	}
}

// An overseas visitor (or a patient without a UK postcode) is accepted: the
// case says there is no UK position, with a warning at Encounter.subject,
// and the care request is accepted without a search area.
func TestPatientWithoutUKPosition(t *testing.T) {
	pat := read(t, "patient.json")
	for _, tc := range []struct {
		name      string
		address   any
		noUK      bool
		outcode   string
		warnNamed string // the Patient element the warning's message names
	}{
		{"UK postcode", []any{map[string]any{"use": "home", "postalCode": "M14 4AB"}}, false, "M14", ""},
		{"UK postcode, country GB", []any{map[string]any{"use": "home", "postalCode": "M14 4AB", "country": "GB"}}, false, "M14", ""},
		{"UK postcode, country England", []any{map[string]any{"use": "home", "postalCode": "M14 4AB", "country": "England"}}, false, "M14", ""},
		{"French address", []any{map[string]any{"use": "home", "line": []any{"1 rue de Rivoli"}, "city": "Paris", "postalCode": "75001", "country": "FR"}}, true, "", "Patient.address[0].country"},
		{"French postcode, no country", []any{map[string]any{"use": "home", "city": "Paris", "postalCode": "75001"}}, true, "", "Patient.address[0].postalCode"},
		{"UK-shaped code abroad", []any{map[string]any{"use": "home", "city": "Dublin", "postalCode": "D02 X285", "country": "IE"}}, true, "", "Patient.address[0].country"},
		{"no postcode", []any{map[string]any{"use": "home", "city": "Lyon", "country": "France"}}, true, "", "Patient.address"},
		{"no address", nil, true, "", "Patient.address"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := withJSON(t, pat, "address", tc.address)
			c, is, err := mappings.EncounterToCase(read(t, "encounter-inpatient.json"), p, mappings.Options{AsOf: asOf, Trust: "RXX"})
			if err != nil {
				t.Fatalf("refused: %v", err)
			}
			if c.NoUKPosition != tc.noUK || c.Patient.HomeOutcode != tc.outcode {
				t.Fatalf("noUKPosition %v outcode %q, want %v %q", c.NoUKPosition, c.Patient.HomeOutcode, tc.noUK, tc.outcode)
			}
			if tc.noUK && c.Patient.HomePostcode != "" {
				t.Errorf("home postcode %q kept for a patient with no UK position", c.Patient.HomePostcode)
			}
			found := false
			for _, w := range is.Warnings() {
				if w.Expression == "Encounter.subject" && strings.Contains(w.Message, tc.warnNamed+":") {
					found = true
				}
			}
			if tc.noUK != found {
				t.Errorf("warning at Encounter.subject naming %s: %v; issues %+v", tc.warnNamed, found, is)
			}

			sr := withJSON(t, read(t, "servicerequest-nursing-dementia.json"), "encounter", map[string]any{"reference": "Encounter/enc-1"})
			n, nis, err := mappings.ServiceRequestToNeed(sr, p, mappings.Options{AsOf: asOf, Translator: translator(t)})
			if err != nil {
				t.Fatalf("care request refused: %v", err)
			}
			if (n.SearchArea == nil) != tc.noUK {
				t.Fatalf("search area %+v", n.SearchArea)
			}
			if tc.noUK && !hasIssue(nis, discharge.KindRequired, "ServiceRequest.subject") {
				t.Errorf("no warning at ServiceRequest.subject: %+v", nis)
			}
		})
	}
}

func hasIssue(is discharge.Issues, k discharge.Kind, expr string) bool {
	for _, x := range is {
		if x.Kind == k && x.Expression == expr {
			return true
		}
	}
	return false
}

// internalNames are the discharge model's JSON field names that are not
// FHIR element names: a message must never show them to a sender.
var internalNames = []string{"homeOutcode", "homePostcode", "nhsNumber", "searchArea", "hoursPerWeek", "ageBand", "caseId",
	"requirements", "setting", "patient."}

// Every issue the mappings raise points into the resource being mapped (its
// expression starts with the resource type) and names no model field.
func TestIssuesPointIntoTheRequest(t *testing.T) {
	tr := translator(t)
	badNHS := []byte(`{"resourceType":"Patient","identifier":[{"system":"https://fhir.nhs.uk/Id/nhs-number","value":"9476719932"}],"birthDate":"1940",
	 "address":[{"use":"home","postalCode":"75001","country":"FR"}]}`)
	geo := `{"resourceType":"Patient","address":[{"use":"home","postalCode":"M14 4AB","extension":[{"url":"http://hl7.org/fhir/StructureDefinition/geolocation",
	 "extension":[{"url":"latitude","valueDecimal":123},{"url":"longitude","valueDecimal":-2.2}]}]}]}`
	const sa = `{"url":"https://fhir.discharge-gateway.example/StructureDefinition/search-area","valueString":"%s"}`
	home := func(ext, qty string) []byte {
		return []byte(`{"resourceType":"ServiceRequest","id":"s","status":"active","intent":"order","encounter":{"reference":"Encounter/e"},
		 "code":{"coding":[{"system":"https://fhir.discharge-gateway.example/CodeSystem/care-setting","code":"home-care"}]},
		 "extension":[` + ext + `],"quantityQuantity":` + qty + `}`)
	}
	type mapped struct {
		root string
		is   discharge.Issues
	}
	var all []mapped
	collect := func(root string, is discharge.Issues, err error) {
		all = append(all, mapped{root, is})
		if err != nil {
			all = append(all, mapped{root, asErr(t, err).Issues})
		}
	}
	_, is, err := mappings.EncounterToCase(read(t, "encounter-inpatient.json"), badNHS, mappings.Options{Translator: tr, AsOf: asOf, Trust: "RXX"})
	collect("Encounter", is, err)
	_, is, err = mappings.EncounterToCase(read(t, "encounter-inpatient.json"), []byte(geo), mappings.Options{Translator: tr, AsOf: asOf, Trust: "RXX"})
	collect("Encounter", is, err)
	// A Patient's point off the globe does not refuse the care request: the
	// postcode places the patient.
	need, is, err := mappings.ServiceRequestToNeed(read(t, "servicerequest-nursing-dementia.json"), []byte(geo), mappings.Options{Translator: tr, AsOf: asOf})
	collect("ServiceRequest", is, err)
	if err != nil || need.SearchArea == nil || need.SearchArea.Outcode != "M14" || need.SearchArea.Latitude != nil {
		t.Fatalf("need %+v, err %v", need, err)
	}
	_, is, err = mappings.ServiceRequestToNeed(home(strings.Replace(sa, "%s", "not a postcode", 1), `{"value":2,"code":"h/wk"}`), nil, mappings.Options{Translator: tr, AsOf: asOf})
	collect("ServiceRequest", is, err)
	_, is, err = mappings.ServiceRequestToNeed(home(strings.Replace(sa, "%s", "M14", 1), `{"value":30,"code":"h/d"}`), nil, mappings.Options{Translator: tr, AsOf: asOf})
	collect("ServiceRequest", is, err)
	_, is, err = mappings.ServiceRequestToNeed(home(strings.Replace(sa, "%s", "M14", 1), `{"value":2,"code":"h/wk"}`), badNHS, mappings.Options{Translator: tr, AsOf: asOf})
	collect("ServiceRequest", is, err)

	n := 0
	for _, m := range all {
		for _, x := range m.is {
			n++
			if x.Expression != m.root && !strings.HasPrefix(x.Expression, m.root+".") {
				t.Errorf("%s issue at %q points outside the request: %+v", m.root, x.Expression, x)
			}
			for _, name := range internalNames {
				if strings.Contains(x.Message, name) {
					t.Errorf("message names the internal field %q: %q", name, x.Message)
				}
			}
		}
	}
	if n < 6 {
		t.Fatalf("only %d issues: the inputs no longer exercise the mappings' checks", n)
	}
}
