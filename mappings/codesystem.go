package mappings

import (
	"encoding/json"

	"github.com/dischargegateway/gateway/discharge"
)

// Canonical bases of the gateway's own conformance resources.
const (
	CodeSystemBase = "https://fhir.discharge-gateway.example/CodeSystem/"
	ExtensionBase  = "https://fhir.discharge-gateway.example/StructureDefinition/"
)

// The gateway's code systems.
const (
	CareSettingSystem = CodeSystemBase + "care-setting"
	BedTypeSystem     = CodeSystemBase + "bed-type"
	PopulationSystem  = CodeSystemBase + "capacity-population"
	RequirementSystem = CodeSystemBase + "requirement"
	FundingSystem     = CodeSystemBase + "funding"
	PathwaySystem     = CodeSystemBase + "discharge-pathway"
	DelayReasonSystem = CodeSystemBase + "delay-reason"
	// RetiredDelayReasonSystem holds the codes of the gateway's first
	// delay-reason list that the 2024 list replaced (delayreason.go).
	RetiredDelayReasonSystem = CodeSystemBase + "delay-reason-2023"
	// ExclusionReasonSystem codes why $placement-options left a provider
	// out: OperationOutcome.issue.details.coding of each exclusion.
	ExclusionReasonSystem = CodeSystemBase + "placement-exclusion-reason"
)

// External systems the mappings read.
const (
	SNOMEDSystem                     = "http://snomed.info/sct"
	UCUMSystem                       = "http://unitsofmeasure.org"
	ActCodeSystem                    = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
	NHSNumberSystem                  = "https://fhir.nhs.uk/Id/nhs-number"
	ODSSystem                        = "https://fhir.nhs.uk/Id/ods-organization-code"
	UKCoreDischargeDestinationSystem = "https://fhir.hl7.org.uk/CodeSystem/UKCore-DischargeDestinationEngland"
	UKCoreLegalStatusSystem          = "https://fhir.hl7.org.uk/CodeSystem/UKCore-LegalStatusClassificationEngland"
	HL7DischargeDispositionSystem    = "http://terminology.hl7.org/CodeSystem/discharge-disposition"
)

type codeSystemDef struct {
	id, url, name, title, description string
	concepts                          func() []discharge.Concept
}

// codeSystemExtra is what a code system has beyond codeSystemDef's, by id.
type codeSystemExtra struct {
	// version is "1.0.0" unless set; status "active" unless set.
	version, status string
	// properties declares the concept properties props gives each
	// concept (nil: none).
	properties []csProperty
	props      func(code string) []conceptProperty
}

// csProperty is a CodeSystem.property: a property its concepts carry.
type csProperty struct {
	Code        string `json:"code"`
	URI         string `json:"uri,omitempty"`
	Description string `json:"description"`
	Type        string `json:"type"`
}

// conceptProperty is a CodeSystem.concept.property of type code or
// string.
type conceptProperty struct {
	Code        string `json:"code"`
	ValueCode   string `json:"valueCode,omitempty"`
	ValueString string `json:"valueString,omitempty"`
}

