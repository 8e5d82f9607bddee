package mappings

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/dischargegateway/gateway/discharge"
	r4 "github.com/samply/golang-fhir-models/fhir-models/fhir"
)

// Extensions the Encounter mapping reads. See MAPPING.md.
const (
	// EDDExtensionURL is the R5 cross-version extension for
	// Encounter.plannedEndDate (valueDateTime): the expected discharge date.
	EDDExtensionURL = "http://hl7.org/fhir/5.0/StructureDefinition/extension-Encounter.plannedEndDate"
	// DischargeReadyDateURL (valueDate) is the Discharge Ready Date.
	DischargeReadyDateURL = ExtensionBase + "discharge-ready-date"
	// CriteriaToResideURL is complex: "met" (valueBoolean) and "since"
	// (valueDate).
	CriteriaToResideURL = ExtensionBase + "criteria-to-reside"
	// PathwayExtensionURL (valueCodeableConcept from PathwaySystem, "0".."3").
	PathwayExtensionURL = ExtensionBase + "discharge-pathway"
	// DelayReasonURL (valueCodeableConcept, repeating) holds sitrep delay
	// reasons.
	DelayReasonURL = ExtensionBase + "delay-reason"
	// UKCoreLegalStatusURL is complex: "legalStatusContext" and
	// "legalStatusClassification" (valueCodeableConcept from
	// UKCoreLegalStatusSystem).
	UKCoreLegalStatusURL = "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-LegalStatus"
)

// Options are what a mapping needs besides the resources.
type Options struct {
	// Translator holds the ConceptMaps; nil accepts gateway codes only.
	Translator *Translator
	// AsOf is the day age bands are computed on; zero means now.
	AsOf time.Time
	// Trust is the ODS code of the organisation that owns the data: the
	// partition the request came in on, which is the calling trust's. A
	// case's trust is always this, never Encounter.serviceProvider (see
	// EncounterToCase). Empty (a mapping outside any request) checks no
	// serviceProvider.
	Trust string
}

func (o Options) asOf() time.Time {
	if o.AsOf.IsZero() {
		return time.Now()
	}
	return o.AsOf
}

// inpatientClasses are the v3-ActCode classes of a stay a patient is
// discharged from.
var inpatientClasses = map[string]bool{"IMP": true, "ACUTE": true, "NONAC": true}

// EncounterToCase maps raw Encounter JSON, and the raw JSON of its subject
// Patient (nil if the gateway does not hold it), to a discharge case.
//
// The Encounter must already have its server id. An Encounter that is not
// an inpatient stay gives a nil case and a warning at Encounter.class: it is
// stored, but forms no discharge case. Issues holds warnings; a non-nil
// error is a *discharge.Error whose issues carry FHIRPath expressions.
func EncounterToCase(encounter, patient []byte, opt Options) (*discharge.Case, discharge.Issues, error) {
	enc, err := DecodeEncounter(encounter)
	if err != nil {
		return nil, nil, err
	}
	var p *r4.Patient
	if len(patient) > 0 {
		if p, err = DecodePatient(patient); err != nil {
			return nil, nil, err
		}
	}
	return CaseFromEncounter(enc, p, opt)
}

