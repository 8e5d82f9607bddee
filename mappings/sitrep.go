package mappings

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"strconv"
	"time"

	"github.com/dischargegateway/gateway/discharge"
)

// SitrepMeasureURL is the canonical URL of the discharge sitrep Measure.
const SitrepMeasureURL = "https://fhir.discharge-gateway.example/Measure/discharge-sitrep"

// SitrepMeasureID is the sitrep Measure's id (GET /fhir/Measure/{id}).
const SitrepMeasureID = "discharge-sitrep"

// SitrepSystem codes the sitrep's groups and stratifiers.
const SitrepSystem = CodeSystemBase + "sitrep"

// measurePopulationSystem is HL7's measure-population code system.
const measurePopulationSystem = "http://terminology.hl7.org/CodeSystem/measure-population"

// The sitrep's groups and stratifiers (SitrepSystem codes).
const (
	SitrepNCTR       = "nctr"
	SitrepDischarges = "discharges"
	SitrepNewNCTR    = "new-nctr"
	StratPathway     = "pathway"
	StratReason      = "delay-reason"
	StratBand        = "delay-band"
	StratDay         = "day"
	StratDayType     = "day-type"
	StratBeforeNoon  = "before-noon"
)

// SitrepConcepts are the codes of SitrepSystem.
func SitrepConcepts() []discharge.Concept {
	return []discharge.Concept{
		{Code: SitrepNCTR, Display: "Patients not meeting the criteria to reside", Definition: "Inpatients whose Encounter says they no longer meet the criteria to reside, at the time of the report."},
		{Code: SitrepDischarges, Display: "Discharges", Definition: "Encounters finished (period.end) on each reporting day, midnight to midnight in England."},
		{Code: SitrepNewNCTR, Display: "New NCTR patients", Definition: "Patients who stopped meeting the criteria to reside on each reporting day (the criteria-to-reside extension's since)."},
		{Code: StratPathway, Display: "Discharge pathway", Definition: "Pathway 0 to 3, or unknown."},
		{Code: StratReason, Display: "Delay reason", Definition: "The first sitrep delay reason of the Encounter, or not-recorded."},
		{Code: StratBand, Display: "Delay band", Definition: "Days since the patient stopped meeting the criteria to reside: 0-1, 2-3, 4-6, 7-13, 14-20, 21+."},
		{Code: StratDay, Display: "Reporting day", Definition: "The reporting day, YYYY-MM-DD in England."},
		{Code: StratDayType, Display: "Weekday or weekend", Definition: "weekday or weekend (Saturday and Sunday)."},
		{Code: StratBeforeNoon, Display: "Before noon", Definition: "Discharges before 12:00 on the clock in England, per day."},
	}
}

func coded(system, code string) map[string]any {
	return map[string]any{"coding": []any{map[string]any{"system": system, "code": code}}}
}

func initialPopulation(n int) []any {
	return []any{map[string]any{"code": coded(measurePopulationSystem, "initial-population"), "count": n}}
}

// stratifier renders one stratifier whose strata are keys with counts, in
// the order given.
func stratifier(code string, keys []string, count func(string) int) map[string]any {
	strata := make([]any, 0, len(keys))
	for _, k := range keys {
		strata = append(strata, map[string]any{"value": map[string]any{"text": k}, "population": initialPopulation(count(k))})
	}
	return map[string]any{"code": []any{coded(SitrepSystem, code)}, "stratum": strata}
}

// SitrepSubject is how a report names its subject: an Organization by its
// ODS code (trusts and hubs have no Organization resource here).
func SitrepSubject(ods string) map[string]any {
	return map[string]any{"identifier": map[string]any{"system": ODSSystem, "value": ods}}
}

// SitrepToMeasureReport renders a sitrep as a SANER-style summary
// MeasureReport of SitrepMeasureURL: three groups (nctr, discharges,
// new-nctr), each with its total as the initial population and its
// breakdowns as stratifiers; every stratifier's strata add up to the
// group's count except before-noon (a subset per day).
func SitrepToMeasureReport(id, subject string, generated time.Time, s discharge.Sitrep) []byte {
	var bands []string
	for _, b := range discharge.DelayBands() {
		bands = append(bands, b.Code)
	}
	bandIndex := map[string]int{}
	for i, b := range bands {
		bandIndex[b] = i
	}
	days := make([]string, len(s.Days))
	byDay := map[string]discharge.SitrepDay{}
	for i, d := range s.Days {
		days[i] = d.Day.String()
		byDay[days[i]] = d
	}
	dayPathways := func(field func(discharge.SitrepDay) map[string]int) func(string) int {
		return func(p string) int {
			n := 0
			for _, d := range s.Days {
				n += field(d)[p]
			}
			return n
		}
	}
	disTotal, newTotal := 0, 0
	for _, d := range s.Days {
		disTotal += d.DischargeTotal
		newTotal += d.NewNCTRTotal
	}
	reasons := discharge.SortedKeys(s.ByReason)
	groups := []any{
		map[string]any{"code": coded(SitrepSystem, SitrepNCTR), "population": initialPopulation(s.NCTR),
			"stratifier": []any{
				stratifier(StratPathway, discharge.SitrepPathways(), func(k string) int { return s.ByPathway[k] }),
				stratifier(StratReason, reasons, func(k string) int { return s.ByReason[k] }),
				stratifier(StratBand, bands, func(k string) int { return s.ByBand[bandIndex[k]] }),
			}},
		map[string]any{"code": coded(SitrepSystem, SitrepDischarges), "population": initialPopulation(disTotal),
			"stratifier": []any{
				stratifier(StratPathway, discharge.SitrepPathways(), dayPathways(func(d discharge.SitrepDay) map[string]int { return d.Discharges })),
				stratifier(StratDay, days, func(k string) int { return byDay[k].DischargeTotal }),
				stratifier(StratDayType, []string{"weekday", "weekend"}, func(k string) int {
					if k == "weekend" {
						return s.WeekendDischarges
					}
					return s.WeekdayDischarges
				}),
				stratifier(StratBeforeNoon, days, func(k string) int { return byDay[k].DischargesBeforeNoon }),
			}},
		map[string]any{"code": coded(SitrepSystem, SitrepNewNCTR), "population": initialPopulation(newTotal),
			"stratifier": []any{
				stratifier(StratPathway, discharge.SitrepPathways(), dayPathways(func(d discharge.SitrepDay) map[string]int { return d.NewNCTR })),
				stratifier(StratDay, days, func(k string) int { return byDay[k].NewNCTRTotal }),
			}},
	}
	mr := map[string]any{"resourceType": "MeasureReport", "id": id, "status": "complete", "type": "summary",
		"measure": SitrepMeasureURL, "subject": SitrepSubject(subject), "date": generated.UTC().Format(time.RFC3339),
		"period": map[string]any{"start": s.From.String(), "end": s.To.String()}, "group": groups}
	b, _ := json.Marshal(mr)
	return b
}

