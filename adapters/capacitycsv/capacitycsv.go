// Package capacitycsv reads a care-home software vendor's batch capacity
// export: one row per location and bed type, with columns locationId,
// bedType, asOf, maxCapacity, occupied, reserved, acceptingAdmissions and
// closedToAdmissions (true/false, yes/no or 1/0). Rows of one location are
// grouped into one posting; a location's rows must share one asOf.
package capacitycsv

import (
	"errors"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/internal/csvrows"
)

var columns = []string{"locationid", "bedtype", "asof", "maxcapacity", "occupied", "reserved", "acceptingadmissions", "closedtoadmissions"}

// Parse groups rows into postings, in first-seen order, and reports each
// row it cannot read. Rule checks (counts, bed types, asOf) are the
// posting's own Validate; this only reads the shape.
func Parse(r io.Reader) ([]discharge.BulkPosting, []discharge.RowIssue, error) {
	cr, err := csvrows.New(r, columns...)
	if err != nil {
		return nil, nil, err
	}
	var out []discharge.BulkPosting
	var rejected []discharge.RowIssue
	index := map[string]int{}
	for {
		rec, err := cr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		row := rec.Number
		if fe := (*csvrows.FieldError)(nil); errors.As(err, &fe) {
			rejected = append(rejected, discharge.RowIssue{Row: row, Column: fe.Column, Reason: fe.Reason})
			continue
		}
		if err != nil {
			rejected = append(rejected, discharge.RowIssue{Row: row, Reason: "not valid CSV"})
			continue
		}
		get := rec.Get
		fail := func(column, reason string) {
			rejected = append(rejected, discharge.RowIssue{Row: row, Column: column, Reason: reason})
		}
		loc := get("locationid")
		if loc == "" {
			fail("locationId", "locationId is required")
			continue
		}
		asOf, err := time.Parse(time.RFC3339, get("asof"))
		if err != nil {
			fail("asOf", "asOf must be an RFC 3339 date-time with a zone")
			continue
		}
		b := discharge.BedCapacity{Type: discharge.BedType(get("bedtype"))}
		bad := ""
		for _, f := range []struct {
			name string
			dst  *int
		}{{"maxCapacity", &b.MaxCapacity}, {"occupied", &b.Occupied}, {"reserved", &b.Reserved}, {"acceptingAdmissions", &b.AcceptingAdmissions}} {
			n, err := strconv.Atoi(get(strings.ToLower(f.name)))
			if err != nil {
				bad = f.name
				break
			}
			*f.dst = n
		}
		if bad != "" {
			fail(bad, "must be a whole number")
			continue
		}
		switch strings.ToLower(get("closedtoadmissions")) {
		case "true", "yes", "1":
			b.ClosedToAdmissions = true
		case "false", "no", "0", "":
		default:
			fail("closedToAdmissions", "must be true or false")
			continue
		}
		i, seen := index[loc]
		if !seen {
			index[loc] = len(out)
			out = append(out, discharge.BulkPosting{Capacity: discharge.Capacity{LocationID: loc, AsOf: asOf.UTC()}})
			i = len(out) - 1
		} else if !out[i].Capacity.AsOf.Equal(asOf.UTC()) {
			fail("asOf", "rows of one location must share one asOf")
			continue
		}
		out[i].Capacity.Beds = append(out[i].Capacity.Beds, b)
		out[i].Rows = append(out[i].Rows, row)
	}
	return out, rejected, nil
}