// CaseFromEncounter is EncounterToCase over resources already decoded
// (DecodeEncounter, DecodePatient), for a caller that maps the same
// Patient into more than one thing: each is decoded once. patient is nil
// when the gateway does not hold it.
func CaseFromEncounter(enc *r4.Encounter, patient *r4.Patient, opt Options) (*discharge.Case, discharge.Issues, error) {
	const op = "mappings.EncounterToCase"
	var is discharge.Issues
	if enc.Class.Code == nil || str(enc.Class.System) != ActCodeSystem || !inpatientClasses[*enc.Class.Code] {
		is.Warn(discharge.KindBusinessRule, "Encounter.class",
			"the Encounter is not an inpatient stay (class IMP, ACUTE or NONAC): it is stored but forms no discharge case")
		return nil, is, nil
	}

	// The case belongs to the organisation that sent the Encounter (the
	// partition, opt.Trust), never to the one Encounter.serviceProvider
	// names: that is the sender's claim, and taking it let trust RXA file a
	// case under RXX. A serviceProvider naming another organisation by ODS
	// code is refused, so no stored Encounter claims a stay at a trust that
	// did not send it; one naming the sender or one of its sites, or naming
	// an organisation by reference or display only, is kept as data.
	c := &discharge.Case{ID: str(enc.Id), Status: enc.Status.Code(), Trust: opt.Trust}
	origins := Origins{}
	if sp := enc.ServiceProvider; sp != nil && sp.Identifier != nil && str(sp.Identifier.System) == ODSSystem &&
		opt.Trust != "" && !sameTrust(str(sp.Identifier.Value), opt.Trust) {
		is.Add(discharge.KindBusinessRule, "Encounter.serviceProvider",
			"the serviceProvider's ODS code names another organisation than the trust sending the Encounter: a trust sends only its own stays, so give its own ODS code (or a site's) or leave serviceProvider out")
	}
	if enc.Period != nil {
		c.AdmissionDate = datePtr(enc.Period.Start, "Encounter.period.start", &is)
	}
	c.Ward = ward(enc.Location)

	for i, e := range enc.Extension {
		at := fmt.Sprintf("Encounter.extension[%d]", i)
		switch e.Url {
		case EDDExtensionURL:
			c.ExpectedDischargeDate = datePtr(e.ValueDateTime, at+".valueDateTime", &is)
		case DischargeReadyDateURL:
			c.DischargeReadyDate = datePtr(e.ValueDate, at+".valueDate", &is)
		case CriteriaToResideURL:
			ctr := &discharge.CriteriaToReside{}
			for j, sub := range e.Extension {
				switch sub.Url {
				case "met":
					ctr.Met = sub.ValueBoolean
				case "since":
					ctr.Since = datePtr(sub.ValueDate, fmt.Sprintf("%s.extension[%d].valueDate", at, j), &is)
				}
			}
			c.CriteriaToReside = ctr
		case PathwayExtensionURL:
			p, ok := pathway(e.ValueCodeableConcept, opt.Translator)
			if !ok {
				is.Add(discharge.KindCodeInvalid, at+".valueCodeableConcept",
					"the discharge pathway is not a code of "+PathwaySystem+" and no ConceptMap translates it")
				continue
			}
			c.Pathway = &p
			origins["pathway"] = at + ".valueCodeableConcept"
		case DelayReasonURL:
			// A sitrep reason, or a local code a ConceptMap translates
			// (mappings/delayreason.go); a code that is neither is refused,
			// since the sitrep could not count it.
			if code, ok := delayReason(e.ValueCodeableConcept, opt.Translator); ok {
				c.DelayReasons = append(c.DelayReasons, code)
			} else if firstCode(e.ValueCodeableConcept, DelayReasonSystem) != "" {
				is.Add(discharge.KindCodeInvalid, at+".valueCodeableConcept",
					"the delay reason is not a code of "+DelayReasonSystem+" and no ConceptMap translates it to one")
			} else {
				is.Warn(discharge.KindRequired, at+".valueCodeableConcept", "the delay reason has no code and was ignored")
			}
		case UKCoreLegalStatusURL:
			for _, sub := range e.Extension {
				if sub.Url == "legalStatusClassification" {
					// The last one wins: a later extension records a later status.
					if code := firstCode(sub.ValueCodeableConcept, UKCoreLegalStatusSystem); code != "" {
						c.LegalStatus = code
					}
				}
			}
		}
	}

	if h := enc.Hospitalization; h != nil && h.DischargeDisposition != nil {
		c.DischargeDestination = dischargeDestination(h.DischargeDisposition, opt.Translator, &is)
	}

	if patient == nil {
		is.Warn(discharge.KindRequired, "Encounter.subject",
			"the subject Patient is not known to the gateway: NHS number, age band and home postcode are empty")
	} else {
		f, pis := PatientToFacts(patient, opt.asOf())
		is = append(is, pis...)
		c.Patient = f.Patient
		c.NoUKPosition = f.NoUKPosition
		for k, v := range f.Origins {
			origins["patient."+k] = v
		}
	}

	is = append(is, origins.Rename(Validate(c, opt.asOf()), "Encounter")...)
	is = aboutSubject(is, "Encounter")
	if err := issuesErr(is, op); err != nil {
		return nil, is.Warnings(), err
	}
	return c, is, nil
}

// sameTrust reports whether the ODS code ods is trust's own code or one of
// its sites' (an NHS trust's site codes are its three-character code and two
// more characters, e.g. RXA01 for RXA). ODS codes are upper case; the
// comparison ignores case.
func sameTrust(ods, trust string) bool {
	ods, trust = strings.ToUpper(strings.TrimSpace(ods)), strings.ToUpper(trust)
	return ods == trust || (len(trust) == 3 && len(ods) == 5 && strings.HasPrefix(ods, trust))
}

// ward names the ward from the active location, else the last one listed:
// its display, else its identifier value, else its reference.
func ward(locs []r4.EncounterLocation) string {
	if len(locs) == 0 {
		return ""
	}
	pick := locs[len(locs)-1]
	for _, l := range locs {
		if l.Status != nil && l.Status.Code() == "active" {
			pick = l
			break
		}
	}
	r := pick.Location
	switch {
	case str(r.Display) != "":
		return *r.Display
	case r.Identifier != nil && str(r.Identifier.Value) != "":
		return *r.Identifier.Value
	}
	return str(r.Reference)
}

func pathway(cc *r4.CodeableConcept, tr *Translator) (discharge.Pathway, bool) {
	code, ok := resolve(cc, PathwaySystem, func(s string) bool { _, err := strconv.Atoi(s); return err == nil }, tr)
	if !ok {
		return 0, false
	}
	n, _ := strconv.Atoi(code)
	return discharge.Pathway(n), true
}

func dischargeDestination(cc *r4.CodeableConcept, tr *Translator, is *discharge.Issues) discharge.DischargeDestination {
	code, ok := resolve(cc, UKCoreDischargeDestinationSystem, func(s string) bool { return s != "" }, tr)
	if !ok {
		is.Warn(discharge.KindCodeInvalid, "Encounter.hospitalization.dischargeDisposition",
			"the discharge disposition is not an England discharge destination code and no ConceptMap translates it; it was ignored")
		return ""
	}
	return discharge.DischargeDestination(code)
}
