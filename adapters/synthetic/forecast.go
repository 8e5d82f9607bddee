package synthetic

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/dischargegateway/gateway/discharge"
)

// Stay is what the 14-day forecast knows of one synthetic stay, for
// replaying past forecasts (Forecasts).
type Stay struct {
	Trust, ID string
	Pathway   string
	Outcode   string
	Admitted  time.Time
	// Ended is zero while the stay is open.
	Ended time.Time
	EDD   discharge.Date
	// DRD is the Discharge Ready Date, zero when none is recorded.
	DRD discharge.Date
}

// Patient is one synthetic Patient: an id in a trust, and a home postcode
// district only (no name, no NHS number, no full postcode).
type Patient struct {
	Trust, ID string
	JSON      []byte
}

// WithForecast gives each synthetic stay what the forecast reads: a
// Patient of its own living in one of districts (its subject then
// references it), an expected discharge date (open stays: from three days
// ago to 16 days ahead, so most fall in the next 14 days; discharged
// stays: within two days either side of the day they left, as EDDs slip)
// and, for one in three stays no longer meeting the criteria to reside, a
// Discharge Ready Date on the day they stopped meeting them.
func WithForecast(cs []Case, districts []string, now time.Time, seed uint64) ([]Case, []Patient, []Stay) {
	r := rand.New(rand.NewPCG(seed, 1814))
	today := discharge.DayNumber(discharge.Today(now))
	out := make([]Case, 0, len(cs))
	var pats []Patient
	var stays []Stay
	for i, c := range cs {
		var enc map[string]any
		if err := json.Unmarshal(c.Encounter, &enc); err != nil || len(districts) == 0 {
			out = append(out, c)
			continue
		}
		st := Stay{Trust: c.Trust, ID: c.ID, Outcode: districts[r.IntN(len(districts))]}
		pid := fmt.Sprintf("synthetic-patient-%s-%05d", c.Trust, i)
		pat, _ := json.Marshal(map[string]any{"resourceType": "Patient", "id": pid,
			"address": []any{map[string]any{"use": "home", "postalCode": st.Outcode, "country": "GB"}}})
		pats = append(pats, Patient{Trust: c.Trust, ID: pid, JSON: pat})
		subj, _ := enc["subject"].(map[string]any)
		if subj == nil {
			subj = map[string]any{}
		}
		subj["reference"] = "Patient/" + pid
		enc["subject"] = subj
		period, _ := enc["period"].(map[string]any)
		st.Admitted, _ = time.Parse(time.RFC3339, fmt.Sprint(period["start"]))
		if end, ok := period["end"].(string); ok {
			st.Ended, _ = time.Parse(time.RFC3339, end)
			st.EDD = discharge.DateOfDay(discharge.DayNumber(discharge.ReportingDay(st.Ended)) + int64(r.IntN(5)-2))
		} else {
			st.EDD = discharge.DateOfDay(today + int64(r.IntN(20)-3))
		}
		exts, _ := enc["extension"].([]any)
		for _, e := range exts {
			m, _ := e.(map[string]any)
			switch m["url"] {
			case baseURL + "StructureDefinition/discharge-pathway":
				if cc, ok := m["valueCodeableConcept"].(map[string]any); ok {
					if cd, ok := cc["coding"].([]any); ok && len(cd) > 0 {
						st.Pathway, _ = cd[0].(map[string]any)["code"].(string)
					}
				}
			case baseURL + "StructureDefinition/criteria-to-reside":
				subs, _ := m["extension"].([]any)
				for _, s := range subs {
					if sm, _ := s.(map[string]any); sm["url"] == "since" && r.IntN(3) == 0 {
						st.DRD, _ = discharge.ParseDate(fmt.Sprint(sm["valueDate"]))
					}
				}
			}
		}
		exts = append(exts, map[string]any{"url": "http://hl7.org/fhir/5.0/StructureDefinition/extension-Encounter.plannedEndDate",
			"valueDateTime": st.EDD.String()})
		if !st.DRD.IsZero() {
			exts = append(exts, map[string]any{"url": baseURL + "StructureDefinition/discharge-ready-date", "valueDate": st.DRD.String()})
		}
		enc["extension"] = exts
		b, _ := json.Marshal(enc)
		out = append(out, Case{Trust: c.Trust, ID: c.ID, Encounter: b})
		stays = append(stays, st)
	}
	return out, pats, stays
}

const baseURL = "https://fhir.discharge-gateway.example/"

// Forecasts replays the forecast of each trust on each of the days
// before now (from days back to yesterday) over stays, as the first
// report of that day would have kept it: the stays admitted before the
// day and not yet gone, due on their Discharge Ready Date if it was
// already recorded, else their EDD (discharge.ComputeForecast). It is the
// history the backtest scores when a seeded gateway first reports.
func Forecasts(stays []Stay, days int, now time.Time) map[string][]discharge.Forecast {
	today := discharge.DayNumber(discharge.Today(now))
	out := map[string][]discharge.Forecast{}
	trusts := map[string]bool{}
	for _, s := range stays {
		trusts[s.Trust] = true
	}
	for trust := range trusts {
		for back := days; back >= 1; back-- {
			m := discharge.DateOfDay(today - int64(back))
			start := discharge.DayStart(m)
			var due []discharge.DueCount
			for _, s := range stays {
				if s.Trust != trust || !s.Admitted.Before(start) || (!s.Ended.IsZero() && s.Ended.Before(start)) {
					continue
				}
				d := s.EDD
				if !s.DRD.IsZero() && !s.DRD.After(m) {
					d = s.DRD
				}
				due = append(due, discharge.DueCount{Day: d, Pathway: s.Pathway, Outcode: s.Outcode, N: 1})
			}
			out[trust] = append(out[trust], discharge.ComputeForecast(m, due))
		}
	}
	return out
}
