package mappings

// This file holds all the gateway's knowledge of the FHIR Task elements of
// an offer (referral.Service): the documented shape, its CodeSystems and
// the two converters. The offer's shape (profile TaskProfileURL):
//
//	Task.intent                      order (required)
//	Task.status                      discharge.OfferState
//	Task.businessStatus              OfferBusinessStatusSystem (expired, hold-lapsed, …)
//	Task.statusReason                OfferRejectReasonSystem, with text for "other"
//	Task.focus                       ServiceRequest/{id} (required)
//	Task.for                         Patient/{id}
//	Task.encounter                   Encounter/{id}
//	Task.owner                       Organization/{id}: the provider (required)
//	Task.requester                   taskIdent ODSSystem|code: the trust or hub
//	Task.input[type=healthcare-service].valueReference  HealthcareService/{id} (required)
//	Task.input[type=location].valueReference            Location/{id}
//	Task.output[type=location].valueReference           Location/{id} held (on accept)
//	Task.output[type=bed-type].valueCodeableConcept      BedTypeSystem code (on accept)
//	Task.restriction.period.end      the deadline to answer
//	Task.authoredOn, Task.lastModified
//
// A stored Task is always rendered from the offer (OfferToTask): what a
// caller sends is read (TaskToRequest) for the elements above and the rest
// is not kept.

import (
	"encoding/json"
	"strconv"
	"time"

	"github.com/dischargegateway/gateway/discharge"
)

// The offer Task's canonical URLs and codes, under the gateway's own bases.
const (
	// TaskProfileURL is the documented shape of an offer Task.
	TaskProfileURL = ExtensionBase + "referral-offer"
	// OfferRejectReasonSystem is the CodeSystem of Task.statusReason
	// (discharge.RejectReasons).
	OfferRejectReasonSystem = CodeSystemBase + "offer-reject-reason"
	// OfferBusinessStatusSystem is the CodeSystem of Task.businessStatus
	// (discharge.BusinessStatus).
	OfferBusinessStatusSystem = CodeSystemBase + "offer-business-status"
	// OfferParameterSystem types Task.input and Task.output.
	OfferParameterSystem = CodeSystemBase + "offer-parameter"

	// The OfferParameterSystem codes.
	OfferParamHealthcareService = "healthcare-service"
	OfferParamLocation          = "location"
	OfferParamBedType           = "bed-type"

	// ConfirmOperation is the requester's confirmation of an accepted
	// offer: POST /fhir/Task/{id}/$confirm.
	ConfirmOperation = "confirm"
	// ReferralPackOperation is the provider's referral pack:
	// GET /fhir/Task/{id}/$referral-pack.
	ReferralPackOperation = "referral-pack"
)

// OfferBusinessStatuses lists Task.businessStatus's codes.
func OfferBusinessStatuses() []discharge.Concept {
	return []discharge.Concept{
		{Code: string(discharge.BusinessExpired), Display: "Expired", Definition: "Failed: no answer before the deadline."},
		{Code: string(discharge.BusinessHoldLapsed), Display: "Hold lapsed", Definition: "Failed: the accepted offer's bed hold ran out unconfirmed."},
		{Code: string(discharge.BusinessSuperseded), Display: "Superseded", Definition: "Cancelled: another offer of the same ServiceRequest was confirmed."},
		{Code: string(discharge.BusinessCaseClosed), Display: "Case closed", Definition: "Cancelled: the Encounter finished or was cancelled."},
		{Code: string(discharge.BusinessWithdrawn), Display: "Withdrawn", Definition: "Cancelled by the requester."},
		{Code: string(discharge.BusinessAdmitted), Display: "Admitted", Definition: "Completed: the patient was discharged to this placement."},
	}
}

// OfferParameters lists OfferParameterSystem's codes (the types of
// Task.input and Task.output).
func OfferParameters() []discharge.Concept {
	return []discharge.Concept{
		{Code: OfferParamHealthcareService, Display: "Healthcare service", Definition: "Task.input: the HealthcareService offered."},
		{Code: OfferParamLocation, Display: "Location", Definition: "Task.input: the Location offered; Task.output: the Location of the held bed."},
		{Code: OfferParamBedType, Display: "Bed type", Definition: "Task.output: the bed type held (" + BedTypeSystem + ")."},
	}
}

