package fhir

import "encoding/json"

// OutcomeIssue is one OperationOutcome issue, with the FHIR codes already
// chosen by the caller (the gateway's error table).
type OutcomeIssue struct {
	Severity     string // fatal | error | warning | information
	Code         string // a FHIR IssueType code
	Expression   string // FHIRPath of the element, if any
	DetailCode   string // e.g. INVALID_CHECK_DIGIT
	DetailSystem string
	Diagnostics  string
}

type outcomeIssueJSON struct {
	Severity    string       `json:"severity"`
	Code        string       `json:"code"`
	Details     *conceptJSON `json:"details,omitempty"`
	Diagnostics string       `json:"diagnostics,omitempty"`
	Expression  []string     `json:"expression,omitempty"`
}

type conceptJSON struct {
	Coding []codingJSON `json:"coding,omitempty"`
	Text   string       `json:"text,omitempty"`
}

type codingJSON struct {
	System string `json:"system,omitempty"`
	Code   string `json:"code"`
}

// OperationOutcome renders issues as an R4 OperationOutcome. Severity
// defaults to error, never to the samply models' zero value "fatal".
func OperationOutcome(issues []OutcomeIssue) []byte {
	out := struct {
		ResourceType string             `json:"resourceType"`
		Issue        []outcomeIssueJSON `json:"issue"`
	}{ResourceType: "OperationOutcome", Issue: make([]outcomeIssueJSON, 0, len(issues))}
	for _, is := range issues {
		j := outcomeIssueJSON{Severity: is.Severity, Code: is.Code, Diagnostics: is.Diagnostics}
		if j.Severity == "" {
			j.Severity = "error"
		}
		if j.Code == "" {
			j.Code = "processing"
		}
		if is.Expression != "" {
			j.Expression = []string{is.Expression}
		}
		if is.DetailCode != "" {
			j.Details = &conceptJSON{Coding: []codingJSON{{System: is.DetailSystem, Code: is.DetailCode}}, Text: is.Diagnostics}
		}
		out.Issue = append(out.Issue, j)
	}
	if len(out.Issue) == 0 {
		out.Issue = append(out.Issue, outcomeIssueJSON{Severity: "information", Code: "informational", Diagnostics: "All OK"})
	}
	b, _ := json.Marshal(out)
	return b
}

// OutcomeEntry is a searchset's outcome entry (Bundle.entry.search.mode
// outcome): an OperationOutcome of the search's warnings and remarks.
func OutcomeEntry(issues []OutcomeIssue) BundleEntryOut {
	return BundleEntryOut{Resource: OperationOutcome(issues), SearchMode: "outcome"}
}
