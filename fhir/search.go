package fhir

import (
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/dischargegateway/gateway/discharge"
)

// ParamType is a FHIR search parameter type.
type ParamType int

// The search parameter types the gateway implements.
const (
	ParamToken ParamType = iota
	ParamReference
	ParamDate
	ParamURI
	// ParamSpecial is a parameter with its own search logic (Location near):
	// not indexed here; the gateway evaluates it.
	ParamSpecial
)

// ParamTypeCode is the FHIR code of a parameter type.
func ParamTypeCode(t ParamType) string {
	switch t {
	case ParamReference:
		return "reference"
	case ParamDate:
		return "date"
	case ParamURI:
		return "uri"
	case ParamSpecial:
		return "special"
	}
	return "token"
}

// SearchParam is one search parameter the gateway implements.
type SearchParam struct {
	Name       string
	Type       ParamType
	Definition string // canonical URL of the HL7 SearchParameter
	Doc        string
	// paths are the elements indexed, relative to the resource.
	paths []string
	// target restricts a reference parameter to one resource type.
	target string
	// Expression is the FHIRPath of what a gateway-defined parameter
	// indexes (its SearchParameter resource's expression).
	Expression string
	// value, when set, finds the value indexed instead of paths: an
	// extension's value, which a dotted path cannot select by url.
	value func(doc map[string]any) any
}

// GatewayDefined reports a parameter the gateway defines itself (its
// SearchParameter resource is served at /fhir/SearchParameter/{Type}-{name}).
func (p SearchParam) GatewayDefined() bool { return strings.HasPrefix(p.Definition, gatewayBase) }

func sp(typ, name string, t ParamType, doc string, paths ...string) SearchParam {
	return SearchParam{Name: name, Type: t, Definition: "http://hl7.org/fhir/SearchParameter/" + typ + "-" + name,
		Doc: doc, paths: paths}
}