// measureGroup returns a builder of a cohort Measure's groups whose codes
// are concepts of system: a group of code with its initial population and
// a stratifier for each of strats, each described by its concept's
// definition (criteria descriptions end with how, a sentence). The
// sitrep's and the forecast's Measures are built with it.
func measureGroup(system string, list []discharge.Concept, how string) func(code string, strats ...string) map[string]any {
	concepts := map[string]discharge.Concept{}
	for _, c := range list {
		concepts[c.Code] = c
	}
	crit := func(code string) map[string]any {
		return map[string]any{"language": "text/fhirpath", "expression": "{}", "description": concepts[code].Definition + " " + how}
	}
	return func(code string, strats ...string) map[string]any {
		var ss []any
		for _, s := range strats {
			ss = append(ss, map[string]any{"code": coded(system, s), "description": concepts[s].Definition, "criteria": crit(s)})
		}
		return map[string]any{"code": coded(system, code), "description": concepts[code].Definition,
			"population": []any{map[string]any{"code": coded(measurePopulationSystem, "initial-population"), "criteria": crit(code)}},
			"stratifier": ss}
	}
}

// SitrepMeasure is the Measure sitrep MeasureReports conform to.
func SitrepMeasure() []byte {
	group := measureGroup(SitrepSystem, SitrepConcepts(), "Computed from counters the gateway keeps as Encounters change (docs/sitrep.md).")
	m := map[string]any{"resourceType": "Measure", "id": SitrepMeasureID, "url": SitrepMeasureURL, "version": "1.0.0",
		"name": "DischargeSitrep", "title": "Daily discharge situation report", "status": "active", "publisher": "Discharge Gateway",
		"description": "The acute discharge sitrep computed from live data: patients not meeting the criteria to reside by pathway, delay reason and delay band; discharges per reporting day (England's midnight to midnight) by pathway, weekdays and weekends apart, and before noon; new NCTR patients per day. MeasureReport.subject is the trust or hub by ODS code.",
		"scoring":     coded("http://terminology.hl7.org/CodeSystem/measure-scoring", "cohort"),
		"group": []any{
			group(SitrepNCTR, StratPathway, StratReason, StratBand),
			group(SitrepDischarges, StratPathway, StratDay, StratDayType, StratBeforeNoon),
			group(SitrepNewNCTR, StratPathway, StratDay),
		}}
	b, _ := json.Marshal(m)
	return b
}

// SitrepCSV renders the report in the shape of the national daily return:
// one row per trust-or-hub and reporting day with that day's discharges by
// pathway (and before noon, weekend flag) and new NCTR patients; the NCTR
// stock columns (total, by pathway, by delay band, by reason) are the
// report's (as of its time) and filled on the last day's row only, the
// day a trust submits.
func SitrepCSV(subject string, s discharge.Sitrep) []byte {
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	pathways := discharge.SitrepPathways()
	head := []string{"org_code", "period_date", "weekend"}
	for _, p := range pathways {
		head = append(head, "discharges_p"+p)
	}
	head = append(head, "discharges_total", "discharges_before_noon", "new_nctr", "nctr_total")
	for _, p := range pathways {
		head = append(head, "nctr_p"+p)
	}
	for _, b := range discharge.DelayBands() {
		head = append(head, "nctr_days_"+b.Code)
	}
	reasons := append(discharge.DelayReasons(), discharge.Concept{Code: discharge.NotRecorded})
	for _, r := range reasons {
		head = append(head, "nctr_reason_"+r.Code)
	}
	_ = w.Write(head)
	itoa := strconv.Itoa
	for i, d := range s.Days {
		row := []string{subject, d.Day.String(), strconv.FormatBool(d.Weekend)}
		for _, p := range pathways {
			row = append(row, itoa(d.Discharges[p]))
		}
		row = append(row, itoa(d.DischargeTotal), itoa(d.DischargesBeforeNoon), itoa(d.NewNCTRTotal))
		if i == len(s.Days)-1 {
			row = append(row, itoa(s.NCTR))
			for _, p := range pathways {
				row = append(row, itoa(s.ByPathway[p]))
			}
			for _, n := range s.ByBand {
				row = append(row, itoa(n))
			}
			for _, r := range reasons {
				row = append(row, itoa(s.ByReason[r.Code]))
			}
		} else {
			for range 1 + len(pathways) + len(s.ByBand) + len(reasons) {
				row = append(row, "")
			}
		}
		_ = w.Write(row)
	}
	w.Flush()
	return buf.Bytes()
}
