package directory

import (
	"context"
	"io"

	"github.com/dischargegateway/gateway/discharge"
)

// CSVParser reads a bulk directory file (adapters/cqccsv): its listings,
// and the rows it refused with the reason.
type CSVParser func(io.Reader) ([]discharge.Listing, []discharge.RowIssue, error)

// ImportCSV reads a bulk directory file and imports its listings (Import,
// with owner). The report counts the rows the parser refused and lists
// them ahead of the import's own. A file that cannot be read at all is
// KindStructure.
func (s *Service) ImportCSV(ctx context.Context, r io.Reader, owner string) (ImportReport, error) {
	if s.parseCSV == nil {
		return ImportReport{}, discharge.E(discharge.KindNotSupported, "", "This gateway imports no directory files.")
	}
	listings, rejected, err := s.parseCSV(r)
	if err != nil {
		return ImportReport{}, discharge.E(discharge.KindStructure, "", "The CSV cannot be read: "+err.Error())
	}
	rep, err := s.Import(ctx, listings, owner)
	if err != nil {
		return rep, err
	}
	rep.Rows += len(rejected)
	rep.Rejected = append(append([]discharge.RowIssue{}, rejected...), rep.Rejected...)
	return rep, nil
}
