package sqlstore_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/dischargegateway/gateway/adapters/sqlstore"
	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/fhir"
)

// fcEnc is what a test Encounter says for the forecast.
type fcEnc struct {
	id, status, pathway, edd, drd, end, patient string
}

func fcEncounterJSON(e fcEnc) []byte {
	const base = "https://fhir.discharge-gateway.example/"
	var ext []string
	if e.pathway != "" {
		ext = append(ext, `{"url":"`+base+`StructureDefinition/discharge-pathway","valueCodeableConcept":{"coding":[{"system":"`+base+`CodeSystem/discharge-pathway","code":"`+e.pathway+`"}]}}`)
	}
	if e.edd != "" {
		ext = append(ext, `{"url":"http://hl7.org/fhir/5.0/StructureDefinition/extension-Encounter.plannedEndDate","valueDateTime":"`+e.edd+`"}`)
	}
	if e.drd != "" {
		ext = append(ext, `{"url":"`+base+`StructureDefinition/discharge-ready-date","valueDate":"`+e.drd+`"}`)
	}
	status := e.status
	if status == "" {
		status = "in-progress"
	}
	period := `{"start":"2026-11-01T09:00:00Z"}`
	if e.end != "" {
		period = `{"start":"2026-11-01T09:00:00Z","end":"` + e.end + `"}`
	}
	subject := `{"identifier":{"system":"https://trust.example/mrn","value":"X1"}}`
	if e.patient != "" {
		subject = `{"reference":"Patient/` + e.patient + `"}`
	}
	return []byte(`{"resourceType":"Encounter","id":"` + e.id + `","status":"` + status + `","class":{"code":"IMP"},"subject":` + subject +
		`,"period":` + period + `,"extension":[` + strings.Join(ext, ",") + `]}`)
}

func fcWrite(t testing.TB, typ, id string, version int64, body []byte) fhir.Write {
	t.Helper()
	var doc map[string]any
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatal(err)
	}
	return fhir.Write{Resource: fhir.Resource{Type: typ, ID: id, VersionID: version, LastUpdated: time.Date(2026, 11, 30, 8, 0, 0, 0, time.UTC), JSON: body},
		ExpectVersion: version - 1, Index: fhir.IndexEntries(typ, doc)}
}

func fcEncs(t testing.TB, version int64, es ...fcEnc) []fhir.Write {
	var ws []fhir.Write
	for _, e := range es {
		ws = append(ws, fcWrite(t, "Encounter", e.id, version, fcEncounterJSON(e)))
	}
	return ws
}

func fcPatient(t testing.TB, id string, version int64, addresses string) fhir.Write {
	return fcWrite(t, "Patient", id, version, []byte(`{"resourceType":"Patient","id":"`+id+`","address":`+addresses+`}`))
}

func fcCommit(t testing.TB, s *sqlstore.Store, partition string, ws ...fhir.Write) {
	t.Helper()
	if err := s.Commit(context.Background(), partition, ws, nil); err != nil {
		t.Fatal(err)
	}
}