// TaskRequest is what a caller's Task says, by element.
type TaskRequest struct {
	ID     string
	Status discharge.OfferState
	// ServiceRequestID (focus), PatientID (for), EncounterID (encounter)
	// and Owner (owner, an Organization id) are ids; Requester is the
	// requester's ODS code.
	ServiceRequestID, PatientID, EncounterID string
	Owner, Requester                         string
	HealthcareServiceID, LocationID          string
	// Deadline is restriction.period.end; zero when absent.
	Deadline   time.Time
	Reason     discharge.RejectReason
	ReasonText string
	// HeldLocationID and BedType are the output of an acceptance.
	HeldLocationID string
	BedType        discharge.BedType
}

// taskDoc is the part of a Task the gateway reads.
type taskDoc struct {
	ResourceType   string   `json:"resourceType"`
	ID             string   `json:"id"`
	Status         *string  `json:"status"`
	Intent         *string  `json:"intent"`
	BusinessStatus *taskCC  `json:"businessStatus,omitempty"`
	StatusReason   *taskCC  `json:"statusReason,omitempty"`
	Focus          *taskRef `json:"focus,omitempty"`
	For            *taskRef `json:"for,omitempty"`
	Encounter      *taskRef `json:"encounter,omitempty"`
	Owner          *taskRef `json:"owner,omitempty"`
	Requester      *taskRef `json:"requester,omitempty"`
	Restriction    *struct {
		Period *struct {
			End *string `json:"end,omitempty"`
		} `json:"period,omitempty"`
	} `json:"restriction,omitempty"`
	Input  []taskParam `json:"input,omitempty"`
	Output []taskParam `json:"output,omitempty"`
}

type taskCoding struct {
	System  string `json:"system,omitempty"`
	Code    string `json:"code,omitempty"`
	Display string `json:"display,omitempty"`
}

type taskCC struct {
	Coding []taskCoding `json:"coding,omitempty"`
	Text   string       `json:"text,omitempty"`
}

type taskIdent struct {
	System string `json:"system,omitempty"`
	Value  string `json:"value,omitempty"`
}

type taskRef struct {
	Reference  string     `json:"reference,omitempty"`
	Identifier *taskIdent `json:"identifier,omitempty"`
}

type taskParam struct {
	Type                 taskCC   `json:"type"`
	ValueReference       *taskRef `json:"valueReference,omitempty"`
	ValueCodeableConcept *taskCC  `json:"valueCodeableConcept,omitempty"`
}

func (c *taskCC) code(system string) string {
	if c == nil {
		return ""
	}
	for _, cd := range c.Coding {
		if cd.System == system {
			return cd.Code
		}
	}
	return ""
}

func (r *taskRef) id(typ string) string {
	if r == nil || r.Reference == "" {
		return ""
	}
	id := refID(r.Reference, typ)
	if id == r.Reference {
		return "" // not a reference to typ
	}
	return id
}

func paramRef(ps []taskParam, code, typ string) (string, int) {
	for i, p := range ps {
		if p.Type.code(OfferParameterSystem) == code {
			return p.ValueReference.id(typ), i
		}
	}
	return "", -1
}

