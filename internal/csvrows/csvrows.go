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
	cr  *csv.Reader
	col map[string]int
	row int
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
	return &Reader{cr: cr, col: col, row: 1}, nil
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
	return Row{Number: r.row, rec: rec, col: r.col}, err
}
