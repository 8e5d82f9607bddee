package mappings

import (
	"encoding/json"
	"strconv"
	"time"

	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/fhir"
)

// The FHIR view of a discharge case (Encounter/{id}/$discharge-case,
// docs/cases.md): its timeline as Provenance resources and its measures as
// a MeasureReport, in a collection Bundle.
const (
	// CaseEventKindSystem codes what a timeline event was:
	// Provenance.activity.
	CaseEventKindSystem = CodeSystemBase + "case-event-kind"
	// CaseStateSystem codes the case's state after an event (the
	// case-state extension of a Provenance, and of the MeasureReport).
	CaseStateSystem = CodeSystemBase + "case-state"
	// CaseMeasureSystem codes the case measures: MeasureReport.group.code.
	CaseMeasureSystem = CodeSystemBase + "case-measure"
	// CaseMeasureURL is the Measure the case's MeasureReport reports.
	CaseMeasureURL = "https://fhir.discharge-gateway.example/Measure/discharge-case"
	// CaseStateExtension carries a case state (valueCoding, CaseStateSystem).
	CaseStateExtension = ExtensionBase + "case-state"
	// CaseEventDetailExtension carries an event's detail (valueString): a
	// reject reason code, the bed type held, a business status.
	CaseEventDetailExtension = ExtensionBase + "case-event-detail"
)

// CaseEventKinds are the kinds of a case's timeline events (the codes of
// referral.EventKind, which a referral test keeps equal to these).
func CaseEventKinds() []discharge.Concept {
	return []discharge.Concept{
		{Code: "referred", Display: "Referred", Definition: "The case first reached the gateway (its Encounter was stored)."},
		{Code: "shortlisted", Display: "Shortlisted", Definition: "Placement options were answered for the case's request."},
		{Code: "offer-sent", Display: "Offer sent", Definition: "A referral offer (Task) was sent to a provider."},
		{Code: "offer-received", Display: "Offer received", Definition: "The provider marked the offer received."},
		{Code: "offer-accepted", Display: "Offer accepted", Definition: "The provider accepted the offer and holds a bed."},
		{Code: "offer-rejected", Display: "Offer rejected", Definition: "The provider declined the offer, with a reason code."},
		{Code: "offer-expired", Display: "Offer expired", Definition: "The offer was unanswered past its deadline."},
		{Code: "hold-lapsed", Display: "Hold lapsed", Definition: "An accepted offer's bed hold ran out unconfirmed."},
		{Code: "offer-cancelled", Display: "Offer cancelled", Definition: "The offer was withdrawn (by the requester, another offer's confirmation, or the case's closure)."},
		{Code: "confirmed", Display: "Confirmed", Definition: "The requester confirmed one accepted offer; its hold became the admission."},
		{Code: "discharged", Display: "Discharged", Definition: "The Encounter finished."},
		{Code: "triage", Display: "Triage decision", Definition: "The hub recorded its triage decision (pathway, destination, level of care)."},
		{Code: "case-cancelled", Display: "Case cancelled", Definition: "The Encounter was cancelled or entered in error."},
	}
}

// CaseStates are the states of a case (referral.CaseState).
func CaseStates() []discharge.Concept {
	return []discharge.Concept{
		{Code: "referred", Display: "Referred", Definition: "The case reached the gateway; no options yet."},
		{Code: "shortlisted", Display: "Shortlisted", Definition: "Placement options were answered; no open offer."},
		{Code: "offers-sent", Display: "Offers sent", Definition: "At least one offer awaits an answer."},
		{Code: "accepted", Display: "Accepted", Definition: "A provider accepted and holds a bed."},
		{Code: "confirmed", Display: "Confirmed", Definition: "The requester confirmed one accepted offer."},
		{Code: "discharged", Display: "Discharged", Definition: "The trust finished the Encounter."},
		{Code: "cancelled", Display: "Cancelled", Definition: "The Encounter was cancelled or entered in error."},
	}
}

// The case measures, in CaseMeasures order.
const (
	MeasureDRDToShortlist    = "drd-to-first-shortlist"
	MeasureDRDToAcceptance   = "drd-to-first-acceptance"
	MeasureDRDToConfirmation = "drd-to-confirmation"
	MeasureDRDToDischarge    = "drd-to-discharge"
	MeasureNCTRDays          = "nctr-days"
)

// CaseMeasures are the case measures (discharge.CaseMeasures).
func CaseMeasures() []discharge.Concept {
	const from = "Seconds from the start (00:00 UTC) of the Discharge Ready Date to "
	return []discharge.Concept{
		{Code: MeasureDRDToShortlist, Display: "Discharge Ready Date to first shortlist", Definition: from + "the first shortlist (negative when made in anticipation)."},
		{Code: MeasureDRDToAcceptance, Display: "Discharge Ready Date to first acceptance", Definition: from + "the first accepted offer."},
		{Code: MeasureDRDToConfirmation, Display: "Discharge Ready Date to confirmation", Definition: from + "the confirmation of a placement."},
		{Code: MeasureDRDToDischarge, Display: "Discharge Ready Date to discharge", Definition: from + "the discharge."},
		{Code: MeasureNCTRDays, Display: "Days not meeting the criteria to reside", Definition: "Whole days since the patient stopped meeting the criteria to reside, until discharge or now."},
	}
}

// CaseEvent is one timeline event as the FHIR view shows it.
type CaseEvent struct {
	Seq             int64
	At              time.Time
	Kind, State     string
	Actor, ActorOrg string // client id ("system" for the gateway), its organisation
	TaskID, Detail  string
	ProviderOrg     string
}

