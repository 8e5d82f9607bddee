package mappings

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"strconv"
	"time"

	"github.com/dischargegateway/gateway/discharge"
)

// UnmetMeasureURL is the canonical URL of the weekly unmet-demand Measure.
const UnmetMeasureURL = "https://fhir.discharge-gateway.example/Measure/unmet-demand"

// UnmetMeasureID is its id (GET /fhir/Measure/{id}).
const UnmetMeasureID = "unmet-demand"

// UnmetSystem codes the unmet-demand report's group, stratifiers and
// stratifier components.
const UnmetSystem = CodeSystemBase + "unmet-demand"

// The unmet-demand report's codes (UnmetSystem).
const (
	UnmetGroup        = "unmet-demand"
	UnmetDistrict     = "district"
	UnmetSetting      = "setting"
	UnmetRequirements = "requirements"
	UnmetTopFilter    = "top-filter"
)

// The two component stratifiers. A stratifier of components is known by
// its components' codes (Measure invariant mea-1 gives it no code of its
// own; MeasureReport.group.stratifier.code lists them, in this order):
//   - district, setting, requirements, top-filter: the full breakdown, one
//     stratum per combination seen (adds up to the group's count);
//   - district, top-filter: one stratum per district, the filter that was
//     the top exclusion most often there, counting the searches it topped.
var (
	unmetNeedComponents      = []string{UnmetDistrict, UnmetSetting, UnmetRequirements, UnmetTopFilter}
	unmetTopFilterComponents = []string{UnmetDistrict, UnmetTopFilter}
)

// UnmetConcepts are the codes of UnmetSystem.
func UnmetConcepts() []discharge.Concept {
	return []discharge.Concept{
		{Code: UnmetGroup, Display: "Unmet placement demand", Definition: "Placement searches (ServiceRequest/$placement-options on a stored request) that found fewer than three options in the week, Monday to Sunday in England. No patient identity is counted."},
		{Code: UnmetDistrict, Display: "Postcode district", Definition: "The outward code of the patient's home postcode (e.g. M14)."},
		{Code: UnmetSetting, Display: "Care setting", Definition: "The care setting asked for (" + CareSettingSystem + ")."},
		{Code: UnmetRequirements, Display: "Requirements", Definition: "The requirements asked for (" + RequirementSystem + " codes), sorted and joined by +; none when there were none."},
		{Code: UnmetTopFilter, Display: "Top exclusion", Definition: "The hard filter (" + ExclusionReasonSystem + ") that excluded the most candidate providers in the search; none when none was excluded (too few providers at all)."},
	}
}

// unmetValue renders a stratum value: coded where the key is a code of
// system, text always (the combined keys have no code).
func unmetValue(system, key string) map[string]any {
	v := map[string]any{"text": key}
	if system != "" && key != discharge.NoFilter && key != discharge.NoRequirements && key != "" {
		v["coding"] = []any{map[string]any{"system": system, "code": key}}
	}
	return v
}

func unmetStratifier(code, system string, counts map[string]int) map[string]any {
	keys := discharge.SortedKeys(counts)
	strata := make([]any, 0, len(keys))
	for _, k := range keys {
		strata = append(strata, map[string]any{"value": unmetValue(system, k), "population": initialPopulation(counts[k])})
	}
	return map[string]any{"code": []any{coded(UnmetSystem, code)}, "stratum": strata}
}

func unmetComponent(code, system, key string) map[string]any {
	return map[string]any{"code": coded(UnmetSystem, code), "value": unmetValue(system, key)}
}

// UnmetToMeasureReport renders one week of unmet demand for subject (a
// trust, hub or system client by ODS code) as a summary MeasureReport of
// UnmetMeasureURL: one group whose initial population is the week's unmet
// searches, stratified by district, setting, requirements and top filter
// (each adding up to the total), by district × need (components; adds up
// too) and by each district's top filter (one stratum per district,
// counting the searches in which that filter excluded most); see
// unmetNeedComponents.
func UnmetToMeasureReport(id, subject string, generated time.Time, w discharge.UnmetWeek) []byte {
	district, setting, reqs, filter := map[string]int{}, map[string]int{}, map[string]int{}, map[string]int{}
	var need, top []any
	for _, d := range w.Districts {
		district[d.Outcode] += d.Total
		for k, n := range d.BySetting {
			setting[k] += n
		}
		for k, n := range d.ByRequirements {
			reqs[k] += n
		}
		for k, n := range d.ByFilter {
			filter[k] += n
		}
		for _, c := range d.Cells {
			need = append(need, map[string]any{"component": []any{
				unmetComponent(UnmetDistrict, "", d.Outcode),
				unmetComponent(UnmetSetting, CareSettingSystem, string(c.Setting)),
				unmetComponent(UnmetRequirements, "", discharge.RequirementsKey(c.Requirements)),
				unmetComponent(UnmetTopFilter, ExclusionReasonSystem, discharge.FilterKey(c.TopFilter)),
			}, "population": initialPopulation(c.N)})
		}
		if d.TopFilter != "" {
			top = append(top, map[string]any{"component": []any{
				unmetComponent(UnmetDistrict, "", d.Outcode),
				unmetComponent(UnmetTopFilter, ExclusionReasonSystem, string(d.TopFilter)),
			}, "population": initialPopulation(d.ByFilter[string(d.TopFilter)])})
		}
	}
	strats := []any{
		unmetStratifier(UnmetDistrict, "", district),
		unmetStratifier(UnmetSetting, CareSettingSystem, setting),
		unmetStratifier(UnmetRequirements, "", reqs),
		unmetStratifier(UnmetTopFilter, ExclusionReasonSystem, filter),
		componentStratifier(unmetNeedComponents, need),
		componentStratifier(unmetTopFilterComponents, top),
	}
	// A stratifier with no strata would be an empty array, which FHIR
	// forbids: an empty week reports its zero total and no stratifiers.
	if w.Total == 0 {
		strats = nil
	}
	g := map[string]any{"code": coded(UnmetSystem, UnmetGroup), "population": initialPopulation(w.Total)}
	if strats != nil {
		g["stratifier"] = strats
	}
	end := discharge.DateOfDay(discharge.DayNumber(w.Week) + 6)
	mr := map[string]any{"resourceType": "MeasureReport", "id": id, "status": "complete", "type": "summary",
		"measure": UnmetMeasureURL, "subject": SitrepSubject(subject), "date": generated.UTC().Format(time.RFC3339),
		"period": map[string]any{"start": w.Week.String(), "end": end.String()}, "group": []any{g}}
	b, _ := json.Marshal(mr)
	return b
}

