package fhir

import "encoding/json"

// IssueType is a code of FHIR's IssueType value set
// (http://hl7.org/fhir/R4/valueset-issue-type.html): the only codes an
// OperationOutcome issue may carry. The gateway uses these.
type IssueType string

// The IssueType codes the gateway answers with.
const (
	IssueInvalid         IssueType = "invalid"
	IssueStructure       IssueType = "structure"
	IssueRequired        IssueType = "required"
	IssueValue           IssueType = "value"
	IssueCodeInvalid     IssueType = "code-invalid"
	IssueBusinessRule    IssueType = "business-rule"
	IssueNotFound        IssueType = "not-found"
	IssueConflict        IssueType = "conflict"
	IssueDuplicate       IssueType = "duplicate"
	IssueMultipleMatches IssueType = "multiple-matches"
	IssueTooLong         IssueType = "too-long"
	IssueNotSupported    IssueType = "not-supported"
	IssueLogin           IssueType = "login"
	IssueForbidden       IssueType = "forbidden"
	IssueThrottled       IssueType = "throttled"
	IssueTransient       IssueType = "transient"
	IssueTimeout         IssueType = "timeout"
	IssueException       IssueType = "exception"
	IssueProcessing      IssueType = "processing"
	IssueInformational   IssueType = "informational"
)

// OutcomeIssue is one OperationOutcome issue, with the FHIR codes already
// chosen by the caller (the gateway's error table).
type OutcomeIssue struct {
	Severity     string    // fatal | error | warning | information
	Code         IssueType // the issue's type
	Expression   string    // FHIRPath of the element, if any
	DetailCode   string    // e.g. INVALID_CHECK_DIGIT
	DetailSystem string
	Diagnostics  string
}

type outcomeIssueJSON struct {
	Severity    string       `json:"severity"`
	Code        IssueType    `json:"code"`
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
			j.Code = IssueProcessing
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
		out.Issue = append(out.Issue, outcomeIssueJSON{Severity: "information", Code: IssueInformational, Diagnostics: "All OK"})
	}
	b, _ := json.Marshal(out)
	return b
}

// OutcomeEntry is a searchset's outcome entry (Bundle.entry.search.mode
// outcome): an OperationOutcome of the search's warnings and remarks.
func OutcomeEntry(issues []OutcomeIssue) BundleEntryOut {
	return BundleEntryOut{Resource: OperationOutcome(issues), SearchMode: "outcome"}
}