// CaseView is what the FHIR view of a case shows.
type CaseView struct {
	EncounterID string
	State       string
	StateAt     time.Time
	Events      []CaseEvent
	Measures    discharge.CaseMeasures
	// Referred starts the MeasureReport's period; Now ends it and dates it.
	Referred, Now time.Time
}

// CaseBundle renders a case as a collection Bundle: one Provenance per
// timeline event, in order, then one MeasureReport of the case measures.
// The Encounter and the Tasks are referenced, not copied: each is read
// where it lives (GET /fhir/Encounter/{id}, /fhir/Task/{id}), under its own
// access rules.
func CaseBundle(v CaseView) []byte {
	enc := "Encounter/" + v.EncounterID
	var entries []fhir.BundleEntryOut
	for _, e := range v.Events {
		entries = append(entries, fhir.BundleEntryOut{Resource: caseProvenance(enc, e)})
	}
	entries = append(entries, fhir.BundleEntryOut{Resource: caseMeasureReport(v, enc)})
	return fhir.MarshalBundle("collection", nil, nil, entries)
}

func coding(system, code string) map[string]any {
	return map[string]any{"system": system, "code": code}
}

func instant(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// caseProvenance is one event: Provenance.target the Task it concerns (the
// Encounter when none), recorded when, activity its kind, agent who
// (Provenance.agent.who.identifier the organisation's ODS code, display the
// client id), the case's state after it and its detail as extensions.
func caseProvenance(enc string, e CaseEvent) json.RawMessage {
	target := enc
	if e.TaskID != "" {
		target = "Task/" + e.TaskID
	}
	who := map[string]any{"display": e.Actor}
	if e.ActorOrg != "" {
		who["identifier"] = map[string]any{"system": ODSSystem, "value": e.ActorOrg}
	}
	ext := []any{map[string]any{"url": CaseStateExtension, "valueCoding": coding(CaseStateSystem, e.State)}}
	if e.Detail != "" {
		ext = append(ext, map[string]any{"url": CaseEventDetailExtension, "valueString": e.Detail})
	}
	p := map[string]any{
		"resourceType": "Provenance", "id": "event-" + strconv.FormatInt(e.Seq, 10),
		"extension": ext,
		"target":    []any{map[string]any{"reference": target}},
		"recorded":  instant(e.At),
		"activity":  map[string]any{"coding": []any{coding(CaseEventKindSystem, e.Kind)}},
		"agent":     []any{map[string]any{"who": who}},
	}
	if target != enc {
		p["entity"] = []any{map[string]any{"role": "source", "what": map[string]any{"reference": enc}}}
	}
	b, _ := json.Marshal(p)
	return b
}

// caseMeasureReport is the case's measures: an individual MeasureReport of
// CaseMeasureURL, one group per measure, a measureScore for each measure
// the case has reached (seconds, as GET /api/v1/cases/{id} gives them, or
// days for NCTR days). The Encounter is
// its evaluatedResource (MeasureReport.subject cannot be an Encounter).
func caseMeasureReport(v CaseView, enc string) json.RawMessage {
	seconds := func(d *time.Duration) map[string]any {
		if d == nil {
			return nil
		}
		return map[string]any{"value": int64(d.Seconds()), "unit": "s", "system": UCUMSystem, "code": "s"}
	}
	scores := map[string]map[string]any{
		MeasureDRDToShortlist: seconds(v.Measures.DRDToShortlist), MeasureDRDToAcceptance: seconds(v.Measures.DRDToAcceptance),
		MeasureDRDToConfirmation: seconds(v.Measures.DRDToConfirmation), MeasureDRDToDischarge: seconds(v.Measures.DRDToDischarge),
	}
	if n := v.Measures.NCTRDays; n != nil {
		scores[MeasureNCTRDays] = map[string]any{"value": *n, "unit": "d", "system": UCUMSystem, "code": "d"}
	}
	var groups []any
	for _, m := range CaseMeasures() {
		g := map[string]any{"code": map[string]any{"coding": []any{coding(CaseMeasureSystem, m.Code)}}}
		if s := scores[m.Code]; s != nil {
			g["measureScore"] = s
		}
		groups = append(groups, g)
	}
	start := v.Referred
	if start.IsZero() || start.After(v.Now) {
		start = v.Now
	}
	mr := map[string]any{
		"resourceType": "MeasureReport", "id": "measures",
		"extension": []any{map[string]any{"url": CaseStateExtension, "valueCoding": coding(CaseStateSystem, v.State)}},
		"status":    "complete", "type": "individual", "measure": CaseMeasureURL,
		"date":              instant(v.Now),
		"period":            map[string]any{"start": instant(start), "end": instant(v.Now)},
		"group":             groups,
		"evaluatedResource": []any{map[string]any{"reference": enc}},
	}
	b, _ := json.Marshal(mr)
	return b
}

// CaseMeasure is the Measure the case MeasureReports report.
func CaseMeasure() []byte {
	var groups []any
	for _, m := range CaseMeasures() {
		groups = append(groups, map[string]any{"code": map[string]any{"coding": []any{coding(CaseMeasureSystem, m.Code)}},
			"description": m.Definition})
	}
	b, _ := json.Marshal(map[string]any{"resourceType": "Measure", "id": "discharge-case", "url": CaseMeasureURL,
		"name": "DischargeCase", "title": "Discharge case measures", "status": "active",
		"description": "How long a discharge case took from the patient's Discharge Ready Date to each step of the referral loop " +
			"(first shortlist, first acceptance, confirmation, discharge), in seconds, and the days the patient has not met the " +
			"criteria to reside. One individual MeasureReport per case (Encounter/{id}/$discharge-case); a step not reached has " +
			"no measureScore.",
		"scoring": map[string]any{"coding": []any{coding("http://terminology.hl7.org/CodeSystem/measure-scoring", "continuous-variable")}},
		"group":   groups})
	return b
}
