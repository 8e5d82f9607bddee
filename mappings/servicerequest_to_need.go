package mappings

import (
	"fmt"

	"github.com/dischargegateway/gateway/discharge"
	r4 "github.com/samply/golang-fhir-models/fhir-models/fhir"
)

// Extensions the ServiceRequest mapping reads. See MAPPING.md.
const (
	// FundingExtensionURL (valueCodeableConcept from FundingSystem, or a
	// code a ConceptMap translates into it).
	FundingExtensionURL = ExtensionBase + "funding"
	// ExcludedProviderURL (valueReference, repeating): providers not to offer.
	ExcludedProviderURL = ExtensionBase + "excluded-provider"
	// SearchAreaURL (valueString): the postcode district to search around.
	SearchAreaURL = ExtensionBase + "search-area"
)

// ServiceRequestToNeed maps raw ServiceRequest JSON, and the raw JSON of its
// subject Patient (nil if not held), to a care need.
//
// A ServiceRequest whose code and category no ConceptMap recognises as
// post-discharge care (a CT scan, a blood test) gives a nil need and a
// warning at ServiceRequest.code: it is stored but is not a care need.
// Inside a recognised care request, a requirement or funding code that no
// map knows is an error naming the element. A non-nil error is a
// *discharge.Error.
func ServiceRequestToNeed(serviceRequest, patient []byte, opt Options) (*discharge.CareNeed, discharge.Issues, error) {
	sr, err := DecodeServiceRequest(serviceRequest)
	if err != nil {
		return nil, nil, err
	}
	var p *r4.Patient
	if len(patient) > 0 {
		if p, err = DecodePatient(patient); err != nil {
			return nil, nil, err
		}
	}
	return NeedFromServiceRequest(sr, p, opt)
}

// ServiceRequestDocToNeed is ServiceRequestToNeed over resources the
// validator already decoded (fhir.Parsed.Doc, mappings.Parameter.Resource),
// so an inline resource is decoded once; patient is nil if not held.
func ServiceRequestDocToNeed(serviceRequest, patient map[string]any, opt Options) (*discharge.CareNeed, discharge.Issues, error) {
	sr, err := ServiceRequestFromDoc(serviceRequest)
	if err != nil {
		return nil, nil, err
	}
	var p *r4.Patient
	if patient != nil {
		if p, err = PatientFromDoc(patient); err != nil {
			return nil, nil, err
		}
	}
	return NeedFromServiceRequest(sr, p, opt)
}