var codeSystemDefs = []codeSystemDef{
	{"bed-type", BedTypeSystem, "BedType", "Capacity Tracker bed type",
		"The bed categories care homes report vacancies for.", discharge.BedTypes},
	{"capacity-population", PopulationSystem, "CapacityPopulation", "Capacity posting population",
		"The figures a capacity MeasureReport reports per bed type: the DHSC mandate's four fields and closed-to-admissions.", CapacityPopulations},
	{"capacity-freshness", CapacityFreshnessSystem, "CapacityFreshness", "Capacity posting freshness",
		"How far a capacity MeasureReport can be trusted, by the age of its figures; the system of its meta.tag.", CapacityFreshnesses},
	{"care-setting", CareSettingSystem, "CareSetting", "Discharge Gateway care setting",
		"Kinds of post-discharge care a discharge care need asks for.", discharge.CareSettings},
	{"requirement", RequirementSystem, "Requirement", "Discharge Gateway care requirement",
		"Specific needs a provider must be able to meet.", discharge.Requirements},
	{"funding", FundingSystem, "Funding", "Discharge Gateway funding stream",
		"Who pays for post-discharge care.", discharge.Fundings},
	{"discharge-pathway", PathwaySystem, "DischargePathway", "Hospital Discharge Service pathway",
		"Discharge pathways 0 to 3 of the Hospital Discharge Service (England).", discharge.Pathways},
	{"delay-reason", DelayReasonSystem, "DelayReason", "Acute discharge sitrep delay reason",
		"Why a patient who no longer meets the criteria to reside is still in hospital: the 37 reasons for delay, in five families, " +
			"of NHS England's acute discharge situation report (the Discharge Delays (Acute) collection) as revised in May 2024, " +
			"in the order and wording of its monthly data files (checked against the August 2026 file), with the gateway's codes " +
			"(the return names reasons by text only) and the gateway's own other last. Version 2.0.0 replaced the gateway's first list " +
			"(1.0.0, after the 2023 return): its retired codes are in " + RetiredDelayReasonSystem + ", and a code of it sent in this system " +
			"is still accepted and translated (ConceptMap delay-reason-2023-to-2024). docs/sitrep.md records the source.",
		discharge.DelayReasons},
	{"delay-reason-2023", RetiredDelayReasonSystem, "DelayReason2023", "Retired delay reasons (the gateway's first list)",
		"The codes of the gateway's first delay-reason list (delay-reason 1.0.0, after the acute sitrep's 2023 Table 5) that the 2024 list does not keep. " +
			"Each is retired; ConceptMap delay-reason-2023-to-2024 (configs/conceptmaps) and the replacedBy property give the current reason that replaces it.",
		retiredDelayReasonConcepts},
	{"sitrep", SitrepSystem, "Sitrep", "Discharge sitrep groups and stratifiers",
		"The groups and stratifiers of the discharge-sitrep Measure and its MeasureReports.", SitrepConcepts},
	{"virtual-ward", VirtualWardSystem, "VirtualWard", "Virtual-ward occupancy groups and stratifiers",
		"The groups, stratifiers and target strata of the virtual-ward-occupancy Measure and its MeasureReports.", VirtualWardConcepts},
	{"unmet-demand", UnmetSystem, "UnmetDemand", "Unmet demand report codes",
		"The group, stratifiers and stratifier components of the unmet-demand Measure and its weekly MeasureReports.", UnmetConcepts},
	{"forecast", ForecastSystem, "Forecast", "Discharge demand forecast groups, stratifiers and settings",
		"The groups, stratifiers, stratum components and settings of the discharge-forecast Measure and its MeasureReports.", ForecastConcepts},
	{"placement-exclusion-reason", ExclusionReasonSystem, "PlacementExclusionReason", "Placement exclusion reason",
		"The hard filters of $placement-options: why a provider was left out of the options. The code of each exclusion " +
			"in the answer's OperationOutcome (issue.details.coding), in the order the filters are applied.", discharge.ExclusionReasons},
	{"offer-reject-reason", OfferRejectReasonSystem, "OfferRejectReason", "Referral offer reject reason",
		"Why a provider declined a referral offer: Task.statusReason of a rejected Task (other needs statusReason.text).", discharge.RejectReasons},
	{"offer-business-status", OfferBusinessStatusSystem, "OfferBusinessStatus", "Referral offer business status",
		"What ended or refined a referral offer: Task.businessStatus, each code naming the Task.status it goes with.", OfferBusinessStatuses},
	{"offer-rule", OfferRuleSystem, "OfferRule", "Referral offer rule",
		"The rules of the referral loop a refused Task interaction names in OperationOutcome.issue.details.coding (409 conflict).", OfferRules},
	{"offer-parameter", OfferParameterSystem, "OfferParameter", "Referral offer input and output",
		"The types of a referral offer Task's input (what is offered) and output (the bed held on acceptance).", OfferParameters},
	{"case-event-kind", CaseEventKindSystem, "CaseEventKind", "Discharge case event kind",
		"What happened to a discharge case: Provenance.activity of each timeline event in Encounter/{id}/$discharge-case.", CaseEventKinds},
	{"case-state", CaseStateSystem, "CaseState", "Discharge case state",
		"The states of a discharge case, from referred to discharged or cancelled: the case-state extension of a timeline Provenance (the state after the event) and of the case's MeasureReport.", CaseStates},
	{"case-measure", CaseMeasureSystem, "CaseMeasure", "Discharge case measure",
		"The measures of a discharge case: MeasureReport.group.code of the case's MeasureReport (Measure discharge-case).", CaseMeasures},
}

