package gateway

import (
	"time"

	"github.com/dischargegateway/gateway/cases"
	"github.com/dischargegateway/gateway/discharge"
)

// The JSON of GET /api/v1/cases/{id} (described in openapi.json) and its
// converters: the discharge case and care needs as the API shows them.

// wireCase is a discharge case.
type wireCase struct {
	ID                    string                         `json:"id"`
	Trust                 string                         `json:"trust,omitempty"`
	Patient               wirePatient                    `json:"patient"`
	AdmissionDate         *discharge.Date                `json:"admissionDate,omitempty"`
	Ward                  string                         `json:"ward,omitempty"`
	ExpectedDischargeDate *discharge.Date                `json:"expectedDischargeDate,omitempty"`
	DischargeReadyDate    *discharge.Date                `json:"dischargeReadyDate,omitempty"`
	CriteriaToReside      *wireCriteriaToReside          `json:"criteriaToReside,omitempty"`
	Pathway               *discharge.Pathway             `json:"pathway,omitempty"`
	DelayReasons          []string                       `json:"delayReasons,omitempty"`
	DischargeDestination  discharge.DischargeDestination `json:"dischargeDestination,omitempty"`
	LegalStatus           string                         `json:"legalStatus,omitempty"`
	Status                string                         `json:"status"`
	NoUKPosition          bool                           `json:"noUKPosition,omitempty"`
}

// wirePatient is what a case shows of the patient: no name, no date of
// birth.
type wirePatient struct {
	NHSNumber    string `json:"nhsNumber,omitempty"`
	AgeBand      string `json:"ageBand,omitempty"`
	HomePostcode string `json:"homePostcode,omitempty"`
	HomeOutcode  string `json:"homeOutcode,omitempty"`
}

// wireCriteriaToReside says whether the patient still meets the criteria
// to reside, and since when.
type wireCriteriaToReside struct {
	Met   *bool           `json:"met,omitempty"`
	Since *discharge.Date `json:"since,omitempty"`
}

// wireCareNeed is one care need of a case.
type wireCareNeed struct {
	ID                 string                  `json:"id"`
	CaseID             string                  `json:"caseId,omitempty"`
	Setting            discharge.CareSetting   `json:"setting"`
	HoursPerWeek       *float64                `json:"hoursPerWeek,omitempty"`
	Requirements       []discharge.Requirement `json:"requirements,omitempty"`
	Funding            discharge.Funding       `json:"funding,omitempty"`
	SearchArea         *wireSearchArea         `json:"searchArea,omitempty"`
	StartDate          *discharge.Date         `json:"startDate,omitempty"`
	PreferredProviders []string                `json:"preferredProviders,omitempty"`
	ExcludedProviders  []string                `json:"excludedProviders,omitempty"`
	Priority           discharge.Priority      `json:"priority"`
	Status             string                  `json:"status"`
}

// wireSearchArea is where to look for providers.
type wireSearchArea struct {
	Outcode   string   `json:"outcode"`
	Latitude  *float64 `json:"latitude,omitempty"`
	Longitude *float64 `json:"longitude,omitempty"`
}

// toWireCase converts a case; nil stays nil (no case could be mapped).
func toWireCase(c *discharge.Case) *wireCase {
	if c == nil {
		return nil
	}
	pat := c.Patient
	out := &wireCase{ID: c.ID, Trust: c.Trust,
		Patient:       wirePatient{NHSNumber: pat.NHSNumber, AgeBand: pat.AgeBand, HomePostcode: pat.HomePostcode, HomeOutcode: pat.HomeOutcode},
		AdmissionDate: c.AdmissionDate, Ward: c.Ward,
		ExpectedDischargeDate: c.ExpectedDischargeDate, DischargeReadyDate: c.DischargeReadyDate, Pathway: c.Pathway,
		DelayReasons: c.DelayReasons, DischargeDestination: c.DischargeDestination, LegalStatus: c.LegalStatus,
		Status: c.Status, NoUKPosition: c.NoUKPosition}
	if r := c.CriteriaToReside; r != nil {
		out.CriteriaToReside = &wireCriteriaToReside{Met: r.Met, Since: r.Since}
	}
	return out
}

// toWireCareNeed converts a care need.
func toWireCareNeed(n *discharge.CareNeed) *wireCareNeed {
	out := &wireCareNeed{ID: n.ID, CaseID: n.CaseID, Setting: n.Setting, HoursPerWeek: n.HoursPerWeek,
		Requirements: n.Requirements, Funding: n.Funding, StartDate: n.StartDate,
		PreferredProviders: n.PreferredProviders, ExcludedProviders: n.ExcludedProviders, Priority: n.Priority, Status: n.Status}
	if a := n.SearchArea; a != nil {
		out.SearchArea = &wireSearchArea{Outcode: a.Outcode, Latitude: a.Latitude, Longitude: a.Longitude}
	}
	return out
}

