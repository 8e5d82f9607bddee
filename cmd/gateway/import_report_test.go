package main

import (
	"encoding/json"
	"testing"

	"github.com/dischargegateway/gateway/directory"
	"github.com/dischargegateway/gateway/discharge"
)

// The import command's JSON is its own wire format (importReport,
// cqcReport), not the domain's RowIssue: these are the bytes an operator's
// script reads, so they are compared exactly.
func TestImportReportJSON(t *testing.T) {
	parsed := []discharge.RowIssue{{Row: 5, Column: "Location Postal Code", Reason: "p"}}
	imported := directory.ImportReport{Rows: 2, Accepted: 1, Created: 1}
	for _, tc := range []struct {
		name string
		v    any
		want string
	}{
		{"nothing rejected", toImportReport(nil, directory.ImportReport{Rows: 1, Accepted: 1, Unchanged: 1}),
			`{"rows":1,"accepted":1,"created":0,"updated":0,"unchanged":1,"rejected":[]}`},
		{"parser rows first and counted", toImportReport(parsed, imported),
			`{"rows":3,"accepted":1,"created":1,"updated":0,"unchanged":0,"rejected":[{"row":5,"column":"Location Postal Code","reason":"p"}]}`},
		{"cqc, a warning without a column", cqcReport{importReport: toImportReport(nil, imported), Skipped: 2,
			Warnings: toRowIssues([]discharge.RowIssue{{Row: 9, Reason: "w"}})},
			`{"rows":2,"accepted":1,"created":1,"updated":0,"unchanged":0,"rejected":[],"skipped":2,"warnings":[{"row":9,"reason":"w"}]}`},
		{"cqc, no warnings", cqcReport{importReport: toImportReport(nil, imported), Warnings: toRowIssues(nil)},
			`{"rows":2,"accepted":1,"created":1,"updated":0,"unchanged":0,"rejected":[],"skipped":0,"warnings":[]}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := json.Marshal(tc.v)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
}