// TaskToRequest reads a caller's Task. Structure errors are KindStructure
// at "Task"; a wrong value names its element. Which elements are required
// depends on the interaction and is the referral service's rule, except
// status and intent, which FHIR requires of every Task.
func TaskToRequest(raw []byte) (TaskRequest, error) {
	const op = "mappings.TaskToRequest"
	var d taskDoc
	if err := decodeResource(raw, "Task", &d); err != nil {
		return TaskRequest{}, err
	}
	var is discharge.Issues
	r := TaskRequest{ID: d.ID}
	switch {
	case d.Status == nil || *d.Status == "":
		is.Add(discharge.KindRequired, "Task.status", "Task.status is required.")
	case !knownOfferState(discharge.OfferState(*d.Status)):
		is.Add(discharge.KindCodeInvalid, "Task.status", "Task.status "+strconv.Quote(*d.Status)+" is not a status the referral loop uses.")
	default:
		r.Status = discharge.OfferState(*d.Status)
	}
	switch {
	case d.Intent == nil || *d.Intent == "":
		is.Add(discharge.KindRequired, "Task.intent", "Task.intent is required.")
	case *d.Intent != "order":
		is.Add(discharge.KindValue, "Task.intent", "An offer's Task.intent is order.")
	}
	refs := []struct {
		r    *taskRef
		typ  string
		expr string
		dst  *string
	}{
		{d.Focus, "ServiceRequest", "Task.focus", &r.ServiceRequestID},
		{d.For, "Patient", "Task.for", &r.PatientID},
		{d.Encounter, "Encounter", "Task.encounter", &r.EncounterID},
		{d.Owner, "Organization", "Task.owner", &r.Owner},
	}
	for _, x := range refs {
		if x.r == nil {
			continue
		}
		if *x.dst = x.r.id(x.typ); *x.dst == "" {
			is.Add(discharge.KindValue, x.expr, x.expr+" must reference a "+x.typ+" as "+x.typ+"/{id}.")
		}
	}
	if d.Requester != nil {
		if d.Requester.Identifier == nil || d.Requester.Identifier.System != ODSSystem || d.Requester.Identifier.Value == "" {
			is.Add(discharge.KindValue, "Task.requester", "Task.requester names the sender by its ODS code (taskIdent "+ODSSystem+").")
		} else {
			r.Requester = d.Requester.Identifier.Value
		}
	}
	if d.Restriction != nil && d.Restriction.Period != nil && d.Restriction.Period.End != nil {
		t, err := time.Parse(time.RFC3339, *d.Restriction.Period.End)
		if err != nil {
			is.Add(discharge.KindValue, "Task.restriction.period.end", "The deadline must be a dateTime with a time zone.")
		} else {
			r.Deadline = t.UTC()
		}
	}
	var i int
	if r.HealthcareServiceID, i = paramRef(d.Input, OfferParamHealthcareService, "HealthcareService"); i >= 0 && r.HealthcareServiceID == "" {
		is.Add(discharge.KindValue, "Task.input["+strconv.Itoa(i)+"].valueReference", "The offered service is a HealthcareService/{id} reference.")
	}
	if r.LocationID, i = paramRef(d.Input, OfferParamLocation, "Location"); i >= 0 && r.LocationID == "" {
		is.Add(discharge.KindValue, "Task.input["+strconv.Itoa(i)+"].valueReference", "The offered place is a Location/{id} reference.")
	}
	if r.HeldLocationID, i = paramRef(d.Output, OfferParamLocation, "Location"); i >= 0 && r.HeldLocationID == "" {
		is.Add(discharge.KindValue, "Task.output["+strconv.Itoa(i)+"].valueReference", "The held bed's place is a Location/{id} reference.")
	}
	for i, p := range d.Output {
		if p.Type.code(OfferParameterSystem) != OfferParamBedType {
			continue
		}
		bt := discharge.BedType(p.ValueCodeableConcept.code(BedTypeSystem))
		if !bt.Valid() {
			is.Add(discharge.KindCodeInvalid, "Task.output["+strconv.Itoa(i)+"].valueCodeableConcept", "The held bed type is a code of "+BedTypeSystem+".")
			continue
		}
		r.BedType = bt
	}
	if d.StatusReason != nil {
		code := d.StatusReason.code(OfferRejectReasonSystem)
		r.ReasonText = d.StatusReason.Text
		if code != "" && !knownRejectReason(discharge.RejectReason(code)) {
			is.Add(discharge.KindCodeInvalid, "Task.statusReason", "Task.statusReason is a code of "+OfferRejectReasonSystem+".")
		}
		r.Reason = discharge.RejectReason(code)
	}
	if err := is.Err(discharge.KindInvalid, op); err != nil {
		return TaskRequest{}, err
	}
	return r, nil
}

func knownOfferState(s discharge.OfferState) bool {
	switch s {
	case discharge.OfferRequested, discharge.OfferReceived, discharge.OfferAccepted, discharge.OfferRejected,
		discharge.OfferCancelled, discharge.OfferFailed, discharge.OfferInProgress, discharge.OfferCompleted:
		return true
	}
	return false
}

