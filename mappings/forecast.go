package mappings

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"strconv"
	"time"

	"github.com/dischargegateway/gateway/discharge"
)

// ForecastMeasureURL is the canonical URL of the 14-day discharge demand
// forecast Measure.
const ForecastMeasureURL = "https://fhir.discharge-gateway.example/Measure/discharge-forecast"

// ForecastMeasureID is the forecast Measure's id (GET /fhir/Measure/{id}).
const ForecastMeasureID = "discharge-forecast"

// ForecastSystem codes the forecast's groups, stratifiers, stratum
// components and settings.
const ForecastSystem = CodeSystemBase + "forecast"

// The forecast's codes (ForecastSystem).
const (
	ForecastDemand   = "demand"
	ForecastOverdue  = "overdue"
	ForecastVacant   = "vacancies"
	ForecastHeld     = "holds"
	ForecastBacktest = "backtest-mae"
	StratSetting     = "setting"
	StratDistrict    = "district"
	StratHorizon     = "horizon"
	StratCell        = "setting-district-day"
	StratSupplyCell  = "setting-district"
)

// ForecastConcepts are the codes of ForecastSystem.
func ForecastConcepts() []discharge.Concept {
	return []discharge.Concept{
		{Code: ForecastDemand, Display: "Forecast demand", Definition: "Open inpatient stays on pathways 1-3 due to leave (Discharge Ready Date, else expected discharge date) on each of the 14 days from the report's day; a due day already past counts on day 0."},
		{Code: ForecastOverdue, Display: "Overdue demand", Definition: "Of the demand on day 0, the stays whose due day is already past (a slipped EDD, or ready and still waiting)."},
		{Code: ForecastVacant, Display: "Vacancies now", Definition: "Beds or home-care packages posted as vacant and accepting admissions in the district now, by setting (not projected forward)."},
		{Code: ForecastHeld, Display: "Holds now", Definition: "Beds held for accepted referral offers in the district now, by setting."},
		{Code: ForecastBacktest, Display: "Backtest mean absolute error", Definition: "The mean absolute error of the forecasts kept over the last 28 days against the discharges that happened, per cell (made day, target day, setting, district) where either is not zero; measureScore is the MAE, the population count the cells compared."},
		{Code: StratSetting, Display: "Setting", Definition: "The service a pathway's demand falls on: home-care (pathway 1), step-down-bed (pathway 2), care-home (pathway 3)."},
		{Code: StratDistrict, Display: "Postcode district", Definition: "The patient's home postcode district, or unknown."},
		{Code: StratDay, Display: "Forecast day", Definition: "The day, YYYY-MM-DD in England."},
		{Code: StratHorizon, Display: "Horizon", Definition: "Days between the day a forecast was made and the day it forecast, 0-13."},
		{Code: StratCell, Display: "Setting, district and day", Definition: "One stratum per setting, district and day with demand: components setting, district and day."},
		{Code: StratSupplyCell, Display: "Setting and district", Definition: "One stratum per setting and district: components setting and district."},
		{Code: string(discharge.ForecastHomeCare), Display: "Home care (pathway 1)", Definition: "Support to recover at home: home care or reablement."},
		{Code: string(discharge.ForecastStepDownBed), Display: "Step-down bed (pathway 2)", Definition: "A rehabilitation or recovery bed: discharge-to-assess or intermediate care."},
		{Code: string(discharge.ForecastCareHome), Display: "Care home bed (pathway 3)", Definition: "A residential or nursing home bed."},
	}
}

func fcCode(code string) map[string]any { return coded(ForecastSystem, code) }

func component(code string, value map[string]any) map[string]any {
	return map[string]any{"code": fcCode(code), "value": value}
}

func textValue(s string) map[string]any { return map[string]any{"text": s} }

func fcStratum(value map[string]any, components []any, n int) map[string]any {
	s := map[string]any{"population": initialPopulation(n)}
	if components != nil {
		s["component"] = components
	} else {
		s["value"] = value
	}
	return s
}

