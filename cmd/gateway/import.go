package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/dischargegateway/gateway/adapters/cqccsv"
	"github.com/dischargegateway/gateway/adapters/geocode"
	"github.com/dischargegateway/gateway/directory"
	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/mappings"
)

// importReport is the JSON `gateway import directory` prints: the
// directory import's counts, and the rows rejected, by the parser or by
// the import. Its names are the command's output format, kept here where
// it is encoded rather than on the domain's discharge.RowIssue.
type importReport struct {
	Rows      int        `json:"rows"`
	Accepted  int        `json:"accepted"`
	Created   int        `json:"created"`
	Updated   int        `json:"updated"`
	Unchanged int        `json:"unchanged"`
	Rejected  []rowIssue `json:"rejected"`
}

// cqcReport is the import report of `gateway import cqc`: the directory
// import's, plus the rows skipped as not care the gateway ranks and the
// rows imported with a value left out.
type cqcReport struct {
	importReport
	Skipped  int        `json:"skipped"`
	Warnings []rowIssue `json:"warnings"`
}

// rowIssue is one row of a bulk file rejected or warned about.
type rowIssue struct {
	Row    int    `json:"row"` // 1-based, the header being row 1
	Column string `json:"column,omitempty"`
	Reason string `json:"reason"`
}

// toRowIssues converts the rows a parser rejected or warned about; none is
// an empty list, not null.
func toRowIssues(is []discharge.RowIssue) []rowIssue {
	out := make([]rowIssue, 0, len(is))
	for _, x := range is {
		out = append(out, rowIssue{Row: x.Row, Column: x.Column, Reason: x.Reason})
	}
	return out
}

// toImportReport is the report of an import whose parser rejected
// rejected before the directory import, which answered rep: the parser's
// rows first, then the import's, and every row counted.
func toImportReport(rejected []discharge.RowIssue, rep directory.ImportReport) importReport {
	out := importReport{Rows: rep.Rows + len(rejected), Accepted: rep.Accepted, Created: rep.Created,
		Updated: rep.Updated, Unchanged: rep.Unchanged, Rejected: toRowIssues(rejected)}
	for _, x := range rep.Rejected {
		out.Rejected = append(out.Rejected, rowIssue{Row: x.Row, Column: x.Column, Reason: x.Reason})
	}
	return out
}

// importCommand is `gateway import directory FILE` (the gateway's own
// directory columns, see adapters/cqccsv) and `gateway import cqc FILE`
// (the CQC's care directory with filters as the CQC publishes it): the
// operator's bulk import into the record (DATABASE_URL's, else the
// embedded SQLite file, which the next `gateway serve` reads; the
// Locations' geo index is put in REDIS_URL's cache, or rebuilt by that
// serve). It prints the report as JSON; rejected rows are listed with
// their row, column and reason. Importing the same file again reports
// every row unchanged.
func importCommand(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) != 2 || (args[0] != "directory" && args[0] != "cqc") {
		return fmt.Errorf("usage: gateway import directory FILE.csv | gateway import cqc HSCA_Active_Locations.csv")
	}
	cfg, err := loadConfig(getenv)
	if err != nil {
		return err
	}
	f, err := os.Open(args[1])
	if err != nil {
		return err
	}
	defer f.Close()
	var listings []discharge.Listing
	var rejected []discharge.RowIssue
	var extra *cqcReport
	switch args[0] {
	case "directory":
		if listings, rejected, err = cqccsv.Parse(f); err != nil {
			return err
		}
	case "cqc":
		tr, err := mappings.LoadTranslator(os.DirFS(cfg.ConceptMapsDir))
		if err != nil {
			return fmt.Errorf("concept maps: %w", err)
		}
		dir, err := cqccsv.ParseCQCDirectory(f, tr)
		if err != nil {
			return err
		}
		listings, rejected = dir.Listings, dir.Rejected
		extra = &cqcReport{Skipped: dir.Skipped, Warnings: toRowIssues(dir.Warnings)}
	}
	log := slog.New(slog.NewJSONHandler(stderr, nil))
	st, err := openStores(ctx, cfg, log, 0)
	if err != nil {
		return err
	}
	defer st.Close()
	geo, err := geocode.LoadFiles(cfg.OutcodesCSV, cfg.PostcodesCSV)
	if err != nil {
		return err
	}
	rep, err := st.Directory(geo, log).Import(ctx, listings, "")
	if err != nil {
		return err
	}
	out := toImportReport(rejected, rep)
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	if extra != nil {
		extra.importReport = out
		extra.Rows += extra.Skipped
		return enc.Encode(extra)
	}
	return enc.Encode(out)
}