// caseView is the JSON body of GET /api/v1/cases/{id}: the discharge case
// mapped from the Encounter (and its Patient), the care needs mapped from
// its ServiceRequests, every mapping warning with the resource it
// concerns; and the referral loop's view of it: the state, the timeline,
// the offers, the measures, the escalation and the hub's triage decision.
type caseView struct {
	ID         string          `json:"id"`
	Encounter  string          `json:"encounter"`
	Version    int64           `json:"encounterVersion"`
	Case       *wireCase       `json:"case"`
	CareNeeds  []*wireCareNeed `json:"careNeeds"`
	Warnings   []caseWarning   `json:"warnings"`
	State      string          `json:"state"`
	StateSince time.Time       `json:"stateSince"`
	Timeline   []wireEvent     `json:"timeline"`
	Offers     []wireOffer     `json:"offers"`
	Measures   wireMeasures    `json:"measures"`
	Escalation []string        `json:"escalation"`
	Triage     *wireTriage     `json:"triage,omitempty"`
	// DelayHistory is the case's delay reasons as they changed (the
	// sitrep's delay_history, docs/sitrep.md), oldest first.
	DelayHistory []wireDelaySpell `json:"delayHistory"`
}

// wireDelaySpell is one delay reason with when it was set and replaced
// (to is absent while it still holds).
type wireDelaySpell struct {
	Reason string     `json:"reason"`
	From   time.Time  `json:"from"`
	To     *time.Time `json:"to,omitempty"`
}

// toWireDelayHistory converts a delay history; never null.
func toWireDelayHistory(h []discharge.DelaySpell) []wireDelaySpell {
	out := make([]wireDelaySpell, len(h))
	for i, sp := range h {
		out[i] = wireDelaySpell{Reason: sp.Reason, From: sp.From.UTC()}
		if !sp.To.IsZero() {
			to := sp.To.UTC()
			out[i].To = &to
		}
	}
	return out
}

type caseWarning struct {
	Resource   string `json:"resource"`
	Expression string `json:"expression,omitempty"`
	Message    string `json:"message"`
}

// wireEvent is one step of a case's timeline.
type wireEvent struct {
	Seq         int64     `json:"seq"`
	At          time.Time `json:"at"`
	Kind        string    `json:"kind"`
	State       string    `json:"state"`
	Actor       string    `json:"actor,omitempty"`
	ActorOrg    string    `json:"actorOrg,omitempty"`
	Task        string    `json:"task,omitempty"`
	ProviderOrg string    `json:"providerOrg,omitempty"`
	Detail      string    `json:"detail,omitempty"`
}

// wireOffer is one offer (FHIR Task) of a case.
type wireOffer struct {
	Task              string     `json:"task"`
	Owner             string     `json:"owner,omitempty"`
	OwnerOrg          string     `json:"ownerOrg"`
	Requester         string     `json:"requester"`
	ServiceRequest    string     `json:"serviceRequest,omitempty"`
	Location          string     `json:"location,omitempty"`
	HealthcareService string     `json:"healthcareService,omitempty"`
	Status            string     `json:"status"`
	BusinessStatus    string     `json:"businessStatus,omitempty"`
	Deadline          *time.Time `json:"deadline,omitempty"`
	Created           time.Time  `json:"created"`
	Updated           time.Time  `json:"updated"`
	Hold              *wireHold  `json:"hold,omitempty"`
}

// wireHold is the bed held for an accepted offer.
type wireHold struct {
	ID       string    `json:"id"`
	Location string    `json:"location"`
	BedType  string    `json:"bedType"`
	State    string    `json:"state"`
	Expires  time.Time `json:"expires"`
}

// wireMeasures are one case's measures: durations in whole seconds from
// the start of the Discharge Ready Date (null when not reached, or no
// DRD), and the days not meeting the criteria to reside.
type wireMeasures struct {
	DRDToShortlist    *int64 `json:"drdToShortlistSeconds"`
	DRDToAcceptance   *int64 `json:"drdToAcceptanceSeconds"`
	DRDToConfirmation *int64 `json:"drdToConfirmationSeconds"`
	DRDToDischarge    *int64 `json:"drdToDischargeSeconds"`
	NCTRDays          *int   `json:"nctrDays"`
}

