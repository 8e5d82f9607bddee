package discharge

// The delay reasons of NHS England's acute discharge situation report
// (the Discharge Delays (Acute) collection): the 37 reasons in five
// families that the collection has used since its revision of May 2024,
// in the order of NHS England's monthly data file (the "Delay reason LOS
// 7+" and "LOS 14+" metric groups, which list the same 37 in the same
// order; checked against the August 2026 file). The return names reasons
// by their text, with no codes: the codes are the gateway's, and the
// displays are the published texts (the file's plain hyphens, missing
// spaces and two stray question marks made regular). docs/sitrep.md
// records the source and its checks.
//
// Seven codes of the gateway's first list (2023, after the acute sitrep's
// earlier Table 5) name the same reason in the new list and are kept:
// referral-to-hub, transport, infection-control, safeguarding,
// capacity-home-care, capacity-rehab-bed and capacity-care-home. The rest
// of the first list is retired (RetiredDelayReasons), each with the
// current reason that replaces it.

// Delay reason families, as the published texts begin.
const (
	FamilyHospitalProcess = "Hospital process"
	FamilyWellbeing       = "Wellbeing concerns"
	FamilyHubProcess      = "Care transfer hub process"
	FamilyInterface       = "Interface process"
	FamilyCapacity        = "Capacity"
	// FamilyGateway holds the gateway's own "other", which the national
	// return does not have.
	FamilyGateway = "Gateway"
)

type delayReason struct {
	family string
	Concept
}

func dr(family, code, text, definition string) delayReason {
	return delayReason{family, Concept{code, family + " – " + text, definition}}
}