// searchParams is the one table of implemented search parameters: the
// router, the index extraction and the CapabilityStatement all read it.
var searchParams = map[string][]SearchParam{
	"Patient": {
		sp("Patient", "identifier", ParamToken, "A patient identifier, e.g. https://fhir.nhs.uk/Id/nhs-number|9476719931", "identifier"),
	},
	"Encounter": {
		sp("Encounter", "identifier", ParamToken, "Identifier(s) by which this encounter is known", "identifier"),
		withTarget(sp("Encounter", "patient", ParamReference, "The patient present at the encounter; patient:identifier= searches by the Patient's identifier", "subject"), "Patient"),
		sp("Encounter", "subject", ParamReference, "The patient or group present at the encounter; subject:identifier= searches by the Patient's identifier", "subject"),
		sp("Encounter", "status", ParamToken, "planned | arrived | triaged | in-progress | onleave | finished | cancelled +", "status"),
		sp("Encounter", "date", ParamDate, "A date within the period the Encounter lasted (prefixes eq, lt, le, gt, ge)", "period"),
		ext(gp("Encounter", "pathway", ParamToken, "The discharge pathway (0-3) of the discharge-pathway extension, e.g. "+pathwaySystem+"|2",
			"Encounter.extension.where(url = '"+pathwayExtensionURL+"').value"), extensionValue(pathwayExtensionURL, "valueCodeableConcept")),
		ext(gp("Encounter", "discharge-ready-date", ParamDate, "The Discharge Ready Date of the discharge-ready-date extension (prefixes eq, lt, le, gt, ge)",
			"Encounter.extension.where(url = '"+dischargeReadyDateURL+"').value"), extensionValue(dischargeReadyDateURL, "valueDate")),
		ext(gp("Encounter", "expected-discharge-date", ParamDate, "The expected discharge date (the R5 plannedEndDate extension; prefixes eq, lt, le, gt, ge)",
			"Encounter.extension.where(url = '"+eddExtensionURL+"').value"), extensionValue(eddExtensionURL, "valueDateTime")),
		ext(gp("Encounter", "nctr-since", ParamDate, "The day the patient stopped meeting the criteria to reside (criteria-to-reside extension with met = false); absent while the criteria are met",
			"Encounter.extension.where(url = '"+criteriaToResideURL+"' and extension.where(url = 'met').value = false).extension.where(url = 'since').value"), nctrSince),
		ext(gp("Encounter", "delay-reason", ParamToken, "The first sitrep delay reason of the delay-reason extensions, e.g. "+delayReasonSystem+"|capacity-care-home",
			"Encounter.extension.where(url = '"+delayReasonURL+"').first().value"), firstExtensionValue(delayReasonURL, "valueCodeableConcept")),
	},
	"Organization": {
		sp("Organization", "identifier", ParamToken, "Any identifier, e.g. https://cqc.org.uk/provider-id|1-101000001", "identifier"),
		sp("Organization", "active", ParamToken, "Whether the organization's record is still in active use", "active"),
	},
	"Location": {
		sp("Location", "identifier", ParamToken, "An identifier, e.g. https://cqc.org.uk/location-id|1-466088203", "identifier"),
		withTarget(sp("Location", "organization", ParamReference, "The organization responsible for the location", "managingOrganization"), "Organization"),
		sp("Location", "status", ParamToken, "active | suspended | inactive", "status"),
		sp("Location", "address-postalcode", ParamToken, "The postcode, exactly as recorded", "address.postalCode"),
		sp("Location", "near", ParamSpecial, "near=[latitude]|[longitude]|[distance]|[units] in the normative order; distance defaults to 25 and units to km (km, m, mi); each match carries the location-distance extension"),
	},
	"HealthcareService": {
		sp("HealthcareService", "identifier", ParamToken, "External identifiers for this item", "identifier"),
		sp("HealthcareService", "type", ParamToken, "The care setting, from the gateway's care-setting code system", "type"),
		sp("HealthcareService", "characteristic", ParamToken, "A specialism, from the gateway's requirement code system", "characteristic"),
		withTarget(sp("HealthcareService", "organization", ParamReference, "The organization that provides the service", "providedBy"), "Organization"),
		withTarget(sp("HealthcareService", "location", ParamReference, "The location the service is delivered at", "location"), "Location"),
		sp("HealthcareService", "active", ParamToken, "Whether the service is active", "active"),
	},
	"ServiceRequest": {
		sp("ServiceRequest", "identifier", ParamToken, "Identifiers assigned to this order", "identifier"),
		withTarget(sp("ServiceRequest", "patient", ParamReference, "Search by subject - a patient; patient:identifier= searches by the Patient's identifier", "subject"), "Patient"),
		sp("ServiceRequest", "subject", ParamReference, "Search by subject; subject:identifier= searches by the Patient's identifier", "subject"),
		sp("ServiceRequest", "encounter", ParamReference, "An encounter in which this request is made", "encounter"),
		sp("ServiceRequest", "status", ParamToken, "draft | active | on-hold | revoked | completed | entered-in-error | unknown", "status"),
	},
}

func withTarget(p SearchParam, target string) SearchParam { p.target = target; return p }

// The gateway's own Encounter extensions its search parameters index
// (mappings/encounter_to_case.go names them too; a mappings test checks
// the two agree: fhir cannot import mappings).
const (
	gatewayBase           = "https://fhir.discharge-gateway.example/"
	pathwaySystem         = gatewayBase + "CodeSystem/discharge-pathway"
	pathwayExtensionURL   = gatewayBase + "StructureDefinition/discharge-pathway"
	dischargeReadyDateURL = gatewayBase + "StructureDefinition/discharge-ready-date"
	criteriaToResideURL   = gatewayBase + "StructureDefinition/criteria-to-reside"
	eddExtensionURL       = "http://hl7.org/fhir/5.0/StructureDefinition/extension-Encounter.plannedEndDate"
	delayReasonURL        = gatewayBase + "StructureDefinition/delay-reason"
	delayReasonSystem     = gatewayBase + "CodeSystem/delay-reason"
)

// gp is a search parameter the gateway defines (no HL7 SearchParameter
// exists for it): its canonical URL is under the gateway's base.
func gp(typ, name string, t ParamType, doc, expression string) SearchParam {
	return SearchParam{Name: name, Type: t, Definition: gatewayBase + "SearchParameter/" + typ + "-" + name, Doc: doc, Expression: expression}
}

