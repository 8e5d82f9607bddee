package sqlstore_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/dischargegateway/gateway/adapters/sqlstore"
	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/fhir"
)

// sitrepEnc is what a test Encounter says for the sitrep.
type sitrepEnc struct {
	id, status, pathway, nctrSince, reason, end string
}

func sitrepEncounterJSON(e sitrepEnc) []byte {
	const base = "https://fhir.discharge-gateway.example/"
	var ext []string
	if e.pathway != "" {
		ext = append(ext, `{"url":"`+base+`StructureDefinition/discharge-pathway","valueCodeableConcept":{"coding":[{"system":"`+base+`CodeSystem/discharge-pathway","code":"`+e.pathway+`"}]}}`)
	}
	if e.nctrSince != "" {
		ext = append(ext, `{"url":"`+base+`StructureDefinition/criteria-to-reside","extension":[{"url":"met","valueBoolean":false},{"url":"since","valueDate":"`+e.nctrSince+`"}]}`)
	}
	if e.reason != "" {
		ext = append(ext, `{"url":"`+base+`StructureDefinition/delay-reason","valueCodeableConcept":{"coding":[{"system":"`+base+`CodeSystem/delay-reason","code":"`+e.reason+`"}]}}`)
	}
	status := e.status
	if status == "" {
		status = "in-progress"
	}
	period := `{"start":"2026-11-01T09:00:00Z"}`
	if e.end != "" {
		period = `{"start":"2026-11-01T09:00:00Z","end":"` + e.end + `"}`
	}
	return []byte(`{"resourceType":"Encounter","id":"` + e.id + `","status":"` + status + `","class":{"code":"IMP"},"period":` + period + `,"extension":[` + strings.Join(ext, ",") + `]}`)
}

// writeSitrepEnc creates (version 1) or updates an Encounter.
func writeSitrepEnc(t testing.TB, s *sqlstore.Store, partition string, version int64, at time.Time, es ...sitrepEnc) {
	t.Helper()
	var ws []fhir.Write
	for _, e := range es {
		body := sitrepEncounterJSON(e)
		var doc map[string]any
		if err := json.Unmarshal(body, &doc); err != nil {
			t.Fatal(err)
		}
		ws = append(ws, fhir.Write{Resource: fhir.Resource{Type: "Encounter", ID: e.id, VersionID: version, LastUpdated: at, JSON: body},
			ExpectVersion: version - 1, Index: fhir.IndexEntries("Encounter", doc)})
	}
	if err := s.Commit(context.Background(), partition, ws, nil); err != nil {
		t.Fatal(err)
	}
}

func sitrepOf(t *testing.T, r *sqlstore.Sitrep, partition string, asOf, from, to discharge.Date) discharge.Sitrep {
	t.Helper()
	fh, _ := discharge.ReportingHours(from)
	_, th := discharge.ReportingHours(to)
	c, err := r.Counters(context.Background(), partition, fh, th, discharge.DayNumber(from), discharge.DayNumber(to))
	if err != nil {
		t.Fatal(err)
	}
	return discharge.ComputeSitrep(asOf, from, to, c.Open, c.Discharges, c.NewNCTR)
}

func d(s string) discharge.Date {
	v, err := discharge.ParseDate(s)
	if err != nil {
		panic(err)
	}
	return v
}

