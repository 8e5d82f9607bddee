package mappings

import "github.com/dischargegateway/gateway/discharge"

// The referral loop's conformance resources: the Task profile and the code
// systems of an offer's statusReason and businessStatus
// (docs/referrals.md; the profile is configs/profiles/).
const (
	// TaskProfileURL is the canonical URL of the referral offer profile of
	// Task (configs/profiles/StructureDefinition-referral-offer.json).
	TaskProfileURL = ExtensionBase + "referral-offer"
	// RejectReasonSystem codes why a provider declined an offer:
	// Task.statusReason.coding of a rejected Task.
	RejectReasonSystem = CodeSystemBase + "offer-reject-reason"
	// OfferBusinessStatusSystem refines an offer's status:
	// Task.businessStatus.coding (expired, superseded, admitted, ...).
	OfferBusinessStatusSystem = CodeSystemBase + "offer-business-status"
)

// OfferBusinessStatuses lists the business statuses of an offer with
// display and definition, each naming the Task.status it refines.
func OfferBusinessStatuses() []discharge.Concept {
	return []discharge.Concept{
		{Code: string(discharge.BusinessExpired), Display: "Expired",
			Definition: "Task.status failed: the provider did not answer before Task.restriction.period.end."},
		{Code: string(discharge.BusinessHoldLapsed), Display: "Hold lapsed",
			Definition: "Task.status failed: the provider accepted, but the requester did not confirm before the bed hold ran out; the bed was released."},
		{Code: string(discharge.BusinessSuperseded), Display: "Superseded",
			Definition: "Task.status cancelled: the requester confirmed another offer for the same ServiceRequest; any hold was released."},
		{Code: string(discharge.BusinessCaseClosed), Display: "Case closed",
			Definition: "Task.status cancelled: the trust's Encounter was finished or cancelled; any hold was released."},
		{Code: string(discharge.BusinessWithdrawn), Display: "Withdrawn",
			Definition: "Task.status cancelled: the requester withdrew the offer; any hold was released."},
		{Code: string(discharge.BusinessAdmitted), Display: "Admitted",
			Definition: "Task.status completed: the patient was discharged to this placement; the hold became the admission."},
	}
}