func knownRejectReason(r discharge.RejectReason) bool {
	for _, c := range discharge.RejectReasons() {
		if c.Code == string(r) {
			return true
		}
	}
	return false
}

// taskOut is the Task as the gateway renders it.
type taskOut struct {
	ResourceType   string         `json:"resourceType"`
	ID             string         `json:"id"`
	Meta           map[string]any `json:"meta"`
	Status         string         `json:"status"`
	BusinessStatus *taskCC        `json:"businessStatus,omitempty"`
	StatusReason   *taskCC        `json:"statusReason,omitempty"`
	Intent         string         `json:"intent"`
	Focus          *taskRef       `json:"focus,omitempty"`
	For            *taskRef       `json:"for,omitempty"`
	Encounter      *taskRef       `json:"encounter,omitempty"`
	AuthoredOn     string         `json:"authoredOn,omitempty"`
	LastModified   string         `json:"lastModified,omitempty"`
	Requester      *taskRef       `json:"requester,omitempty"`
	Owner          *taskRef       `json:"owner,omitempty"`
	Restriction    *struct {
		Period struct {
			End string `json:"end"`
		} `json:"period"`
	} `json:"restriction,omitempty"`
	Input  []taskParam `json:"input,omitempty"`
	Output []taskParam `json:"output,omitempty"`
}

func taskReference(typ, id string) *taskRef {
	if id == "" {
		return nil
	}
	return &taskRef{Reference: typ + "/" + id}
}

func taskParamType(code string) taskCC {
	return taskCC{Coding: []taskCoding{{System: OfferParameterSystem, Code: code}}}
}

