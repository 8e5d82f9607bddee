package mappings

import (
	"encoding/json"
	"strconv"
	"strings"

	"github.com/dischargegateway/gateway/discharge"
	r4 "github.com/samply/golang-fhir-models/fhir-models/fhir"
)

// Reading the samply models: the decode every mapping starts from, and the
// small readers of their elements (optional strings and decimals, dates,
// references, codes resolved through the ConceptMaps) that the Patient,
// Encounter and ServiceRequest mappings share, kept in one place so a
// mapping reads its resource here and nowhere else.

// DecodeServiceRequest decodes raw ServiceRequest JSON that the gateway has
// already checked against the R4 schema; it only refuses what is not a
// ServiceRequest at all (KindStructure).
//
// A resource is parsed once, its resourceType read beside the model's
// elements; only when that fails is it read again by decodeResource, to
// say why (TestDecodeOnePassAgrees).
func DecodeServiceRequest(raw []byte) (*r4.ServiceRequest, error) {
	var typed struct {
		ResourceType string `json:"resourceType"`
		r4.ServiceRequest
	}
	if json.Unmarshal(raw, &typed) == nil && typed.ResourceType == "ServiceRequest" {
		return &typed.ServiceRequest, nil
	}
	var sr r4.ServiceRequest
	if err := decodeResource(raw, "ServiceRequest", &sr); err != nil {
		return nil, err
	}
	return &sr, nil
}

// DecodeEncounter decodes raw Encounter JSON, like DecodeServiceRequest.
func DecodeEncounter(raw []byte) (*r4.Encounter, error) {
	var typed struct {
		ResourceType string `json:"resourceType"`
		r4.Encounter
	}
	if json.Unmarshal(raw, &typed) == nil && typed.ResourceType == "Encounter" {
		return &typed.Encounter, nil
	}
	var enc r4.Encounter
	if err := decodeResource(raw, "Encounter", &enc); err != nil {
		return nil, err
	}
	return &enc, nil
}

// ServiceRequestReferences returns ServiceRequest.subject.reference and
// ServiceRequest.encounter.reference as written, "" when absent.
func ServiceRequestReferences(sr *r4.ServiceRequest) (subject, encounter string) {
	if sr.Subject.Reference != nil {
		subject = *sr.Subject.Reference
	}
	if sr.Encounter != nil && sr.Encounter.Reference != nil {
		encounter = *sr.Encounter.Reference
	}
	return subject, encounter
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

// resolve returns the first code of cc that is in target (and passes valid),
// or that a ConceptMap translates into target. Direct codes win over
// translated ones, whatever their order.
func resolve(cc *r4.CodeableConcept, target string, valid func(string) bool, tr *Translator) (string, bool) {
	if cc == nil {
		return "", false
	}
	for _, cd := range cc.Coding {
		if str(cd.System) == target && valid(str(cd.Code)) {
			return *cd.Code, true
		}
	}
	for _, cd := range cc.Coding {
		if cd.System == nil || cd.Code == nil {
			continue
		}
		if ts, ok := tr.Translate(*cd.System, *cd.Code, target); ok && valid(ts[0].Code) {
			return ts[0].Code, true
		}
	}
	return "", false
}

// firstCode returns the code of the coding in system, else the first code.
func firstCode(cc *r4.CodeableConcept, system string) string {
	if cc == nil {
		return ""
	}
	for _, cd := range cc.Coding {
		if str(cd.System) == system && str(cd.Code) != "" {
			return *cd.Code
		}
	}
	for _, cd := range cc.Coding {
		if str(cd.Code) != "" {
			return *cd.Code
		}
	}
	return ""
}

// issuesErr turns the error issues into one *discharge.Error: of their kind
// if they share one, else KindInvalid.
func issuesErr(is discharge.Issues, op string) error {
	errs := is.Errors()
	if len(errs) == 0 {
		return nil
	}
	kind := errs[0].Kind
	for _, e := range errs[1:] {
		if e.Kind != kind {
			kind = discharge.KindInvalid
			break
		}
	}
	return &discharge.Error{Kind: kind, Op: op, Issues: errs}
}