// componentStratifier is a stratifier of component strata; with none
// (a week in which no search had a top filter) it has no stratum element
// at all, as FHIR JSON allows no empty array.
func componentStratifier(components []string, strata []any) map[string]any {
	codes := make([]any, len(components))
	for i, c := range components {
		codes[i] = coded(UnmetSystem, c)
	}
	s := map[string]any{"code": codes}
	if len(strata) > 0 {
		s["stratum"] = strata
	}
	return s
}

// UnmetMeasure is the Measure unmet-demand MeasureReports conform to.
func UnmetMeasure() []byte {
	concepts := map[string]discharge.Concept{}
	for _, c := range UnmetConcepts() {
		concepts[c.Code] = c
	}
	crit := func(code string) map[string]any {
		return map[string]any{"language": "text/fhirpath", "expression": "{}",
			"description": concepts[code].Definition + " Counted by the gateway as placement searches run (docs/sitrep.md)."}
	}
	strat := func(code string) map[string]any {
		return map[string]any{"code": coded(UnmetSystem, code), "description": concepts[code].Definition, "criteria": crit(code)}
	}
	// A component stratifier has components and nothing else (mea-1).
	components := func(comps []string, what string) map[string]any {
		var cs []any
		for _, c := range comps {
			cs = append(cs, map[string]any{"code": coded(UnmetSystem, c), "description": concepts[c].Definition + " (" + what + ")", "criteria": crit(c)})
		}
		return map[string]any{"component": cs}
	}
	m := map[string]any{"resourceType": "Measure", "id": UnmetMeasureID, "url": UnmetMeasureURL, "version": "1.0.0",
		"name": "UnmetDemand", "title": "Weekly unmet placement demand by postcode district", "status": "active", "publisher": "Discharge Gateway",
		"description": "Where care is hard to source: placement searches that found fewer than three options, per week (Monday to Sunday in England), by the patient's postcode district, the care setting and requirements asked for, and the hard filter that excluded most of the providers nearby. No patient identity is counted. MeasureReport.subject is the trust, hub or commissioner by ODS code.",
		"scoring":     coded("http://terminology.hl7.org/CodeSystem/measure-scoring", "cohort"),
		"group": []any{map[string]any{"code": coded(UnmetSystem, UnmetGroup), "description": concepts[UnmetGroup].Definition,
			"population": []any{map[string]any{"code": coded(measurePopulationSystem, "initial-population"), "criteria": crit(UnmetGroup)}},
			"stratifier": []any{
				strat(UnmetDistrict), strat(UnmetSetting), strat(UnmetRequirements), strat(UnmetTopFilter),
				components(unmetNeedComponents, "the full breakdown: one stratum per combination seen"),
				components(unmetTopFilterComponents, "per district, the filter that was the top exclusion most often, counting the searches it topped"),
			}}}}
	b, _ := json.Marshal(m)
	return b
}

// UnmetCSV renders weeks of unmet demand as CSV: one row per week,
// district and need (setting, requirements, top filter) with its count,
// districts with most searches first; a week with none has no rows.
func UnmetCSV(subject string, weeks []discharge.UnmetWeek) []byte {
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	_ = w.Write([]string{"org_code", "week_start", "district", "setting", "requirements", "top_filter", "searches", "district_searches", "district_top_filter"})
	for _, wk := range weeks {
		for _, d := range wk.Districts {
			for _, c := range d.Cells {
				_ = w.Write([]string{subject, wk.Week.String(), d.Outcode, string(c.Setting), discharge.RequirementsKey(c.Requirements),
					discharge.FilterKey(c.TopFilter), strconv.Itoa(c.N), strconv.Itoa(d.Total), discharge.FilterKey(d.TopFilter)})
			}
		}
	}
	w.Flush()
	return buf.Bytes()
}