var delayReasonList = []delayReason{
	dr(FamilyHospitalProcess, "therapy-review", "Awaiting therapy review of need for supported discharge",
		"A therapist has still to review whether the patient needs support after discharge."),
	dr(FamilyHospitalProcess, "medical-review", "Awaiting medical review of need for supported discharge",
		"A doctor has still to review whether the patient needs support after discharge."),
	dr(FamilyHospitalProcess, "referral-to-hub", "Awaiting referral to care transfer hub for supported discharge",
		"The ward has still to refer the patient to the care transfer hub."),
	dr(FamilyHospitalProcess, "transport", "Awaiting patient transport services",
		"Waiting for patient transport to the next place of care."),
	dr(FamilyHospitalProcess, "medicines-documentation", "Awaiting medicines to take home, discharge letter or other discharge documentation",
		"Waiting for medicines to take home, the discharge letter or other discharge documents."),
	dr(FamilyHospitalProcess, "infection-control", "Remaining in hospital due to infection prevention and control restrictions",
		"Kept in hospital by infection prevention and control restrictions."),
	dr(FamilyHospitalProcess, "decision-to-discharge", "Awaiting formal decision to discharge (inc diagnostic test results)",
		"Waiting for the formal decision to discharge, including diagnostic test results."),
	dr(FamilyWellbeing, "patient-family-concerns", "Patient/family/carer concerns over discharge readiness",
		"The patient, family or carer is concerned that the patient is not ready for discharge."),
	dr(FamilyWellbeing, "safeguarding", "Ongoing safeguarding concern",
		"A safeguarding concern is still being dealt with."),
	dr(FamilyWellbeing, "mental-capacity", "Awaiting determination of mental capacity",
		"The patient's mental capacity to decide about discharge has still to be determined."),
	dr(FamilyWellbeing, "destination-readiness", "Issues with discharge destination readiness",
		"The place the patient is going to is not ready for them."),
	dr(FamilyHubProcess, "hub-needs-pathway", "Waiting for confirmation of immediate care needs and pathway",
		"The care transfer hub has still to confirm the patient's immediate care needs and discharge pathway."),
	dr(FamilyHubProcess, "hub-referrals", "Awaiting necessary referrals by care transfer hub",
		"The care transfer hub has still to make the referrals the discharge needs."),
	dr(FamilyHubProcess, "funding-eligibility", "Awaiting confirmation of funding eligibility",
		"Eligibility for funding (such as NHS Continuing Healthcare or local authority funding) has still to be confirmed."),
	dr(FamilyInterface, "interface-p1-rehab", "Home based rehabilitation, reablement or recovery service arrangements still underway (Pathway 1)",
		"Pathway 1: the home-based rehabilitation, reablement or recovery service is available, its arrangements are not complete."),
	dr(FamilyInterface, "interface-p1-social-care", "Other home-based social care service arrangements still underway (Pathway 1)",
		"Pathway 1: other home-based social care is available, its arrangements are not complete."),
	dr(FamilyInterface, "interface-p1-community-health", "Other home-based community health service arrangements still underway (Pathway 1)",
		"Pathway 1: other home-based community health services are available, their arrangements are not complete."),
	dr(FamilyInterface, "interface-housing", "Housing provision arrangement for homelessness still underway (Pathway 0 or 1)",
		"Pathway 0 or 1: housing for a patient who is homeless is being arranged."),
	dr(FamilyInterface, "interface-p2-rehab-bed", "Bed-based rehabilitation, reablement or recovery service arrangements still underway (Pathway 2)",
		"Pathway 2: a bed-based rehabilitation, reablement or recovery service is available, its arrangements are not complete."),
	dr(FamilyInterface, "interface-p3-care-home", "Residential/nursing home care arrangements still underway (Pathway 3)",
		"Pathway 3: a residential or nursing home place is available, its arrangements are not complete."),
	dr(FamilyInterface, "interface-end-of-life", "End of life care inc Fast-Track CHC arrangement still underway (Pathway 1 or 3)",
		"Pathway 1 or 3: end of life care, including NHS Continuing Healthcare Fast Track, is being arranged."),
	dr(FamilyInterface, "interface-provider-action", "Further action requested by agreed provider",
		"The provider that agreed to take the patient has asked for further action before the transfer."),
	dr(FamilyInterface, "interface-no-recourse", "Homeless with no recourse to public funds",
		"The patient is homeless and has no recourse to public funds."),
	dr(FamilyInterface, "interface-self-funded", "Self-funded care package arrangements still underway",
		"A care package the patient pays for is being arranged."),
	dr(FamilyInterface, "interface-choice", "Patient/family/carer choice discussions on package still underway",
		"Discussions with the patient, family or carer about their choice of care are not complete."),
	dr(FamilyInterface, "interface-out-of-area", "Out of area discharge arrangements requested but not completed",
		"A discharge to another area has been requested and is not yet arranged."),
	dr(FamilyCapacity, "capacity-home-care", "Home-based rehabilitation, reablement or recovery services not yet available (Pathway 1)",
		"Pathway 1: no home-based rehabilitation, reablement or recovery service is available yet."),
	dr(FamilyCapacity, "capacity-home-social-care", "Other home-based social care service not yet available (Pathway 1)",
		"Pathway 1: no other home-based social care (such as a package of care) is available yet."),
	dr(FamilyCapacity, "capacity-community-health", "Other home-based community health services not yet available (Pathway 1)",
		"Pathway 1: no other home-based community health service is available yet."),
	dr(FamilyCapacity, "capacity-housing", "Housing provision not yet available (Pathway 0 or 1)",
		"Pathway 0 or 1: no housing is available yet."),
	dr(FamilyCapacity, "capacity-rehab-bed", "Bed-based rehabilitation, reablement or recovery services not yet available (Pathway 2)",
		"Pathway 2: no bed for rehabilitation, reablement or recovery is available yet."),
	dr(FamilyCapacity, "capacity-mental-health-bed", "Mental health admitted patient care not yet available (Pathway 2)",
		"Pathway 2: no mental health inpatient bed is available yet."),
	dr(FamilyCapacity, "capacity-care-home", "Residential/nursing home care not yet available (Pathway 3)",
		"Pathway 3: no residential or nursing home place is available yet."),
	dr(FamilyCapacity, "capacity-end-of-life", "End of life care inc Fast-Track CHC not yet available (Pathway 1 or 3)",
		"Pathway 1 or 3: no end of life care, including NHS Continuing Healthcare Fast Track, is available yet."),
	dr(FamilyCapacity, "capacity-housing-adaptations", "Housing adaptations not yet completed (Pathway 1 or 3)",
		"Pathway 1 or 3: adaptations to the patient's home are not finished."),
	dr(FamilyCapacity, "capacity-equipment", "Equipment and associated training not yet delivered (Pathway 1-3)",
		"Pathways 1 to 3: equipment, and training in its use, has not been delivered."),
	dr(FamilyCapacity, "capacity-restart-care", "Awaiting restart of existing social care arrangements (Pathway 0)",
		"Pathway 0: the patient's existing social care has still to restart."),
	{FamilyGateway, Concept{"other", "Other", "A reason the national list does not name. The gateway counts it apart; the national return has no such line."}},
}

// NationalDelayReasons is how many of DelayReasons are the national
// return's; the rest (other) are the gateway's.
const NationalDelayReasons = 37

var delayReasons = func() []Concept {
	out := make([]Concept, len(delayReasonList))
	for i, r := range delayReasonList {
		out[i] = r.Concept
	}
	return out
}()

