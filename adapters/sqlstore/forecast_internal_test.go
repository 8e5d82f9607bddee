package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/fhir"
	"github.com/dischargegateway/gateway/internal/pgtest"
)

// TestForecastBackfill: migration 17's backfill, run over cases already
// stored (with the counters emptied), rebuilds the counters the triggers
// had kept, districts included, on both engines.
func TestForecastBackfill(t *testing.T) {
	ctx := context.Background()
	for _, eng := range []string{"sqlite", "postgres"} {
		t.Run(eng, func(t *testing.T) {
			var s *Store
			var err error
			if eng == "sqlite" {
				s, err = Open(ctx, "", t.TempDir())
			} else {
				_, url := pgtest.Start(t).NewDatabase(t)
				s, err = Open(ctx, url, "")
			}
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			write := func(typ, id, body string) {
				var doc map[string]any
				if err := json.Unmarshal([]byte(body), &doc); err != nil {
					t.Fatal(err)
				}
				w := fhir.Write{Resource: fhir.Resource{Type: typ, ID: id, VersionID: 1, LastUpdated: time.Now(), JSON: []byte(body)}, Index: fhir.IndexEntries(typ, doc)}
				if err := s.Commit(ctx, "RXA", []fhir.Write{w}, nil); err != nil {
					t.Fatal(err)
				}
			}
			const base = "https://fhir.discharge-gateway.example/"
			write("Patient", "p1", `{"resourceType":"Patient","id":"p1","address":[{"use":"home","postalCode":"M14 4AB"}]}`)
			for i, c := range []struct{ pathway, edd, end string }{{"1", "2026-12-02", ""}, {"3", "2026-11-28", ""}, {"2", "2026-11-30", "2026-11-29T10:00:00Z"}} {
				period := `{"start":"2026-11-01T09:00:00Z"}`
				status := "in-progress"
				if c.end != "" {
					period, status = `{"start":"2026-11-01T09:00:00Z","end":"`+c.end+`"}`, "finished"
				}
				write("Encounter", fmt.Sprint("e", i), `{"resourceType":"Encounter","id":"e`+fmt.Sprint(i)+`","status":"`+status+`","class":{"code":"IMP"},"subject":{"reference":"Patient/p1"},"period":`+period+
					`,"extension":[{"url":"`+base+`StructureDefinition/discharge-pathway","valueCodeableConcept":{"coding":[{"system":"`+base+`CodeSystem/discharge-pathway","code":"`+c.pathway+`"}]}},`+
					`{"url":"http://hl7.org/fhir/5.0/StructureDefinition/extension-Encounter.plannedEndDate","valueDateTime":"`+c.edd+`"}]}`)
			}
			f := NewForecast(s)
			tn := discharge.DayNumber(discharge.Date{Year: 2026, Month: 11, Day: 30})
			read := func() []string {
				in, err := f.Inputs(ctx, "RXA", tn, tn+13, tn-28, tn-1)
				if err != nil {
					t.Fatal(err)
				}
				fh, th := discharge.ReportingHours(discharge.Date{Year: 2026, Month: 11, Day: 29})
				sc, err := f.ScoringInputs(ctx, "RXA", tn-1, tn-1, fh, th)
				if err != nil {
					t.Fatal(err)
				}
				var out []string
				for _, d := range in.Due {
					out = append(out, fmt.Sprint("due ", d.Day, d.Pathway, d.Outcode, d.N))
				}
				for _, d := range sc.Discharges {
					out = append(out, fmt.Sprint("left ", d.Hour, d.Pathway, d.Outcode, d.N))
				}
				slices.Sort(out)
				return out
			}
			before := read()
			if len(before) != 3 {
				t.Fatalf("before %v", before)
			}
			var lift, restore []string
			if s.eng == enginePostgres {
				for _, t := range append([]string{"resources", "search_token", "search_range", "case_worklist"}, forecastRLSTables...) {
					lift = append(lift, "ALTER TABLE "+t+" NO FORCE ROW LEVEL SECURITY")
					restore = append(restore, "ALTER TABLE "+t+" FORCE ROW LEVEL SECURITY")
				}
			}
			tx, err := s.db.BeginTx(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			if err := execDDL(ctx, tx, append(lift, "DELETE FROM forecast_due", "DELETE FROM forecast_discharges", "DELETE FROM forecast_case")); err != nil {
				t.Fatal(err)
			}
			var left int
			if err := tx.QueryRowContext(ctx, "SELECT (SELECT COUNT(*) FROM forecast_due) + (SELECT COUNT(*) FROM forecast_case)").Scan(&left); err != nil || left != 0 {
				t.Fatalf("emptied counters hold %d rows (%v)", left, err)
			}
			if err := execDDL(ctx, tx, append(forecastBackfill(s.eng), restore...)); err != nil {
				t.Fatal(err)
			}
			if err := tx.Commit(); err != nil {
				t.Fatal(err)
			}
			if after := read(); !slices.Equal(before, after) {
				t.Fatalf("after the backfill %v, before %v", after, before)
			}
		})
	}
}
