package capacity

import (
	"context"
	"errors"
	"io"
	"sort"

	"github.com/dischargegateway/gateway/auth"
	"github.com/dischargegateway/gateway/discharge"
)

// ImportReport is what a bulk capacity import did, row by row.
type ImportReport struct {
	Rows     int // rows read, rejected by the parser included
	Accepted int // rows whose posting was stored
	Ignored  int // rows whose posting was older than the one stored
	Rejected []discharge.RowIssue
}

// CSVParser reads a vendor's bulk capacity file (adapters/capacitycsv) into
// postings, each with its source rows, and the rows it refused.
type CSVParser func(io.Reader) ([]discharge.BulkPosting, []discharge.RowIssue, error)

// ImportCSV reads a vendor's bulk capacity file and imports it (Import). A
// file that cannot be read at all is KindStructure.
func (s *Service) ImportCSV(ctx context.Context, p *auth.Principal, r io.Reader) (ImportReport, error) {
	if s.parseCSV == nil {
		return ImportReport{}, discharge.E(discharge.KindNotSupported, "", "This gateway imports no capacity files.")
	}
	postings, rejected, err := s.parseCSV(r)
	if err != nil {
		return ImportReport{}, discharge.E(discharge.KindStructure, "", "The CSV cannot be read: "+err.Error())
	}
	return s.Import(ctx, p, postings, rejected)
}

// Import posts a vendor's batch export, one posting per location with the
// rows it came from; rejected are the rows the parser already refused. A
// posting that breaks a rule, or is for a location the caller does not
// manage, rejects its rows with the reason and the column. A failure of the
// gateway itself (the store unreachable, a deadline) stops the import and
// is returned: rows already posted stay posted, and posting them again is
// harmless.
func (s *Service) Import(ctx context.Context, p *auth.Principal, postings []discharge.BulkPosting, rejected []discharge.RowIssue) (ImportReport, error) {
	if err := MayPost(p); err != nil {
		return ImportReport{}, err
	}
	rep := ImportReport{Rows: len(rejected), Rejected: append([]discharge.RowIssue{}, rejected...)}
	for _, pr := range postings {
		rep.Rows += len(pr.Rows)
		posted, err := s.Post(ctx, p, pr.Capacity, nil)
		if err != nil {
			de, ok := rowFault(err)
			if !ok {
				return rep, err
			}
			reason, column := de.Kind.String(), ""
			if len(de.Issues) > 0 {
				reason, column = de.Issues[0].Message, de.Issues[0].Expression
			}
			for _, row := range pr.Rows {
				rep.Rejected = append(rep.Rejected, discharge.RowIssue{Row: row, Column: column, Reason: reason})
			}
			continue
		}
		if posted.Applied {
			rep.Accepted += len(pr.Rows)
		} else {
			rep.Ignored += len(pr.Rows)
		}
	}
	sort.Slice(rep.Rejected, func(i, j int) bool { return rep.Rejected[i].Row < rep.Rejected[j].Row })
	return rep, nil
}

// rowFault returns the error as the rows' fault: a rule the posting breaks
// or a location the caller may not post for. The gateway's own failures
// are not the rows' fault.
func rowFault(err error) (*discharge.Error, bool) {
	var de *discharge.Error
	if !errors.As(err, &de) {
		return nil, false
	}
	switch de.Kind {
	case discharge.KindInternal, discharge.KindUnavailable, discharge.KindTimeout:
		return nil, false
	}
	return de, true
}