var codeSystemExtras = map[string]codeSystemExtra{
	"delay-reason": {version: "2.0.0",
		properties: []csProperty{{Code: "family", Description: "The family the reason belongs to, as its published text begins (Gateway: the gateway's own).", Type: "string"}},
		props: func(code string) []conceptProperty {
			return []conceptProperty{{Code: "family", ValueString: discharge.DelayReasonFamily(code)}}
		}},
	"delay-reason-2023": {status: "retired",
		properties: []csProperty{
			{Code: "status", URI: "http://hl7.org/fhir/concept-properties#status", Description: "The concept's status.", Type: "code"},
			{Code: "replacedBy", Description: "The code in " + DelayReasonSystem + " (2.0.0) that replaces this one.", Type: "code"},
		},
		props: func(code string) []conceptProperty {
			for _, r := range discharge.RetiredDelayReasons() {
				if r.Code == code {
					return []conceptProperty{{Code: "status", ValueCode: "retired"}, {Code: "replacedBy", ValueCode: r.ReplacedBy}}
				}
			}
			return nil
		}},
}

// retiredDelayReasonConcepts are the retired delay-reason codes as
// concepts of RetiredDelayReasonSystem.
func retiredDelayReasonConcepts() []discharge.Concept {
	rs := discharge.RetiredDelayReasons()
	out := make([]discharge.Concept, len(rs))
	for i, r := range rs {
		out[i] = r.Concept
	}
	return out
}

// CodeSystemNames lists the ids accepted by CodeSystemJSON, in order.
func CodeSystemNames() []string {
	out := make([]string, len(codeSystemDefs))
	for i, d := range codeSystemDefs {
		out[i] = d.id
	}
	return out
}

// CodeSystemJSON renders the gateway code system with id name (one of
// CodeSystemNames) as an R4 CodeSystem resource, or nil if there is none by
// that name.
func CodeSystemJSON(name string) []byte {
	for _, d := range codeSystemDefs {
		if d.id == name {
			return renderCodeSystem(d)
		}
	}
	return nil
}

// CodeSystems renders every gateway code system, in CodeSystemNames order.
func CodeSystems() [][]byte {
	out := make([][]byte, 0, len(codeSystemDefs))
	for _, d := range codeSystemDefs {
		out = append(out, renderCodeSystem(d))
	}
	return out
}

func renderCodeSystem(d codeSystemDef) []byte {
	type concept struct {
		Code       string            `json:"code"`
		Display    string            `json:"display"`
		Definition string            `json:"definition"`
		Property   []conceptProperty `json:"property,omitempty"`
	}
	x := codeSystemExtras[d.id]
	cs := d.concepts()
	concepts := make([]concept, len(cs))
	for i, c := range cs {
		concepts[i] = concept{Code: c.Code, Display: c.Display, Definition: c.Definition}
		if x.props != nil {
			concepts[i].Property = x.props(c.Code)
		}
	}
	version, status := x.version, x.status
	if version == "" {
		version = "1.0.0"
	}
	if status == "" {
		status = "active"
	}
	b, err := json.Marshal(struct {
		ResourceType  string       `json:"resourceType"`
		ID            string       `json:"id"`
		URL           string       `json:"url"`
		Version       string       `json:"version"`
		Name          string       `json:"name"`
		Title         string       `json:"title"`
		Status        string       `json:"status"`
		Experimental  bool         `json:"experimental"`
		Publisher     string       `json:"publisher"`
		Description   string       `json:"description"`
		CaseSensitive bool         `json:"caseSensitive"`
		Content       string       `json:"content"`
		Count         int          `json:"count"`
		Property      []csProperty `json:"property,omitempty"`
		Concept       []concept    `json:"concept"`
	}{"CodeSystem", d.id, d.url, version, d.name, d.title, status, false, "Discharge Gateway",
		d.description, true, "complete", len(concepts), x.properties, concepts})
	if err != nil {
		panic(err) // only strings: cannot fail
	}
	return b
}