// wireTriage is the hub's triage decision as recorded.
type wireTriage struct {
	wireTriageDecision
	At       time.Time `json:"at"`
	Actor    string    `json:"actor"`
	ActorOrg string    `json:"actorOrg"`
}

// wireTriageDecision is the body of POST /api/v1/cases/{id}/triage.
type wireTriageDecision struct {
	Pathway     string `json:"pathway"`
	Destination string `json:"destination"`
	LevelOfCare string `json:"levelOfCare"`
}

func fromWireTriage(in wireTriageDecision) cases.TriageDecision {
	return cases.TriageDecision{Pathway: in.Pathway, Destination: in.Destination, LevelOfCare: in.LevelOfCare}
}

// toCaseView converts a case view.
func toCaseView(id string, v cases.View) caseView {
	out := caseView{ID: id, Encounter: v.Encounter, Version: v.Version, Case: toWireCase(v.Case.Case),
		CareNeeds: make([]*wireCareNeed, len(v.CareNeeds)), Warnings: make([]caseWarning, len(v.Warnings)),
		State: string(v.State), StateSince: v.StateAt.UTC(), Timeline: make([]wireEvent, len(v.Timeline)),
		Offers: make([]wireOffer, len(v.Offers)), Measures: toWireMeasures(v.Measures), Escalation: nonNil(v.Escalation)}
	for i, n := range v.CareNeeds {
		out.CareNeeds[i] = toWireCareNeed(n)
	}
	for i, w := range v.Warnings {
		out.Warnings[i] = caseWarning{Resource: w.Resource, Expression: w.Expression, Message: w.Message}
	}
	for i, e := range v.Timeline {
		out.Timeline[i] = wireEvent{Seq: e.Seq, At: e.At.UTC(), Kind: string(e.Kind), State: string(e.State), Actor: e.Actor,
			ActorOrg: e.ActorOrg, Task: e.TaskID, ProviderOrg: e.ProviderOrg, Detail: e.Detail}
	}
	for i, o := range v.Offers {
		out.Offers[i] = toWireOffer(o)
	}
	if t := v.Triage; t != nil {
		out.Triage = &wireTriage{wireTriageDecision: wireTriageDecision{Pathway: t.Pathway, Destination: t.Destination, LevelOfCare: t.LevelOfCare},
			At: t.At.UTC(), Actor: t.Actor, ActorOrg: t.ActorOrg}
	}
	return out
}

// toWireOffer converts an offer.
func toWireOffer(o discharge.Offer) wireOffer {
	out := wireOffer{Task: o.ID, Owner: o.Owner, OwnerOrg: o.OwnerOrg, Requester: o.Requester, ServiceRequest: o.ServiceRequestID,
		Location: o.LocationID, HealthcareService: o.HealthcareServiceID, Status: string(o.State), BusinessStatus: string(o.BusinessStatus),
		Created: o.Created.UTC(), Updated: o.Updated.UTC()}
	if !o.Deadline.IsZero() {
		d := o.Deadline.UTC()
		out.Deadline = &d
	}
	if h := o.Hold; h != nil {
		out.Hold = &wireHold{ID: h.ID, Location: h.LocationID, BedType: string(h.BedType), State: string(h.State), Expires: h.Expires.UTC()}
	}
	return out
}

// toWireMeasures converts a case's measures.
func toWireMeasures(m discharge.CaseMeasures) wireMeasures {
	return wireMeasures{DRDToShortlist: seconds(m.DRDToShortlist), DRDToAcceptance: seconds(m.DRDToAcceptance),
		DRDToConfirmation: seconds(m.DRDToConfirmation), DRDToDischarge: seconds(m.DRDToDischarge), NCTRDays: m.NCTRDays}
}

