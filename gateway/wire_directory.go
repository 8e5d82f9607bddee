package gateway

import (
	"github.com/dischargegateway/gateway/directory"
	"github.com/dischargegateway/gateway/discharge"
)

// ImportReport is the /api/v1 JSON answer to a directory import (POST
// /api/v1/directory/import), and the import command's output, which embeds
// it. Running the same file twice reports every row unchanged the second
// time.
type ImportReport struct {
	Rows      int            `json:"rows"`
	Accepted  int            `json:"accepted"`
	Created   int            `json:"created"`
	Updated   int            `json:"updated"`
	Unchanged int            `json:"unchanged"`
	Rejected  []wireRowIssue `json:"rejected"`
}

// wireRowIssue is why one row of a bulk file was rejected.
type wireRowIssue struct {
	Row    int    `json:"row"` // 1-based, the header being row 1
	Column string `json:"column,omitempty"`
	Reason string `json:"reason"`
}

// toWireRowIssues converts rejected rows; none is an empty list, not null.
func toWireRowIssues(is []discharge.RowIssue) []wireRowIssue {
	out := make([]wireRowIssue, len(is))
	for i, x := range is {
		out[i] = wireRowIssue{Row: x.Row, Column: x.Column, Reason: x.Reason}
	}
	return out
}

// toWireImportReport converts the directory's report to its wire shape.
func toWireImportReport(r directory.ImportReport) ImportReport {
	return ImportReport{Rows: r.Rows, Accepted: r.Accepted, Created: r.Created, Updated: r.Updated,
		Unchanged: r.Unchanged, Rejected: toWireRowIssues(r.Rejected)}
}
