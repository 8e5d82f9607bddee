package mappings

import "github.com/dischargegateway/gateway/discharge"

// OfferParameters lists the codes of OfferParameterSystem, which type an
// offer Task's input and output (task.go), for the published CodeSystem.
func OfferParameters() []discharge.Concept {
	return []discharge.Concept{
		{Code: OfferParamHealthcareService, Display: "Healthcare service",
			Definition: "Task.input: the HealthcareService offered (valueReference), required when the offer is sent."},
		{Code: OfferParamLocation, Display: "Location",
			Definition: "Task.input: the Location offered (valueReference), optional; Task.output: the Location of the held bed, named on acceptance."},
		{Code: OfferParamBedType, Display: "Bed type",
			Definition: "Task.output: the bed type held (valueCodeableConcept of the bed-type CodeSystem), named on acceptance."},
	}
}