func fcStratifier(code string, strata []any) map[string]any {
	if strata == nil {
		strata = []any{}
	}
	return map[string]any{"code": []any{fcCode(code)}, "stratum": strata}
}

// mae is a measureScore: the mean absolute error, to 3 decimals.
func mae(h discharge.HorizonMAE) map[string]any {
	v, _ := strconv.ParseFloat(strconv.FormatFloat(h.MAE(), 'f', 3, 64), 64)
	return map[string]any{"value": v, "unit": "discharges per cell", "system": "http://unitsofmeasure.org", "code": "1"}
}

// ForecastToMeasureReport renders a forecast as a summary MeasureReport of
// ForecastMeasureURL. Groups: demand (over the 14 days, by setting, day,
// and setting-district-day), overdue (by setting-district), vacancies and
// holds now (by setting-district, only when supply is known) and
// backtest-mae (measureScore the MAE over the cells, stratified by
// horizon; no measureScore where no cell was compared). The period is the
// forecast's 14 days.
func ForecastToMeasureReport(id, subject string, generated time.Time, f discharge.Forecast) []byte {
	total := 0
	for _, n := range f.Total {
		total += n
	}
	bySetting := map[discharge.ForecastSetting]int{}
	var cells, overdue, vacant, held []any
	supplyKnown := false
	for _, r := range f.Rows {
		bySetting[r.Setting] += r.Total
		set := component(StratSetting, fcCode(string(r.Setting)))
		dist := component(StratDistrict, textValue(r.Outcode))
		for i, n := range r.Demand {
			if n > 0 {
				cells = append(cells, fcStratum(nil, []any{set, dist, component(StratDay, textValue(f.Day(i).String()))}, n))
			}
		}
		if r.Overdue > 0 {
			overdue = append(overdue, fcStratum(nil, []any{set, dist}, r.Overdue))
		}
		if r.SupplyKnown {
			supplyKnown = true
			vacant = append(vacant, fcStratum(nil, []any{set, dist}, r.Vacant))
			held = append(held, fcStratum(nil, []any{set, dist}, r.Held))
		}
	}
	var settings, days []any
	for _, s := range discharge.ForecastSettings() {
		settings = append(settings, fcStratum(fcCode(string(s)), nil, bySetting[s]))
	}
	for i, n := range f.Total {
		days = append(days, fcStratum(textValue(f.Day(i).String()), nil, n))
	}
	groups := []any{
		map[string]any{"code": fcCode(ForecastDemand), "population": initialPopulation(total),
			"stratifier": []any{fcStratifier(StratSetting, settings), fcStratifier(StratDay, days), fcStratifier(StratCell, cells)}},
		map[string]any{"code": fcCode(ForecastOverdue), "population": initialPopulation(f.Overdue),
			"stratifier": []any{fcStratifier(StratSupplyCell, overdue)}},
	}
	if supplyKnown {
		sum := func(field func(discharge.ForecastRow) int) int {
			n := 0
			for _, r := range f.Rows {
				n += field(r)
			}
			return n
		}
		groups = append(groups,
			map[string]any{"code": fcCode(ForecastVacant), "population": initialPopulation(sum(func(r discharge.ForecastRow) int { return r.Vacant })),
				"stratifier": []any{fcStratifier(StratSupplyCell, vacant)}},
			map[string]any{"code": fcCode(ForecastHeld), "population": initialPopulation(sum(func(r discharge.ForecastRow) int { return r.Held })),
				"stratifier": []any{fcStratifier(StratSupplyCell, held)}})
	}
	var horizons []any
	for _, h := range f.Backtest.ByHorizon {
		s := fcStratum(textValue(strconv.Itoa(h.Horizon)), nil, h.Cells)
		if h.Cells > 0 {
			s["measureScore"] = mae(h)
		}
		horizons = append(horizons, s)
	}
	bt := map[string]any{"code": fcCode(ForecastBacktest), "population": initialPopulation(f.Backtest.Overall.Cells),
		"stratifier": []any{fcStratifier(StratHorizon, horizons)}}
	if f.Backtest.Overall.Cells > 0 {
		bt["measureScore"] = mae(f.Backtest.Overall)
	}
	groups = append(groups, bt)
	mr := map[string]any{"resourceType": "MeasureReport", "id": id, "status": "complete", "type": "summary",
		"measure": ForecastMeasureURL, "subject": SitrepSubject(subject), "date": generated.UTC().Format(time.RFC3339),
		"period": map[string]any{"start": f.Made.String(), "end": f.Day(discharge.ForecastDays - 1).String()}, "group": groups}
	b, _ := json.Marshal(mr)
	return b
}