func ext(p SearchParam, value func(map[string]any) any) SearchParam { p.value = value; return p }

// IndexedExtensions are the extension URLs the Encounter search
// parameters read, by parameter name (for the mappings test that keeps
// them in step with the mapping's).
func IndexedExtensions() map[string]string {
	return map[string]string{"pathway": pathwayExtensionURL, "discharge-ready-date": dischargeReadyDateURL,
		"expected-discharge-date": eddExtensionURL, "nctr-since": criteriaToResideURL, "pathway-system": pathwaySystem,
		"delay-reason": delayReasonURL, "delay-reason-system": delayReasonSystem}
}

// extensions are the resource's top-level extensions with url.
func extensions(doc map[string]any, url string) []map[string]any {
	list, _ := doc["extension"].([]any)
	var out []map[string]any
	for _, e := range list {
		if m, ok := e.(map[string]any); ok && m["url"] == url {
			out = append(out, m)
		}
	}
	return out
}

// extensionValue is the value[x] element key of the last extension with
// url: a later extension records a later value, as the mapping reads it.
func extensionValue(url, key string) func(map[string]any) any {
	return func(doc map[string]any) any {
		es := extensions(doc, url)
		if len(es) == 0 {
			return nil
		}
		return es[len(es)-1][key]
	}
}

// firstExtensionValue is the value[x] element key of the first extension
// with url: the delay reasons repeat, and the sitrep counts a patient once,
// under the first reason sent (the main one).
func firstExtensionValue(url, key string) func(map[string]any) any {
	return func(doc map[string]any) any {
		es := extensions(doc, url)
		if len(es) == 0 {
			return nil
		}
		return es[0][key]
	}
}

// nctrSince is the criteria-to-reside extension's "since" (valueDate)
// when its "met" (valueBoolean) is false.
func nctrSince(doc map[string]any) any {
	es := extensions(doc, criteriaToResideURL)
	if len(es) == 0 {
		return nil
	}
	var met, since any
	subs, _ := es[len(es)-1]["extension"].([]any)
	for _, s := range subs {
		if m, ok := s.(map[string]any); ok {
			switch m["url"] {
			case "met":
				met = m["valueBoolean"]
			case "since":
				since = m["valueDate"]
			}
		}
	}
	if met != false {
		return nil
	}
	return since
}

// resourceID is _id, which every type of the table takes (FHIR's common
// Resource-id parameter): the logical id, a comma for any of several. It
// is not in the table because nothing is indexed for it: the store matches
// the resource's own id (Filter "_id").
var resourceID = SearchParam{Name: "_id", Type: ParamToken, Definition: "http://hl7.org/fhir/SearchParameter/Resource-id",
	Doc: "The logical id of the resource (a comma for any of several)"}

// SearchParams returns the implemented search parameters of a type.
func SearchParams(resourceType string) []SearchParam {
	list, ok := searchParams[resourceType]
	if !ok {
		return nil
	}
	return append([]SearchParam{resourceID}, list...)
}

