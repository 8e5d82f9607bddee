package mappings_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/mappings"
)

func TestVirtualWardPlace(t *testing.T) {
	doc := func(s string) map[string]any {
		var m map[string]any
		if err := json.Unmarshal([]byte(s), &m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	for _, c := range []struct {
		name, loc, org string
		want           discharge.WardPlace
	}{
		{"identifier", `{"name":"A","address":{"postalCode":"m14 5ab"}}`, `{"partOf":{"identifier":{"value":"qop "}}}`, discharge.WardPlace{Name: "A", District: "M14", ICB: "QOP"}},
		{"reference", `{"name":"B","address":{"postalCode":"SK30AA"}}`, `{"partOf":{"reference":"Organization/QWO"}}`, discharge.WardPlace{Name: "B", District: "SK3", ICB: "QWO"}},
		{"identifier wins", `{}`, `{"partOf":{"reference":"Organization/X","identifier":{"value":"QOP"}}}`, discharge.WardPlace{ICB: "QOP"}},
		{"no organization", `{"address":{"postalCode":"not a postcode!"}}`, ``, discharge.WardPlace{}},
		{"wrong shapes", `{"name":3,"address":"x"}`, `{"partOf":"QOP"}`, discharge.WardPlace{}},
		{"partOf not an organization", `{}`, `{"partOf":{"reference":"Location/1"}}`, discharge.WardPlace{}},
	} {
		t.Run(c.name, func(t *testing.T) {
			var org map[string]any
			if c.org != "" {
				org = doc(c.org)
			}
			if got := mappings.VirtualWardPlace(doc(c.loc), org); got != c.want {
				t.Errorf("got %+v want %+v", got, c.want)
			}
		})
	}
}

func FuzzVirtualWardPlace(f *testing.F) {
	f.Add(`{"name":"A","address":{"postalCode":"M14 5AB"}}`, `{"partOf":{"identifier":{"value":"QOP"}}}`)
	f.Add(`{"address":{"postalCode":7}}`, `{"partOf":{"reference":"/"}}`)
	f.Fuzz(func(t *testing.T, loc, org string) {
		var l, o map[string]any
		_ = json.Unmarshal([]byte(loc), &l)
		_ = json.Unmarshal([]byte(org), &o)
		_ = mappings.VirtualWardPlace(l, o)
	})
}

// TestVirtualWardsReportAddsUp: in the rendered MeasureReport every
// stratifier's strata add up to its group's numerator and denominator.
func TestVirtualWardsReportAddsUp(t *testing.T) {
	day := func(s string) discharge.Date { d, _ := discharge.ParseDate(s); return d }
	rows := []discharge.WardDay{
		{Location: "W1", Day: day("2026-11-29"), Occupied: 16, Capacity: 20, PeakOccupied: 18},
		{Location: "W2", Day: day("2026-11-30"), Occupied: 3, Capacity: 10, PeakOccupied: 3},
		{Location: "W3", Day: day("2026-11-30"), Occupied: 0, Capacity: 0},
	}
	places := map[string]discharge.WardPlace{"W1": {Name: "One", District: "M14", ICB: "QOP"}, "W2": {District: "SK3", ICB: "QOP"}}
	rep := discharge.ComputeVirtualWards(day("2026-11-29"), day("2026-11-30"), rows, places, nil)
	var mr struct {
		Subject map[string]any
		Group   []struct {
			Code         struct{ Coding []struct{ Code string } }
			Population   []struct{ Count int }
			MeasureScore *struct{ Value float64 }
			Stratifier   []struct {
				Code    []struct{ Coding []struct{ Code string } }
				Stratum []struct {
					Population []struct{ Count int }
				}
			}
		}
	}
	if err := json.Unmarshal(mappings.VirtualWardsToMeasureReport("x", "Location/W1", time.Now(), rep), &mr); err != nil {
		t.Fatal(err)
	}
	if mr.Subject["reference"] != "Location/W1" || len(mr.Group) != 2 {
		t.Fatalf("%+v", mr)
	}
	// Occupancy on the 30th: 16+3+0 of 20+10+0; the trend adds both days
	// (29th: W1 16/20 only).
	want := map[string][2]int{mappings.WardOccupancy: {19, 30}, mappings.WardTrend: {35, 50}}
	for _, g := range mr.Group {
		code := g.Code.Coding[0].Code
		n, d := g.Population[0].Count, g.Population[1].Count
		if [2]int{n, d} != want[code] {
			t.Errorf("%s: %d/%d", code, n, d)
		}
		if code == mappings.WardOccupancy && (g.MeasureScore == nil || g.MeasureScore.Value != 0.6333) {
			t.Errorf("score: %+v", g.MeasureScore)
		}
		for _, s := range g.Stratifier {
			var sn, sd int
			for _, st := range s.Stratum {
				sn, sd = sn+st.Population[0].Count, sd+st.Population[1].Count
			}
			if sn != n || sd != d {
				t.Errorf("%s/%s: strata %d/%d, group %d/%d", code, s.Code[0].Coding[0].Code, sn, sd, n, d)
			}
		}
	}
	csv := string(mappings.VirtualWardsCSV(rep))
	for _, line := range []string{
		"date,level,code,name,occupied,capacity,occupancy_percent,target_percent,below_target,peak_occupied,posted_date",
		"2026-11-29,ward,W1,One,16,20,80.0,80,false,18,2026-11-29",
		"2026-11-30,ward,W1,One,16,20,80.0,80,false,16,2026-11-29",
		"2026-11-30,ward,W3,W3,0,0,,80,false,0,2026-11-30",
		"2026-11-30,total,,,19,30,63.3,80,true,,",
		"2026-11-30,district,unknown,,0,0,,80,false,,",
	} {
		if !strings.Contains(csv, line+"\n") {
			t.Errorf("no line %q in\n%s", line, csv)
		}
	}
}
