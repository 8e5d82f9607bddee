package fhir

import "github.com/dischargegateway/gateway/discharge"

// NHSNumberSystem is the identifier system of NHS numbers.
const NHSNumberSystem = "https://fhir.nhs.uk/Id/nhs-number"

// SpineErrorSystem is the UK Core / Spine code system of OperationOutcome
// detail codes such as INVALID_CHECK_DIGIT.
const SpineErrorSystem = "https://fhir.nhs.uk/CodeSystem/Spine-ErrorOrWarningCode"

// CheckNHSNumber checks the length and the modulus-11 check digit of an
// NHS number. The returned issue never contains the number itself.
func CheckNHSNumber(s string) *discharge.Issue {
	if len(s) != 10 {
		return &discharge.Issue{Kind: discharge.KindValue, Detail: "INVALID_NHS_NUMBER",
			Message: "An NHS number has exactly 10 digits."}
	}
	for i := 0; i < 10; i++ {
		if s[i] < '0' || s[i] > '9' {
			return &discharge.Issue{Kind: discharge.KindValue, Detail: "INVALID_NHS_NUMBER",
				Message: "An NHS number has exactly 10 digits."}
		}
	}
	if !discharge.ValidNHSNumber(s) {
		return &discharge.Issue{Kind: discharge.KindValue, Detail: "INVALID_CHECK_DIGIT",
			Message: "The NHS number fails the modulus 11 check."}
	}
	return nil
}