// NeedFromServiceRequest is ServiceRequestToNeed over resources already
// decoded (DecodeServiceRequest, DecodePatient), for a caller that reads
// other elements of them too: each is decoded once. patient is nil when
// the gateway does not hold it.
func NeedFromServiceRequest(sr *r4.ServiceRequest, patient *r4.Patient, opt Options) (*discharge.CareNeed, discharge.Issues, error) {
	const op = "mappings.ServiceRequestToNeed"
	var is discharge.Issues
	tr := opt.Translator
	validSetting := func(s string) bool { return discharge.CareSetting(s).Valid() }

	origins := Origins{}
	setting, ok := resolve(sr.Code, CareSettingSystem, validSetting, tr)
	if ok {
		origins["setting"] = "ServiceRequest.code"
	} else {
		for i := range sr.Category {
			if setting, ok = resolve(&sr.Category[i], CareSettingSystem, validSetting, tr); ok {
				origins["setting"] = fmt.Sprintf("ServiceRequest.category[%d]", i)
				break
			}
		}
	}
	if !ok {
		if sr.Code != nil && hasSystem(sr.Code, CareSettingSystem) {
			// Our own system with a code we do not define is a mistake, not
			// some other kind of request.
			is.Add(discharge.KindCodeInvalid, "ServiceRequest.code", "the code is not in the gateway care-setting code system")
			return nil, is.Warnings(), issuesErr(is, op)
		}
		is.Warn(discharge.KindBusinessRule, "ServiceRequest.code",
			"the ServiceRequest is not a request for post-discharge care that any ConceptMap recognises: it is stored but forms no care need")
		return nil, is, nil
	}

	n := &discharge.CareNeed{
		ID:       str(sr.Id),
		Setting:  discharge.CareSetting(setting),
		Status:   sr.Status.Code(),
		Priority: discharge.PriorityRoutine,
	}
	if sr.Priority != nil {
		n.Priority = discharge.Priority(sr.Priority.Code())
		origins["priority"] = "ServiceRequest.priority"
	}
	if sr.Encounter != nil && str(sr.Encounter.Reference) != "" {
		n.CaseID = refID(*sr.Encounter.Reference, "Encounter")
	} else {
		is.Warn(discharge.KindRequired, "ServiceRequest.encounter", "the care need names no Encounter, so it belongs to no discharge case")
	}

	for i := range sr.OrderDetail {
		at := fmt.Sprintf("ServiceRequest.orderDetail[%d]", i)
		code, ok := resolve(&sr.OrderDetail[i], RequirementSystem, func(s string) bool { return discharge.Requirement(s).Valid() }, tr)
		if !ok {
			is.Add(discharge.KindCodeInvalid, at+".coding[0]", unknownCode(&sr.OrderDetail[i], "requirement"))
			continue
		}
		origins[fmt.Sprintf("requirements[%d]", len(n.Requirements))] = at
		if !n.Has(discharge.Requirement(code)) {
			n.Requirements = append(n.Requirements, discharge.Requirement(code))
		}
	}

	// Hours are a home-care measure; a quantity on a bed request (one bed)
	// says nothing the setting does not.
	if q := sr.QuantityQuantity; q != nil && (n.Setting == discharge.CareHomeCare || n.Setting == discharge.CareReablement) {
		hours(q, n, &is)
		origins["hoursPerWeek"] = "ServiceRequest.quantityQuantity.value"
	}
	switch {
	case sr.OccurrenceDateTime != nil:
		n.StartDate = datePtr(sr.OccurrenceDateTime, "ServiceRequest.occurrenceDateTime", &is)
	case sr.OccurrencePeriod != nil:
		n.StartDate = datePtr(sr.OccurrencePeriod.Start, "ServiceRequest.occurrencePeriod.start", &is)
	}
	for _, p := range sr.Performer {
		if s := refString(p); s != "" {
			n.PreferredProviders = append(n.PreferredProviders, s)
		}
	}

	for i, e := range sr.Extension {
		at := fmt.Sprintf("ServiceRequest.extension[%d]", i)
		switch e.Url {
		case FundingExtensionURL:
			code, ok := resolve(e.ValueCodeableConcept, FundingSystem, func(s string) bool { return discharge.Funding(s).Valid() }, tr)
			if !ok {
				is.Add(discharge.KindCodeInvalid, at+".valueCodeableConcept.coding[0]", unknownCode(e.ValueCodeableConcept, "funding"))
				continue
			}
			n.Funding = discharge.Funding(code)
			origins["funding"] = at + ".valueCodeableConcept"
		case ExcludedProviderURL:
			if e.ValueReference != nil {
				if s := refString(*e.ValueReference); s != "" {
					n.ExcludedProviders = append(n.ExcludedProviders, s)
				}
			}
		case SearchAreaURL:
			if s := str(e.ValueString); s != "" {
				n.SearchArea = &discharge.SearchArea{Outcode: discharge.Outcode(s)}
				origins["searchArea.outcode"] = at + ".valueString"
			}
		}
	}

	if patient == nil {
		if n.SearchArea == nil {
			is.Warn(discharge.KindRequired, "ServiceRequest.subject", "no search area: the ServiceRequest has none and the subject Patient is not known")
		}
	} else {
		f := PatientFacts{Origins: Origins{}}
		patientHome(patient, &f) // patient warnings belong to the case
		if n.SearchArea == nil && f.Patient.HomeOutcode != "" {
			n.SearchArea = &discharge.SearchArea{Outcode: f.Patient.HomeOutcode, Latitude: f.Latitude, Longitude: f.Longitude}
			origins["searchArea.outcode"] = f.Origins["homeOutcode"]
			origins["searchArea.latitude"], origins["searchArea.longitude"] = f.Origins["latitude"], f.Origins["longitude"]
		} else if n.SearchArea == nil {
			is.Warn(discharge.KindRequired, "ServiceRequest.subject",
				"no search area: the ServiceRequest has none and the subject Patient has no UK postcode (an address outside the UK, or none); "+sendPosition)
		}
	}

	is = append(is, origins.Rename(Validate(n, opt.asOf()), "ServiceRequest")...)
	is = aboutSubject(is, "ServiceRequest")
	if err := issuesErr(is, op); err != nil {
		return nil, is.Warnings(), err
	}
	return n, is, nil
}

// hours reads quantityQuantity as hours per week: UCUM h/wk as is, h/d
// times seven. Any other unit is an error.
func hours(q *r4.Quantity, n *discharge.CareNeed, is *discharge.Issues) {
	v, ok := decimal(q.Value)
	if !ok {
		is.Add(discharge.KindValue, "ServiceRequest.quantityQuantity.value", "the quantity has no numeric value")
		return
	}
	unit := str(q.Code)
	if unit == "" {
		unit = str(q.Unit)
	}
	switch unit {
	case "h/wk":
	case "h/d":
		v *= 7
	default:
		is.Add(discharge.KindValue, "ServiceRequest.quantityQuantity.code", "the care quantity must be in hours per week (UCUM h/wk) or hours per day (h/d)")
		return
	}
	n.HoursPerWeek = &v
}

func hasSystem(cc *r4.CodeableConcept, system string) bool {
	for _, cd := range cc.Coding {
		if str(cd.System) == system {
			return true
		}
	}
	return false
}

// unknownCode names the first code of cc for an error message. Codes are
// terminology, not patient data, so they may be shown.
func unknownCode(cc *r4.CodeableConcept, what string) string {
	if cc == nil || len(cc.Coding) == 0 {
		return "the " + what + " has no coding"
	}
	cd := cc.Coding[0]
	return fmt.Sprintf("no ConceptMap translates code %q of system %q to a gateway %s code", str(cd.Code), str(cd.System), what)
}
