package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"path/filepath"
	"testing"

	"github.com/dischargegateway/gateway/internal/redistest"
)

// TestImportCQCDirectory imports the CQC's own file format twice: the
// first time creates the care homes and the home-care agency and reports
// the bad rows by row and column; the second finds every one unchanged.
func TestImportCQCDirectory(t *testing.T) {
	rs := redistest.Open(t)
	env := withDataDir(t, rs.Env())
	env["GATEWAY_OUTCODES_CSV"] = filepath.Join("..", "..", "configs", "geo", "uk-outcode-centroids.csv")
	env["GATEWAY_CONCEPTMAPS_DIR"] = filepath.Join("..", "..", "configs", "conceptmaps")
	fixture := filepath.Join("..", "..", "adapters", "cqccsv", "testdata", "hsca-active-locations.csv")
	type report struct {
		Rows, Accepted, Created, Updated, Unchanged, Skipped int
		Rejected, Warnings                                   []struct {
			Row    int
			Column string
		}
	}
	importOnce := func() report {
		var out bytes.Buffer
		if err := run(context.Background(), []string{"import", "cqc", fixture}, func(k string) string { return env[k] }, &out, io.Discard, nil); err != nil {
			t.Fatal(err)
		}
		var r report
		if err := json.Unmarshal(out.Bytes(), &r); err != nil {
			t.Fatalf("%v\n%s", err, out.String())
		}
		return r
	}
	first := importOnce()
	if first.Rows != 7 || first.Created != 3 || first.Skipped != 2 || len(first.Rejected) != 2 || len(first.Warnings) != 1 {
		t.Fatalf("first import: %+v", first)
	}
	for i, want := range []struct {
		row    int
		column string
	}{{5, "Location Postal Code"}, {8, "Location ID"}} {
		if first.Rejected[i].Row != want.row || first.Rejected[i].Column != want.column {
			t.Errorf("rejected[%d] = %+v, want row %d column %s", i, first.Rejected[i], want.row, want.column)
		}
	}
	if second := importOnce(); second.Unchanged != 3 || second.Created+second.Updated != 0 || len(second.Rejected) != 2 {
		t.Fatalf("second import: %+v", second)
	}
}