// A fixed history and its forecast worked out by hand, on both engines,
// made on Monday 30 November 2026 for trust RXA:
//
//	a  P1, p1 (home M14 4AB), EDD 2 Dec          home-care M14 day 2; then EDD moved to 10 Dec: day 10
//	b  P3, p2 (work LS6, home m201xx), EDD 5 Dec, DRD 28 Nov: care-home M20 day 0, overdue; then discharged
//	c  P2, no Patient resource, EDD 30 Nov        step-down-bed unknown day 0
//	e  P0, EDD 30 Nov                             nothing
//	f  P1, p3 written after it (LS6 1AA), EDD 1 Dec: home-care LS6 day 1
//	g  P1, p1, finished 29 Nov 10:00 UTC          a discharge, M14, for the backtest
//
// and trust RXB's case, which RXA's forecast never sees.
func TestForecastCounters(t *testing.T) {
	ctx := context.Background()
	today := d("2026-11-30")
	tn := discharge.DayNumber(today)
	sqlEngines(t, map[string]func(t *testing.T, s *sqlstore.Store){
		"a fixed history by hand": func(t *testing.T, s *sqlstore.Store) {
			f := sqlstore.NewForecast(s)
			fcCommit(t, s, "RXA", append([]fhir.Write{
				fcPatient(t, "p1", 1, `[{"use":"home","postalCode":"M14 4AB"}]`),
				fcPatient(t, "p2", 1, `[{"use":"work","postalCode":"LS6 1AA"},{"use":"home","postalCode":"m201xx"}]`)},
				fcEncs(t, 1,
					fcEnc{id: "a", pathway: "1", edd: "2026-12-02", patient: "p1"},
					fcEnc{id: "b", pathway: "3", edd: "2026-12-05", drd: "2026-11-28", patient: "p2"},
					fcEnc{id: "c", pathway: "2", edd: "2026-11-30"},
					fcEnc{id: "e", pathway: "0", edd: "2026-11-30", patient: "p1"},
					fcEnc{id: "f", pathway: "1", edd: "2026-12-01", patient: "p3"},
					fcEnc{id: "g", status: "finished", pathway: "1", edd: "2026-11-29", end: "2026-11-29T10:00:00Z", patient: "p1"})...)...)
			fcCommit(t, s, "RXA", fcPatient(t, "p3", 1, `[{"postalCode":"LS6 1AA"}]`))
			fcCommit(t, s, "RXB", fcEncs(t, 1, fcEnc{id: "a", pathway: "1", edd: "2026-12-01"})...)

			forecast := func() discharge.Forecast {
				t.Helper()
				in, err := f.Inputs(ctx, "RXA", tn, tn+13, tn-28, tn-1)
				if err != nil {
					t.Fatal(err)
				}
				return discharge.ComputeForecast(today, in.Due)
			}
			cell := func(fc discharge.Forecast, s discharge.ForecastSetting, o string) (discharge.ForecastRow, bool) {
				for _, r := range fc.Rows {
					if r.Setting == s && r.Outcode == o {
						return r, true
					}
				}
				return discharge.ForecastRow{}, false
			}
			f1 := forecast()
			if len(f1.Rows) != 4 || f1.Total[0] != 2 || f1.Total[1] != 1 || f1.Total[2] != 1 || f1.Overdue != 1 {
				t.Fatalf("forecast %+v", f1)
			}
			if r, ok := cell(f1, discharge.ForecastCareHome, "M20"); !ok || r.Overdue != 1 || r.Demand[0] != 1 {
				t.Fatalf("care-home M20 %+v", r)
			}
			if r, ok := cell(f1, discharge.ForecastHomeCare, "LS6"); !ok || r.Demand[1] != 1 {
				t.Fatalf("home-care LS6 (Patient written after) %+v", f1.Rows)
			}
			if r, ok := cell(f1, discharge.ForecastStepDownBed, discharge.UnknownDistrict); !ok || r.Demand[0] != 1 {
				t.Fatalf("step-down unknown %+v", f1.Rows)
			}
			if r, ok := cell(f1, discharge.ForecastHomeCare, "M14"); !ok || r.Demand[2] != 1 {
				t.Fatalf("home-care M14 %+v", f1.Rows)
			}

			// a's EDD slips to 10 Dec; b is discharged; p1 moves to M1.
			fcCommit(t, s, "RXA", fcEncs(t, 2,
				fcEnc{id: "a", pathway: "1", edd: "2026-12-10", patient: "p1"},
				fcEnc{id: "b", status: "finished", pathway: "3", edd: "2026-12-05", drd: "2026-11-28", end: "2026-11-30T09:00:00Z", patient: "p2"})...)
			fcCommit(t, s, "RXA", fcPatient(t, "p1", 2, `[{"use":"home","postalCode":"M1 1AA"}]`))
			f2 := forecast()
			if _, ok := cell(f2, discharge.ForecastCareHome, "M20"); ok || f2.Overdue != 0 {
				t.Fatalf("b still forecast %+v", f2.Rows)
			}
			if r, ok := cell(f2, discharge.ForecastHomeCare, "M1"); !ok || r.Demand[10] != 1 || r.Total != 1 {
				t.Fatalf("a moved %+v", f2.Rows)
			}
			if _, ok := cell(f2, discharge.ForecastHomeCare, "M14"); ok {
				t.Fatalf("a still in M14 %+v", f2.Rows)
			}

			// The discharges: g on Sunday (now in M1, p1's district), b on Monday.
			fh, _ := discharge.ReportingHours(d("2026-11-29"))
			_, th := discharge.ReportingHours(today)
			sc, err := f.ScoringInputs(ctx, "RXA", tn-1, tn, fh, th)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, x := range sc.Discharges {
				got = append(got, time.Unix(x.Hour*3600, 0).UTC().Format("02T15")+"/"+x.Pathway+"/"+x.Outcode)
			}
			if strings.Join(got, ",") != "29T10/1/M1,30T09/3/M20" && strings.Join(got, ",") != "30T09/3/M20,29T10/1/M1" {
				t.Fatalf("discharges %v", got)
			}
			if len(sc.Unscored) != 2 || len(sc.Made) != 0 {
				t.Fatalf("scoring inputs %+v", sc)
			}
		},
		"kept once a day, scored once a day": func(t *testing.T, s *sqlstore.Store) {
			f := sqlstore.NewForecast(s)
			sun := d("2026-11-29")
			cells := []discharge.ForecastCount{{Made: sun, Day: sun, Setting: discharge.ForecastHomeCare, Outcode: "M14", N: 2},
				{Made: sun, Day: today, Setting: discharge.ForecastHomeCare, Outcode: "M14", N: 1}}
			if kept, err := f.Keep(ctx, "RXA", sun, cells); err != nil || !kept {
				t.Fatalf("first keep: %v %v", kept, err)
			}
			if kept, err := f.Keep(ctx, "RXA", sun, cells[:1]); err != nil || kept {
				t.Fatalf("second keep: %v %v", kept, err)
			}
			fh, th := discharge.ReportingHours(sun)
			sc, err := f.ScoringInputs(ctx, "RXA", tn-1, tn-1, fh, th)
			if err != nil {
				t.Fatal(err)
			}
			if len(sc.Made) != 1 || len(sc.Kept) != 1 || sc.Kept[0].N != 2 || len(sc.Unscored) != 1 {
				t.Fatalf("scoring inputs %+v", sc)
			}
			errs := discharge.ScoreDay(sun, sc.Made, sc.Kept, sc.Discharges)
			if err := f.SaveScores(ctx, "RXA", sc.Unscored, errs); err != nil {
				t.Fatal(err)
			}
			// A second scoring of the same day changes nothing.
			if err := f.SaveScores(ctx, "RXA", sc.Unscored, []discharge.ForecastError{{Day: sun, Horizon: 0, Cells: 50, AbsErr: 50}}); err != nil {
				t.Fatal(err)
			}
			in, err := f.Inputs(ctx, "RXA", tn-1, tn+13, tn-28, tn-1)
			if err != nil {
				t.Fatal(err)
			}
			if !in.Kept || len(in.Errors) != 1 || in.Errors[0] != (discharge.ForecastError{Day: sun, Horizon: 0, Cells: 1, AbsErr: 2}) {
				t.Fatalf("inputs %+v", in)
			}
			other, err := f.Inputs(ctx, "RXB", tn-1, tn+13, tn-28, tn-1)
			if err != nil || other.Kept || len(other.Errors) != 0 {
				t.Fatalf("RXB sees RXA's: %+v %v", other, err)
			}
		},
	})
}