// IndexEntries computes the search index entries of a resource.
//
// Token values are indexed as "system|value", "value" and, without a
// system, "|value", so all three FHIR token forms are exact lookups.
// References are indexed as relative "Type/id". Dates are indexed as the
// range [start, end] in Unix seconds, open ends as ±Inf.
func IndexEntries(resourceType string, doc map[string]any) []IndexEntry {
	var out []IndexEntry
	for _, p := range searchParams[resourceType] {
		paths := p.paths
		if p.value != nil {
			paths = []string{""}
		}
		for _, path := range paths {
			var v any
			if p.value != nil {
				v = p.value(doc)
			} else {
				v = at(doc, path)
			}
			switch p.Type {
			case ParamToken:
				for _, t := range tokenValues(v) {
					out = append(out, IndexEntry{Param: p.Name, Token: t})
				}
			case ParamReference:
				for _, r := range referenceValues(v) {
					if p.target != "" && !strings.HasPrefix(r, p.target+"/") {
						continue
					}
					out = append(out, IndexEntry{Param: p.Name, Token: r})
				}
			case ParamDate:
				if lo, hi, ok := periodRange(v); ok {
					out = append(out, IndexEntry{Param: p.Name, Low: lo, High: hi, IsRange: true})
				}
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Param < out[j].Param })
	return out
}

// at follows a dotted element path ("address.postalCode") through objects
// and arrays, collecting every value it reaches.
func at(doc map[string]any, path string) any {
	head, rest, nested := strings.Cut(path, ".")
	v := doc[head]
	if !nested {
		return v
	}
	var out []any
	var walk func(any)
	walk = func(x any) {
		switch y := x.(type) {
		case []any:
			for _, e := range y {
				walk(e)
			}
		case map[string]any:
			if r := at(y, rest); r != nil {
				out = append(out, r)
			}
		}
	}
	walk(v)
	if len(out) == 0 {
		return nil
	}
	return out
}

// tokenValues returns the index keys of a code, Coding, CodeableConcept or
// Identifier (or a list of them).
func tokenValues(v any) []string {
	switch x := v.(type) {
	case string:
		return []string{x, "|" + x}
	case bool:
		s := strconv.FormatBool(x)
		return []string{s, "|" + s}
	case []any:
		var out []string
		for _, e := range x {
			out = append(out, tokenValues(e)...)
		}
		return out
	case map[string]any:
		if cs, ok := x["coding"].([]any); ok {
			return tokenValues(cs)
		}
		val, _ := x["value"].(string)
		if val == "" {
			val, _ = x["code"].(string)
		}
		if val == "" {
			return nil
		}
		sys, _ := x["system"].(string)
		if sys == "" {
			return []string{val, "|" + val}
		}
		return []string{val, sys + "|" + val}
	}
	return nil
}

func referenceValues(v any) []string {
	switch x := v.(type) {
	case []any:
		var out []string
		for _, e := range x {
			out = append(out, referenceValues(e)...)
		}
		return out
	case map[string]any:
		r, _ := x["reference"].(string)
		if t, id, ok := relativeRef(r); ok {
			return []string{t + "/" + id}
		}
	}
	return nil
}

// relativeRef returns Type/id of a relative or absolute reference.
func relativeRef(r string) (typ, id string, ok bool) {
	if r == "" || strings.HasPrefix(r, "#") || strings.HasPrefix(r, "urn:") {
		return "", "", false
	}
	if i := strings.Index(r, "/_history/"); i >= 0 {
		r = r[:i]
	}
	parts := strings.Split(strings.TrimRight(r, "/"), "/")
	if len(parts) < 2 {
		return "", "", false
	}
	typ, id = parts[len(parts)-2], parts[len(parts)-1]
	if typ == "" || id == "" || typ[0] < 'A' || typ[0] > 'Z' {
		return "", "", false
	}
	return typ, id, true
}

func periodRange(v any) (lo, hi float64, ok bool) {
	if s, isString := v.(string); isString {
		lo, hi, err := ParseFHIRDateRange(s)
		return lo, hi, err == nil
	}
	m, isMap := v.(map[string]any)
	if !isMap {
		return 0, 0, false
	}
	lo, hi = math.Inf(-1), math.Inf(1)
	if s, _ := m["start"].(string); s != "" {
		a, _, err := ParseFHIRDateRange(s)
		if err != nil {
			return 0, 0, false
		}
		lo, ok = a, true
	}
	if e, _ := m["end"].(string); e != "" {
		_, b, err := ParseFHIRDateRange(e)
		if err != nil {
			return 0, 0, false
		}
		hi, ok = b, true
	}
	return lo, hi, ok
}

// ParseFHIRDateRange returns the interval, in Unix seconds, that a FHIR
// date, partial date or dateTime denotes: 2025 is the whole year, 2025-02 the
// month, a date the day (UTC), a dateTime the instant.
func ParseFHIRDateRange(s string) (lo, hi float64, err error) {
	bad := discharge.E(discharge.KindValue, "", "Not a FHIR date or dateTime.")
	layouts := []struct {
		layout string
		next   func(time.Time) time.Time
	}{
		{"2006", func(t time.Time) time.Time { return t.AddDate(1, 0, 0) }},
		{"2006-01", func(t time.Time) time.Time { return t.AddDate(0, 1, 0) }},
		{"2006-01-02", func(t time.Time) time.Time { return t.AddDate(0, 0, 1) }},
		{"2006-01-02T15:04:05Z07:00", func(t time.Time) time.Time { return t.Add(time.Second) }},
		{"2006-01-02T15:04:05.999999999Z07:00", func(t time.Time) time.Time { return t.Add(time.Millisecond) }},
		{"2006-01-02T15:04Z07:00", func(t time.Time) time.Time { return t.Add(time.Minute) }},
	}
	for _, l := range layouts {
		if len(s) < 4 {
			break
		}
		t, perr := time.Parse(l.layout, s)
		if perr != nil {
			continue
		}
		// Seconds, not UnixNano: nanoseconds since 1970 overflow int64 after
		// the year 2262, and FHIR dates may be later.
		start := unixSeconds(t)
		end := unixSeconds(l.next(t)) - 1e-3
		return start, end, nil
	}
	return 0, 0, bad
}

// ParseSearchValue converts one query value of a parameter to a Filter.
// Comma-separated values are alternatives (OR).
func ParseSearchValue(p SearchParam, raw string) (Filter, error) {
	f := Filter{Param: p.Name}
	if raw == "" {
		return f, discharge.E(discharge.KindValue, p.Name, "The parameter has no value.")
	}
	switch p.Type {
	case ParamToken:
		for _, v := range splitValues(raw) {
			f.AnyOf = append(f.AnyOf, v)
		}
	case ParamReference:
		for _, v := range splitValues(raw) {
			if t, id, ok := relativeRef(v); ok {
				if p.target != "" && t != p.target {
					return f, discharge.E(discharge.KindValue, p.Name, "This parameter refers to "+p.target+" resources.")
				}
				f.AnyOf = append(f.AnyOf, t+"/"+id)
				continue
			}
			if strings.Contains(v, "/") || strings.Contains(v, ":") {
				return f, discharge.E(discharge.KindValue, p.Name, "Not a reference: use id, Type/id or an absolute URL.")
			}
			target := p.target
			if target == "" {
				target = "Patient"
			}
			f.AnyOf = append(f.AnyOf, target+"/"+v)
		}
	case ParamDate:
		if strings.Contains(raw, ",") {
			return f, discharge.E(discharge.KindNotSupported, p.Name, "Date alternatives (comma) are not supported; repeat the parameter to AND.")
		}
		prefix, val := "eq", raw
		if len(raw) > 2 && raw[0] >= 'a' && raw[0] <= 'z' {
			prefix, val = raw[:2], raw[2:]
		}
		a, b, err := ParseFHIRDateRange(val)
		if err != nil {
			return f, discharge.E(discharge.KindValue, p.Name, "Not a FHIR date: use e.g. 2026-11-24, ge2026-11 or lt2026-11-24T12:00:00Z.")
		}
		r := &RangeFilter{}
		switch prefix {
		case "eq": // the resource's range overlaps the date's
			r.LowAtMost, r.HighAtLeast = &b, &a
		case "ge":
			r.HighAtLeast = &a
		case "gt":
			nb := math.Nextafter(b, math.Inf(1))
			r.HighAtLeast = &nb
		case "le":
			r.LowAtMost = &b
		case "lt":
			na := math.Nextafter(a, math.Inf(-1))
			r.LowAtMost = &na
		default:
			return f, discharge.E(discharge.KindNotSupported, p.Name, "Date prefix '"+prefix+"' is not supported (use eq, lt, le, gt, ge).")
		}
		f.Range = r
	default:
		return f, discharge.E(discharge.KindNotSupported, p.Name, "Unsupported parameter type.")
	}
	return f, nil
}

// splitValues splits on commas not escaped with a backslash.
func splitValues(raw string) []string {
	var out []string
	var cur strings.Builder
	for i := 0; i < len(raw); i++ {
		switch {
		case raw[i] == '\\' && i+1 < len(raw):
			cur.WriteByte(raw[i+1])
			i++
		case raw[i] == ',':
			out = append(out, cur.String())
			cur.Reset()
		default:
			cur.WriteByte(raw[i])
		}
	}
	return append(out, cur.String())
}

func unixSeconds(t time.Time) float64 { return float64(t.Unix()) + float64(t.Nanosecond())/1e9 }