// ForecastMeasure is the Measure forecast MeasureReports conform to.
func ForecastMeasure() []byte {
	group := measureGroup(ForecastSystem, ForecastConcepts(), "Computed from counters the gateway keeps as Encounters change (docs/sitrep.md, Forecast).")
	m := map[string]any{"resourceType": "Measure", "id": ForecastMeasureID, "url": ForecastMeasureURL, "version": "1.0.0",
		"name": "DischargeDemandForecast", "title": "14-day discharge demand forecast", "status": "active", "publisher": "Discharge Gateway",
		"description": "Demand for post-discharge services on each of the next 14 days, by setting (pathway 1-3) and the patient's home postcode district, from open inpatient stays' Discharge Ready Dates and expected discharge dates, beside the district's vacancies and holds now; and how far past forecasts missed (mean absolute error over the last 28 days). MeasureReport.subject is the trust or hub by ODS code.",
		"scoring":     coded("http://terminology.hl7.org/CodeSystem/measure-scoring", "cohort"),
		"group": []any{
			group(ForecastDemand, StratSetting, StratDay, StratCell),
			group(ForecastOverdue, StratSupplyCell),
			group(ForecastVacant, StratSupplyCell),
			group(ForecastHeld, StratSupplyCell),
			group(ForecastBacktest, StratHorizon),
		}}
	b, _ := json.Marshal(m)
	return b
}

// ForecastCSV renders the forecast one row per setting and district:
// demand on each day (day_0 .. day_13, dated in the header), overdue,
// total, vacancies and holds now (empty when supply is not known), and a
// last row, setting "backtest-mae", whose day_i column is the MAE at
// horizon i and total the MAE overall (empty where no cell was compared).
func ForecastCSV(subject string, f discharge.Forecast) []byte {
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	head := []string{"org_code", "made", "setting", "district"}
	for i := 0; i < discharge.ForecastDays; i++ {
		head = append(head, "day_"+strconv.Itoa(i)+"_"+f.Day(i).String())
	}
	head = append(head, "overdue", "total", "vacancies_now", "holds_now")
	_ = w.Write(head)
	for _, r := range f.Rows {
		row := []string{subject, f.Made.String(), string(r.Setting), r.Outcode}
		for _, n := range r.Demand {
			row = append(row, strconv.Itoa(n))
		}
		row = append(row, strconv.Itoa(r.Overdue), strconv.Itoa(r.Total), "", "")
		if r.SupplyKnown {
			row[len(row)-2], row[len(row)-1] = strconv.Itoa(r.Vacant), strconv.Itoa(r.Held)
		}
		_ = w.Write(row)
	}
	score := func(h discharge.HorizonMAE) string {
		if h.Cells == 0 {
			return ""
		}
		return strconv.FormatFloat(h.MAE(), 'f', 3, 64)
	}
	bt := []string{subject, f.Made.String(), "backtest-mae", "all"}
	for i := 0; i < discharge.ForecastDays; i++ {
		h := discharge.HorizonMAE{}
		if i < len(f.Backtest.ByHorizon) {
			h = f.Backtest.ByHorizon[i]
		}
		bt = append(bt, score(h))
	}
	bt = append(bt, "", score(f.Backtest.Overall), "", "")
	_ = w.Write(bt)
	w.Flush()
	return buf.Bytes()
}