func taskInstant(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// OfferToTask renders an offer as its stored Task, with Resource.id and
// meta (versionId = o.Version, lastUpdated = o.Updated, the profile).
func OfferToTask(o discharge.Offer) ([]byte, error) {
	t := taskOut{
		ResourceType: "Task", ID: o.ID, Status: string(o.State), Intent: "order",
		Meta: map[string]any{"versionId": strconv.FormatInt(o.Version, 10), "lastUpdated": taskInstant(o.Updated),
			"profile": []string{TaskProfileURL}},
		Focus: taskReference("ServiceRequest", o.ServiceRequestID), For: taskReference("Patient", o.PatientID),
		Encounter: taskReference("Encounter", o.EncounterID), Owner: taskReference("Organization", o.Owner),
		AuthoredOn: taskInstant(o.Created), LastModified: taskInstant(o.Updated),
	}
	if o.Requester != "" {
		t.Requester = &taskRef{Identifier: &taskIdent{System: ODSSystem, Value: o.Requester}}
	}
	if o.BusinessStatus != "" {
		t.BusinessStatus = &taskCC{Coding: []taskCoding{{System: OfferBusinessStatusSystem, Code: string(o.BusinessStatus)}}}
	}
	if o.Reason != "" || o.ReasonText != "" {
		t.StatusReason = &taskCC{Text: o.ReasonText}
		if o.Reason != "" {
			t.StatusReason.Coding = []taskCoding{{System: OfferRejectReasonSystem, Code: string(o.Reason)}}
		}
	}
	if !o.Deadline.IsZero() {
		t.Restriction = &struct {
			Period struct {
				End string `json:"end"`
			} `json:"period"`
		}{}
		t.Restriction.Period.End = taskInstant(o.Deadline)
	}
	if o.HealthcareServiceID != "" {
		t.Input = append(t.Input, taskParam{Type: taskParamType(OfferParamHealthcareService), ValueReference: taskReference("HealthcareService", o.HealthcareServiceID)})
	}
	if o.LocationID != "" {
		t.Input = append(t.Input, taskParam{Type: taskParamType(OfferParamLocation), ValueReference: taskReference("Location", o.LocationID)})
	}
	if h := o.Hold; h != nil {
		t.Output = append(t.Output,
			taskParam{Type: taskParamType(OfferParamLocation), ValueReference: taskReference("Location", h.LocationID)},
			taskParam{Type: taskParamType(OfferParamBedType), ValueCodeableConcept: &taskCC{
				Coding: []taskCoding{{System: BedTypeSystem, Code: string(h.BedType)}}}})
	}
	return json.Marshal(t)
}

// OrganizationIdentifier reads the value of an Organization's (or any
// resource's) first identifier of system (Organization.identifier), ""
// when it has none.
func OrganizationIdentifier(doc map[string]any, system string) string {
	ids, _ := doc["identifier"].([]any)
	for _, x := range ids {
		m, _ := x.(map[string]any)
		if v, _ := m["value"].(string); m["system"] == system && v != "" {
			return v
		}
	}
	return ""
}

// AgeBandURL (valueString, "80-89") carries a minimised Patient's age band.
const AgeBandURL = ExtensionBase + "age-band"

// MinimisedPatient is the Patient a provider sees in a referral pack
// before it has accepted: Resource.id, the home postcode district
// (Patient.address.postalCode, outward code only) and the age band (an
// AgeBandURL extension) as of asOf; no name, identifier, birth date or
// full address.
func MinimisedPatient(raw []byte, asOf time.Time) ([]byte, error) {
	p, err := DecodePatient(raw)
	if err != nil {
		return nil, err
	}
	facts, _ := PatientToFacts(p, asOf)
	out := map[string]any{"resourceType": "Patient", "id": str(p.Id),
		"meta": map[string]any{"security": []any{map[string]any{
			"system": "http://terminology.hl7.org/CodeSystem/v3-ObservationValue", "code": "PSEUDED", "display": "pseudonymized"}}}}
	if facts.Patient.HomeOutcode != "" {
		out["address"] = []any{map[string]any{"use": "home", "postalCode": facts.Patient.HomeOutcode, "country": "GB"}}
	}
	if facts.Patient.AgeBand != "" {
		out["extension"] = []any{map[string]any{"url": AgeBandURL, "valueString": facts.Patient.AgeBand}}
	}
	return json.Marshal(out)
}

// MinimisedEncounter is the Encounter in a referral pack: Resource.id,
// status, class and subject, and of its extensions only the discharge
// pathway, the expected discharge date and the Discharge Ready Date. The
// rest (the reason, the ward, diagnoses) stays in the record. subject is
// kept because the gateway requires it of every Encounter it validates
// (fhir.Validate); it discloses nothing new, the pack's Task names the
// same Patient in Task.for.
func MinimisedEncounter(raw []byte) ([]byte, error) {
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil || doc["resourceType"] != "Encounter" {
		return nil, discharge.E(discharge.KindStructure, "Encounter", "expected an Encounter resource")
	}
	out := map[string]any{"resourceType": "Encounter"}
	for _, k := range []string{"id", "status", "class", "subject"} {
		if v, ok := doc[k]; ok {
			out[k] = v
		}
	}
	var ext []any
	exts, _ := doc["extension"].([]any)
	for _, e := range exts {
		m, _ := e.(map[string]any)
		switch m["url"] {
		case PathwayExtensionURL, EDDExtensionURL, DischargeReadyDateURL:
			ext = append(ext, m)
		}
	}
	if ext != nil {
		out["extension"] = ext
	}
	return json.Marshal(out)
}

// PackServiceRequest is the ServiceRequest as a provider's referral pack
// shows it: as stored, without the providers the trust excluded
// (ExcludedProviderURL), which say which other providers the trust chose
// not to offer the patient to and are no business of the one offered.
func PackServiceRequest(raw []byte) ([]byte, error) {
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil || doc["resourceType"] != "ServiceRequest" {
		return nil, discharge.E(discharge.KindStructure, "ServiceRequest", "expected a ServiceRequest resource")
	}
	exts, _ := doc["extension"].([]any)
	kept := exts[:0:0]
	for _, e := range exts {
		if m, _ := e.(map[string]any); m["url"] == ExcludedProviderURL {
			continue
		}
		kept = append(kept, e)
	}
	if len(kept) == len(exts) {
		return raw, nil
	}
	if len(kept) == 0 {
		delete(doc, "extension")
	} else {
		doc["extension"] = kept
	}
	return json.Marshal(doc)
}