// A fixed history, the sitrep worked out by hand, on both engines. As of
// Monday 30 November 2026, trust RXA:
//
//	a  P3 NCTR since 25 Nov, capacity-care-home      open: band 4-6
//	b  P1 NCTR since 29 Nov, capacity-home-care      open: band 0-1
//	c  P1 NCTR since 29 Nov, then discharged Sunday 29 Nov 10:15 UTC
//	e  no NCTR, discharged Saturday 28 Nov 14:00 UTC, P0
//	x  cancelled: counts nowhere
//
// and trust RXB's case, which RXA's sitrep never sees.
func TestSitrepCounters(t *testing.T) {
	ctx := context.Background()
	t0 := time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC)
	asOf, from, to := d("2026-11-30"), d("2026-11-28"), d("2026-11-30")
	sqlEngines(t, map[string]func(t *testing.T, s *sqlstore.Store){
		"a fixed history by hand, late and corrected updates": func(t *testing.T, s *sqlstore.Store) {
			r := sqlstore.NewSitrep(s)
			writeSitrepEnc(t, s, "RXA", 1, t0,
				sitrepEnc{id: "a", pathway: "3", nctrSince: "2026-11-25", reason: "capacity-care-home"},
				sitrepEnc{id: "b", pathway: "1", nctrSince: "2026-11-29", reason: "transport"},
				sitrepEnc{id: "c", pathway: "1", nctrSince: "2026-11-29", reason: "capacity-home-care"},
				sitrepEnc{id: "e", pathway: "0"},
				sitrepEnc{id: "x", status: "cancelled", pathway: "2", nctrSince: "2026-11-28"})
			writeSitrepEnc(t, s, "RXB", 1, t0, sitrepEnc{id: "a", pathway: "2", nctrSince: "2026-11-20", reason: "other"})
			// b's reason changes; c and e are discharged.
			writeSitrepEnc(t, s, "RXA", 2, t0.Add(24*time.Hour), sitrepEnc{id: "b", pathway: "1", nctrSince: "2026-11-29", reason: "capacity-home-care"})
			writeSitrepEnc(t, s, "RXA", 2, t0.Add(48*time.Hour),
				sitrepEnc{id: "c", status: "finished", pathway: "1", nctrSince: "2026-11-29", reason: "capacity-home-care", end: "2026-11-29T10:15:00Z"},
				sitrepEnc{id: "e", status: "finished", pathway: "0", end: "2026-11-28T14:00:00Z"})
			// An update that changes nothing the sitrep counts moves nothing.
			writeSitrepEnc(t, s, "RXA", 2, t0.Add(49*time.Hour), sitrepEnc{id: "a", pathway: "3", nctrSince: "2026-11-25", reason: "capacity-care-home"})

			s1 := sitrepOf(t, r, "RXA", asOf, from, to)
			if s1.NCTR != 2 || s1.ByPathway["3"] != 1 || s1.ByPathway["1"] != 1 || s1.ByReason["capacity-care-home"] != 1 || s1.ByReason["capacity-home-care"] != 1 {
				t.Fatalf("stock %+v", s1)
			}
			if s1.ByBand[0] != 1 || s1.ByBand[2] != 1 {
				t.Fatalf("bands %v", s1.ByBand)
			}
			sat, sun := s1.Days[0], s1.Days[1]
			if sat.DischargeTotal != 1 || sat.Discharges["0"] != 1 || sat.DischargesBeforeNoon != 0 ||
				sun.DischargeTotal != 1 || sun.Discharges["1"] != 1 || sun.DischargesBeforeNoon != 1 || s1.WeekendDischarges != 2 {
				t.Fatalf("discharges %+v", s1.Days)
			}
			// New NCTR on 29 Nov: b and c (x is cancelled).
			if sun.NewNCTRTotal != 2 || sat.NewNCTRTotal != 0 {
				t.Fatalf("new NCTR %+v", s1.Days)
			}
			// A late correction after the day closed: e's discharge was
			// really on Monday 30 Nov at 09:00, on pathway 1.
			writeSitrepEnc(t, s, "RXA", 3, t0.Add(5*24*time.Hour),
				sitrepEnc{id: "e", status: "finished", pathway: "1", end: "2026-11-30T09:00:00Z"})
			s2 := sitrepOf(t, r, "RXA", asOf, from, to)
			if s2.Days[0].DischargeTotal != 0 || s2.Days[2].Discharges["1"] != 1 || s2.Days[2].DischargesBeforeNoon != 1 || s2.WeekdayDischarges != 1 {
				t.Fatalf("after the correction %+v", s2.Days)
			}
			// Reopened by mistake and corrected: counts as open NCTR again.
			writeSitrepEnc(t, s, "RXA", 3, t0.Add(5*24*time.Hour), sitrepEnc{id: "c", pathway: "1", nctrSince: "2026-11-29", reason: "capacity-home-care"})
			if s3 := sitrepOf(t, r, "RXA", asOf, from, to); s3.NCTR != 3 || s3.Days[1].DischargeTotal != 0 {
				t.Fatalf("after the reopening %+v", s3)
			}
			// Tenancy: RXB sees its own case only.
			if o := sitrepOf(t, r, "RXB", asOf, from, to); o.NCTR != 1 || o.ByReason["other"] != 1 || o.ByBand[5] != 0 || o.ByBand[3] != 1 {
				t.Fatalf("RXB %+v", o)
			}
			// b's delay history: transport from t0, capacity-home-care from t0+24h.
			h, err := r.DelayHistory(ctx, "RXA", "b")
			if err != nil {
				t.Fatal(err)
			}
			if len(h) != 2 || h[0].Reason != "transport" || !h[0].From.Equal(t0) || !h[0].To.Equal(t0.Add(24*time.Hour)) ||
				h[1].Reason != "capacity-home-care" || !h[1].To.IsZero() {
				t.Fatalf("history %+v", h)
			}
			// c's spell ended when it was discharged and a new one began when it reopened.
			h, _ = r.DelayHistory(ctx, "RXA", "c")
			if len(h) != 2 || !h[0].To.Equal(t0.Add(48*time.Hour)) || !h[1].From.Equal(t0.Add(5*24*time.Hour)) {
				t.Fatalf("history of c %+v", h)
			}
		},
		"invariants over many cases": func(t *testing.T, s *sqlstore.Store) {
			r := sqlstore.NewSitrep(s)
			var es []sitrepEnc
			reasons := []string{"", "transport", "capacity-care-home", "other"}
			for i := 0; i < 120; i++ {
				e := sitrepEnc{id: fmt.Sprintf("k%03d", i), nctrSince: fmt.Sprintf("2026-11-%02d", 1+i%29), reason: reasons[i%4]}
				if i%5 != 4 {
					e.pathway = fmt.Sprint(i % 4)
				}
				es = append(es, e)
			}
			writeSitrepEnc(t, s, "RXA", 1, t0, es...)
			st := sitrepOf(t, r, "RXA", asOf, d("2026-11-01"), asOf)
			sum := func(m map[string]int) (n int) {
				for _, v := range m {
					n += v
				}
				return n
			}
			bands := 0
			for _, n := range st.ByBand {
				bands += n
			}
			newTotal := 0
			for _, day := range st.Days {
				newTotal += day.NewNCTRTotal
			}
			if st.NCTR != 120 || sum(st.ByPathway) != 120 || sum(st.ByReason) != 120 || bands != 120 || newTotal != 120 {
				t.Fatalf("NCTR %d pathways %d reasons %d bands %d new %d", st.NCTR, sum(st.ByPathway), sum(st.ByReason), bands, newTotal)
			}
		},
	})
}

