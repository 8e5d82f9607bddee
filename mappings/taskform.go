package mappings

import (
	"encoding/json"
)

// taskForm is the Task a person's form sends: only the elements the
// referral loop reads (TaskToRequest), no id or meta.
type taskForm struct {
	ResourceType string      `json:"resourceType"`
	Status       string      `json:"status"`
	Intent       string      `json:"intent"`
	StatusReason *taskCC     `json:"statusReason,omitempty"`
	Focus        *taskRef    `json:"focus,omitempty"`
	For          *taskRef    `json:"for,omitempty"`
	Encounter    *taskRef    `json:"encounter,omitempty"`
	Owner        *taskRef    `json:"owner,omitempty"`
	Input        []taskParam `json:"input,omitempty"`
	Output       []taskParam `json:"output,omitempty"`
}

// RequestToTask renders a TaskRequest as the Task body the referral loop
// reads (TaskToRequest's inverse, for the dashboard's forms): status,
// intent order, focus, for, encounter, owner, the offered
// HealthcareService and Location (Task.input), the held bed's Location and
// bed type (Task.output) and the reject reason (Task.statusReason). The
// deadline and requester are left to the referral loop's defaults.
func RequestToTask(r TaskRequest) ([]byte, error) {
	t := taskForm{ResourceType: "Task", Status: string(r.Status), Intent: "order",
		Focus: taskReference("ServiceRequest", r.ServiceRequestID), For: taskReference("Patient", r.PatientID),
		Encounter: taskReference("Encounter", r.EncounterID), Owner: taskReference("Organization", r.Owner)}
	if r.HealthcareServiceID != "" {
		t.Input = append(t.Input, taskParam{Type: taskParamType(OfferParamHealthcareService), ValueReference: taskReference("HealthcareService", r.HealthcareServiceID)})
	}
	if r.LocationID != "" {
		t.Input = append(t.Input, taskParam{Type: taskParamType(OfferParamLocation), ValueReference: taskReference("Location", r.LocationID)})
	}
	if r.HeldLocationID != "" {
		t.Output = append(t.Output, taskParam{Type: taskParamType(OfferParamLocation), ValueReference: taskReference("Location", r.HeldLocationID)})
	}
	if r.BedType != "" {
		t.Output = append(t.Output, taskParam{Type: taskParamType(OfferParamBedType), ValueCodeableConcept: &taskCC{
			Coding: []taskCoding{{System: BedTypeSystem, Code: string(r.BedType)}}}})
	}
	if r.Reason != "" || r.ReasonText != "" {
		t.StatusReason = &taskCC{Text: r.ReasonText}
		if r.Reason != "" {
			t.StatusReason.Coding = []taskCoding{{System: OfferRejectReasonSystem, Code: string(r.Reason)}}
		}
	}
	return json.Marshal(t)
}