// seconds is a duration in whole seconds; nil stays nil.
func seconds(d *time.Duration) *int64 {
	if d == nil {
		return nil
	}
	s := int64(*d / time.Second)
	return &s
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// wireWorklist is the body of GET /api/v1/cases.
type wireWorklist struct {
	// Total counts every matching case, not only this page's.
	Total  int                `json:"total"`
	Offset int                `json:"offset"`
	Count  int                `json:"count"`
	Items  []wireWorklistItem `json:"items"`
}

// wireWorklistItem is one case of the worklist.
type wireWorklistItem struct {
	ID                    string          `json:"id"`
	Trust                 string          `json:"trust"`
	State                 string          `json:"state"`
	Pathway               string          `json:"pathway,omitempty"`
	DischargeReadyDate    *discharge.Date `json:"dischargeReadyDate,omitempty"`
	ExpectedDischargeDate *discharge.Date `json:"expectedDischargeDate,omitempty"`
	NCTRDays              *int            `json:"nctrDays"`
	Updated               time.Time       `json:"updated"`
	FirstOfferSent        *time.Time      `json:"firstOfferSent,omitempty"`
	Escalation            []string        `json:"escalation"`
}

// toWireWorklist converts a worklist page.
func toWireWorklist(p cases.WorklistPage) wireWorklist {
	out := wireWorklist{Total: p.Total, Offset: p.Offset, Count: p.Count, Items: make([]wireWorklistItem, len(p.Items))}
	for i, it := range p.Items {
		w := wireWorklistItem{ID: it.CaseID, Trust: it.Partition, State: string(it.State), Pathway: it.Pathway,
			DischargeReadyDate: it.DRD, ExpectedDischargeDate: it.EDD, NCTRDays: it.NCTRDays, Updated: it.Updated.UTC(),
			Escalation: nonNil(it.Escalation)}
		if !it.FirstOfferSent.IsZero() {
			t := it.FirstOfferSent.UTC()
			w.FirstOfferSent = &t
		}
		out.Items[i] = w
	}
	return out
}

// wireMeasuresReport is the body of GET /api/v1/measures.
type wireMeasuresReport struct {
	Since           time.Time           `json:"since"`
	AcceptanceSince time.Time           `json:"acceptanceSince"`
	Trusts          []wireTrustMeasures `json:"trusts"`
	Providers       []wireProviderMeas  `json:"providers"`
}

// wireDurations aggregates one measure: how many cases reached it, the
// median and the 90th percentile (nearest rank), in seconds.
type wireDurations struct {
	Count  int    `json:"count"`
	Median *int64 `json:"medianSeconds"`
	P90    *int64 `json:"p90Seconds"`
}

// wireDaysSummary aggregates NCTR days.
type wireDaysSummary struct {
	Count  int  `json:"count"`
	Median *int `json:"median"`
	P90    *int `json:"p90"`
}

// wireSummaries are a group's measures.
type wireSummaries struct {
	Cases             int             `json:"cases"`
	DRDToShortlist    wireDurations   `json:"drdToShortlist"`
	DRDToAcceptance   wireDurations   `json:"drdToAcceptance"`
	DRDToConfirmation wireDurations   `json:"drdToConfirmation"`
	DRDToDischarge    wireDurations   `json:"drdToDischarge"`
	NCTRDays          wireDaysSummary `json:"nctrDays"`
}

type wireTrustMeasures struct {
	Trust string `json:"trust"`
	wireSummaries
}

type wireProviderMeas struct {
	Provider string `json:"provider"`
	wireSummaries
	Offers         int           `json:"offers"`
	Answered       int           `json:"answered"`
	Accepted       int           `json:"accepted"`
	AcceptanceRate *float64      `json:"acceptanceRate"`
	TimeToAnswer   wireDurations `json:"timeToAnswer"`
}

func toWireDurations(s discharge.DurationSummary) wireDurations {
	return wireDurations{Count: s.Count, Median: seconds(s.Median), P90: seconds(s.P90)}
}

func toWireSummaries(s cases.Summary) wireSummaries {
	return wireSummaries{Cases: s.Cases, DRDToShortlist: toWireDurations(s.DRDToShortlist), DRDToAcceptance: toWireDurations(s.DRDToAcceptance),
		DRDToConfirmation: toWireDurations(s.DRDToConfirmation), DRDToDischarge: toWireDurations(s.DRDToDischarge),
		NCTRDays: wireDaysSummary{Count: s.NCTRDays.Count, Median: s.NCTRDays.Median, P90: s.NCTRDays.P90}}
}

// toWireMeasuresReport converts the aggregated measures.
func toWireMeasuresReport(m cases.Measures) wireMeasuresReport {
	out := wireMeasuresReport{Since: m.Since.UTC(), AcceptanceSince: m.AcceptanceSince.UTC(),
		Trusts: make([]wireTrustMeasures, len(m.Trusts)), Providers: make([]wireProviderMeas, len(m.Providers))}
	for i, t := range m.Trusts {
		out.Trusts[i] = wireTrustMeasures{Trust: t.Trust, wireSummaries: toWireSummaries(t.Summary)}
	}
	for i, p := range m.Providers {
		out.Providers[i] = wireProviderMeas{Provider: p.Provider, wireSummaries: toWireSummaries(p.Summary), Offers: p.Offers,
			Answered: p.Answered, Accepted: p.Accepted, AcceptanceRate: p.AcceptanceRate, TimeToAnswer: toWireDurations(p.TimeToAnswer)}
	}
	return out
}