// Unmet demand is counted per trust, week, district, need and top filter,
// requirements in any order counting as one need; no identity is stored.
func TestUnmetDemand(t *testing.T) {
	ctx := context.Background()
	mon := time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC) // a Monday
	sqlEngines(t, map[string]func(t *testing.T, s *sqlstore.Store){
		"counted by week and need": func(t *testing.T, s *sqlstore.Store) {
			r := sqlstore.NewSitrep(s)
			rec := func(part string, at time.Time, reqs ...discharge.Requirement) {
				if err := r.RecordDemand(ctx, part, discharge.Demand{At: at, Outcode: "M14", Setting: discharge.CareNursing,
					Requirements: reqs, Options: 1, TopFilter: discharge.Filter("no-vacancy")}); err != nil {
					t.Fatal(err)
				}
			}
			rec("RXA", mon, discharge.ReqHoist, discharge.ReqTwoCarers)
			rec("RXA", mon.Add(48*time.Hour), discharge.ReqTwoCarers, discharge.ReqHoist)
			rec("RXA", mon.Add(7*24*time.Hour), discharge.ReqHoist)
			rec("RXB", mon)
			week := discharge.WeekOf(d("2026-12-02"))
			got, err := r.UnmetDemand(ctx, "RXA", week, week)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 1 || got[0].N != 2 || got[0].Outcode != "M14" || len(got[0].Requirements) != 2 || got[0].Week.String() != "2026-11-30" || got[0].TopFilter != "no-vacancy" {
				t.Fatalf("%+v", got)
			}
			if got, _ := r.UnmetDemand(ctx, "RXB", week, week+7); len(got) != 1 || got[0].N != 1 {
				t.Fatalf("RXB %+v", got)
			}
		},
	})
}