// DelayReasons lists the sitrep delay reasons in the return's order, the
// gateway's other last.
func DelayReasons() []Concept { return clone(delayReasons) }

// ValidDelayReason reports whether code is a current sitrep delay reason.
func ValidDelayReason(code string) bool { return has(delayReasons, code) }

// DelayReasonFamily returns the family of a current delay reason ("" for
// a code that is none).
func DelayReasonFamily(code string) string {
	for _, r := range delayReasonList {
		if r.Code == code {
			return r.family
		}
	}
	return ""
}

// RetiredDelayReason is a code of the gateway's first delay-reason list
// that the current list does not keep, and the current reason that
// replaces it. Exact is false where the two do not mean quite the same;
// Comment then says how they differ.
type RetiredDelayReason struct {
	Concept
	ReplacedBy string
	Exact      bool
	Comment    string
}

var retiredDelayReasons = []RetiredDelayReason{
	{Concept{"medical-decision", "Awaiting a medical decision or intervention", "Awaiting a medical decision or intervention, including writing the discharge summary."},
		"decision-to-discharge", false, "The current reason is the formal decision to discharge; writing the discharge summary is now counted under medicines-documentation."},
	{Concept{"diagnostic-test", "Awaiting a diagnostic test", "Awaiting a diagnostic test or its result."},
		"decision-to-discharge", false, "The current reason covers diagnostic test results as part of the formal decision to discharge."},
	{Concept{"medicines-tta", "Awaiting medicines to take home", "Awaiting medicines to take home (TTA)."},
		"medicines-documentation", false, "The current reason also covers the discharge letter and other discharge documentation."},
	{Concept{"therapy-decision", "Awaiting a therapy decision to discharge", "Awaiting a therapy assessment or decision to discharge."},
		"therapy-review", false, "The current reason is a therapy review of the need for supported discharge."},
	{Concept{"hub-confirmation", "Awaiting confirmation from the community hub", "Awaiting confirmation from the community hub or single point of access that the referral was received and actioned."},
		"hub-needs-pathway", false, "The current list asks what the care transfer hub has still to confirm: the immediate care needs and the pathway."},
	{Concept{"chc-assessment", "Awaiting NHS Continuing Healthcare assessment", "Awaiting an NHS Continuing Healthcare assessment or its decision."},
		"funding-eligibility", false, "The current reason covers any confirmation of funding eligibility, of which NHS Continuing Healthcare is one."},
	{Concept{"equipment-housing", "Awaiting equipment or housing adaptations", "Awaiting community equipment or adaptations to housing."},
		"capacity-equipment", false, "The current list counts equipment and housing adaptations apart; a delay for adaptations is capacity-housing-adaptations."},
	{Concept{"family-disagreement", "Not in agreement with the discharge plan", "The individual, family or carer is not in agreement with the discharge plan."},
		"patient-family-concerns", false, "The current reason is concern over discharge readiness; disagreement over a package of care is interface-choice."},
	{Concept{"housing-homeless", "Homeless or nowhere to discharge to", "Homelessness, no recourse to public funds, or no place to discharge to."},
		"interface-housing", false, "The current list counts housing being arranged, housing not available and no recourse to public funds apart."},
	{Concept{"repatriation", "Repatriation or transfer", "Awaiting repatriation or transfer to another acute trust for specialist or ongoing treatment."},
		"interface-out-of-area", false, "The current list has no repatriation reason; the nearest is an out-of-area discharge not yet arranged."},
	{Concept{"no-plan", "No plan", "No discharge plan has been made."},
		"hub-needs-pathway", false, "The current list has no 'no plan' reason; a patient with no plan waits for the hub to confirm needs and pathway."},
	{Concept{"criteria-to-reside-again", "Met the criteria to reside again", "Declared as not meeting the criteria to reside at the morning board round, then later in the day met them again, so the discharge stopped."},
		"other", false, "The current list has no such reason: a patient who meets the criteria to reside again is no longer delayed, and the trust should update the criteria to reside."},
}

// RetiredDelayReasons lists the retired codes of the gateway's first
// delay-reason list, each with its replacement.
func RetiredDelayReasons() []RetiredDelayReason {
	return append([]RetiredDelayReason(nil), retiredDelayReasons...)
}

// CurrentDelayReason returns the current reason for code: the reason that
// replaces a retired code, else code itself. Reports count a record kept
// before the list changed under the reason that replaces its code.
func CurrentDelayReason(code string) string {
	for _, r := range retiredDelayReasons {
		if r.Code == code {
			return r.ReplacedBy
		}
	}
	return code
}
