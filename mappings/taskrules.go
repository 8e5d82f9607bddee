package mappings

import "github.com/dischargegateway/gateway/discharge"

// OfferRuleSystem codes the rule a refused Task interaction broke:
// OperationOutcome.issue.details.coding of a 409 from the referral loop
// (referral.RuleTaskMove and its siblings; docs/referrals.md).
const OfferRuleSystem = CodeSystemBase + "offer-rule"

// OfferRules lists OfferRuleSystem's codes.
func OfferRules() []discharge.Concept {
	return []discharge.Concept{
		{Code: "TASK-MOVE", Display: "Move not allowed",
			Definition: "The Task's status may not move from its current status to the one asked for, by this party (the table of legal moves in docs/referrals.md): accepting a cancelled Task, confirming a rejected one, a provider confirming."},
		{Code: "HOLD-BOOKABLE", Display: "No bookable bed",
			Definition: "Accepting would hold a bed of the named type at the named Location, and none is bookable there: its accepting-admissions count, less the holds already standing, is zero."},
		{Code: "TASK-CONTENT", Display: "Offer content changed",
			Definition: "An update changed what the offer is (its focus, patient, owner, requester, what was offered or the deadline); only the status, its reason and the output may change."},
	}
}
