package discharge

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// Kind classifies an error by what the caller can do about it. The gateway
// holds the one table that maps each Kind to an HTTP status and a FHIR
// IssueType code; nothing else may decide those.
//
// The list is append-only: values are never renumbered or reused.
type Kind uint8

// The kinds, in append-only order.
const (
	KindInternal         Kind = iota // a bug or an unexpected failure: never shown in detail
	KindInvalid                      // the content is invalid in a way no finer kind describes
	KindStructure                    // malformed JSON, wrong shape, unknown element
	KindRequired                     // a required element is missing
	KindValue                        // an element's value is wrong (format, range, check digit)
	KindCodeInvalid                  // a code is outside its binding or no map knows it
	KindBusinessRule                 // valid FHIR that breaks a gateway rule (e.g. cannot be matched)
	KindNotFound                     // no such resource, or one the caller may not see
	KindConflict                     // the write collides with the current state
	KindDuplicate                    // the same message or resource was already accepted
	KindPrecondition                 // If-Match named a version that is not current
	KindMultipleMatches              // a conditional interaction matched more than one resource
	KindTooLarge                     // the body or a collection is over a configured limit
	KindUnsupportedMedia             // the request's content type is not JSON
	KindNotAcceptable                // the caller accepts no format the gateway produces
	KindNotSupported                 // a parameter, interaction or feature the gateway does not implement
	KindMethodNotAllowed             // the HTTP method is not defined for the path
	KindUnauthorized                 // no valid credentials
	KindForbidden                    // valid credentials without the right to do this
	KindThrottled                    // over a rate limit
	KindUnavailable                  // a dependency (a store or the cache) cannot be reached; retry later
	KindTimeout                      // the request ran past its deadline
	KindRetry                        // an optimistic write lost a race; the caller (gateway) retries
)

var kindNames = [...]string{
	KindInternal: "internal", KindInvalid: "invalid", KindStructure: "structure",
	KindRequired: "required", KindValue: "value", KindCodeInvalid: "code-invalid",
	KindBusinessRule: "business-rule", KindNotFound: "not-found", KindConflict: "conflict",
	KindDuplicate: "duplicate", KindPrecondition: "precondition", KindMultipleMatches: "multiple-matches",
	KindTooLarge: "too-large", KindUnsupportedMedia: "unsupported-media", KindNotAcceptable: "not-acceptable",
	KindNotSupported: "not-supported", KindMethodNotAllowed: "method-not-allowed", KindUnauthorized: "unauthorized",
	KindForbidden: "forbidden", KindThrottled: "throttled", KindUnavailable: "unavailable",
	KindTimeout: "timeout", KindRetry: "retry",
}

// String returns a stable lower-case name for logs and tests.
func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", k)
}

// Severity of an Issue, as in FHIR's IssueSeverity.
type Severity uint8

// Severities. The zero value is an error, so a forgotten severity never
// downgrades a failure to a warning.
const (
	SeverityError Severity = iota
	SeverityFatal
	SeverityWarning
	SeverityInformation
)

// Issue is one problem or remark about the caller's input.
type Issue struct {
	Kind     Kind     // the finer classification of this issue; defaults to the Error's Kind
	Severity Severity // error unless said otherwise
	// Expression is the FHIRPath of the element concerned, e.g.
	// "Patient.identifier[0].value". Empty only when no element applies.
	Expression string
	// Detail is a coded reason where one exists, e.g. "INVALID_CHECK_DIGIT".
	Detail  string
	Message string // human-readable; must never contain patient data
}

// Error is the one error type of the gateway. Every layer returns it, so the
// HTTP layer can render any failure as an OperationOutcome.
type Error struct {
	Kind    Kind
	Op      string  // the operation that failed, for logs
	Issues  []Issue // what the caller is told; at least one for 4xx kinds
	Err     error   // the underlying cause; logged, never shown
	Message string  // a summary when there are no issues
}

// Error implements error. It never includes the Issues' messages in full, as
// they go to callers, not logs; but it does include expressions for debugging.
func (e *Error) Error() string {
	var b strings.Builder
	if e.Op != "" {
		b.WriteString(e.Op)
		b.WriteString(": ")
	}
	b.WriteString(e.Kind.String())
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	for i, is := range e.Issues {
		if i == 3 {
			fmt.Fprintf(&b, " (+%d more)", len(e.Issues)-3)
			break
		}
		fmt.Fprintf(&b, " [%s %s]", is.Kind, is.Expression)
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// Unwrap exposes the cause to errors.Is and errors.As.
func (e *Error) Unwrap() error { return e.Err }

// Is lets errors.Is(err, &Error{Kind: k}) test for a kind.
func (e *Error) Is(target error) bool {
	var t *Error
	if !errors.As(target, &t) {
		return false
	}
	return t.Kind == e.Kind && t.Op == "" && len(t.Issues) == 0 && t.Err == nil
}

// E builds an Error of one issue at the given FHIRPath.
func E(kind Kind, expression, message string) *Error {
	return &Error{Kind: kind, Issues: []Issue{{Kind: kind, Expression: expression, Message: message}}}
}

// Wrap records a cause under a kind without telling the caller anything
// beyond the kind's generic text.
func Wrap(kind Kind, op string, err error) *Error {
	return &Error{Kind: kind, Op: op, Err: err}
}

// ErrorKind returns the Kind of err: the Kind of the first *Error in its
// chain, KindTimeout for a context whose deadline passed, or KindInternal.
func ErrorKind(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return KindTimeout
	}
	return KindInternal
}

// KindOf is a sentinel for errors.Is checks: errors.Is(err, KindOf(KindNotFound)).
func KindOf(k Kind) error { return &Error{Kind: k} }

// Issues collects issues; its Err method returns nil when there are none.
type Issues []Issue

// Add appends an error issue.
func (is *Issues) Add(kind Kind, expression, message string) {
	*is = append(*is, Issue{Kind: kind, Expression: expression, Message: message})
}

// Warn appends a warning.
func (is *Issues) Warn(kind Kind, expression, message string) {
	*is = append(*is, Issue{Kind: kind, Severity: SeverityWarning, Expression: expression, Message: message})
}

// Errors returns only the issues of error or fatal severity.
func (is Issues) Errors() Issues {
	var out Issues
	for _, i := range is {
		if i.Severity == SeverityError || i.Severity == SeverityFatal {
			out = append(out, i)
		}
	}
	return out
}

// Warnings returns only the issues of warning or information severity.
func (is Issues) Warnings() Issues {
	var out Issues
	for _, i := range is {
		if i.Severity == SeverityWarning || i.Severity == SeverityInformation {
			out = append(out, i)
		}
	}
	return out
}

// Err returns an *Error of kind holding the error issues, or nil if none.
func (is Issues) Err(kind Kind, op string) error {
	errs := is.Errors()
	if len(errs) == 0 {
		return nil
	}
	return &Error{Kind: kind, Op: op, Issues: errs}
}
