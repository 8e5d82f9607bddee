// Package csvrows reads bulk CSV files by column name: the header names the
// columns (in any order and letter case, a byte-order mark tolerated), and
// each row's fields are fetched by name. The directory and capacity
// importers share it.
package csvrows

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Reader reads rows by column name.
type Reader struct {
	cr     *csv.Reader
	col    map[string]int
	header []string
	row    int
}

// New reads the header and checks that every required column is named.
func New(r io.Reader, required ...string) (*Reader, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	header, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("header: %w", err)
	}
	col := map[string]int{}
	for i, h := range header {
		col[strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))] = i
	}
	for _, c := range required {
		if _, ok := col[strings.ToLower(c)]; !ok {
			return nil, fmt.Errorf("header: missing column %q", c)
		}
	}
	return &Reader{cr: cr, col: col, header: header, row: 1}, nil
}

// Row is one record.
type Row struct {
	Number int // 1-based, the header being row 1
	rec    []string
	col    map[string]int
}

// Get returns a field by column name, trimmed; "" when absent.
func (r Row) Get(name string) string {
	i, ok := r.col[strings.ToLower(name)]
	if !ok || i >= len(r.rec) {
		return ""
	}
	return strings.TrimSpace(r.rec[i])
}

// Next returns the next row. At the end it returns io.EOF; a malformed
// record returns the row with err set and reading can go on.
func (r *Reader) Next() (Row, error) {
	rec, err := r.cr.Read()
	r.row++
	if errors.Is(err, io.EOF) {
		return Row{}, io.EOF
	}
	if err == nil {
		if i := ControlField(rec); i >= 0 {
			name := ""
			if i < len(r.header) {
				name = strings.TrimSpace(strings.TrimPrefix(r.header[i], "\ufeff"))
			}
			err = &FieldError{Column: name, Reason: ControlReason}
		}
	}
	return Row{Number: r.row, rec: rec, col: r.col}, err
}

// FieldError is a well-formed CSV record with a field the importers refuse.
type FieldError struct {
	Column string // the column's heading as the file spells it
	Reason string
}

func (e *FieldError) Error() string { return "column " + e.Column + ": " + e.Reason }

// ControlReason says why a field with a control character is refused.
const ControlReason = "holds a control character (below U+0020, other than tab, CR and LF), which FHIR strings may not"

// ControlField returns the index of the first field holding a control
// character FHIR strings may not hold (below U+0020 other than tab, CR and
// LF, as fhir.Validate refuses them in JSON), or -1. Such a field would
// otherwise reach the directory or the record as a string no FHIR client
// can take.
func ControlField(rec []string) int {
	for i, f := range rec {
		if strings.ContainsFunc(f, func(r rune) bool { return r < 0x20 && r != '\t' && r != '\r' && r != '\n' }) {
			return i
		}
	}
	return -1
}
