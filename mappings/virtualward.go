package mappings

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/fhir"
)

// Virtual-ward occupancy (issue 18, docs/sitrep.md): the Measure, its
// MeasureReports and CSV, and what the report reads of the directory.
//
//	Location.name                         the ward's name
//	Location.address.postalCode           its postcode district (outward code)
//	Location.managingOrganization         the provider Organization, whose
//	Organization.partOf                   ICB is its parent: partOf.identifier.value
//	                                      (an ODS code), else the id of partOf.reference

// VirtualWardMeasureURL is the canonical URL of the virtual-ward occupancy
// Measure.
const VirtualWardMeasureURL = "https://fhir.discharge-gateway.example/Measure/virtual-ward-occupancy"

// VirtualWardMeasureID is its id (GET /fhir/Measure/{id}).
const VirtualWardMeasureID = "virtual-ward-occupancy"

// VirtualWardSystem codes the report's groups and stratifiers.
const VirtualWardSystem = CodeSystemBase + "virtual-ward"

// The virtual-ward report's codes (VirtualWardSystem); its district
// stratifier is StratDistrict, the code the forecast's system uses too.
const (
	WardOccupancy    = "occupancy"
	WardTrend        = "trend"
	StratWard        = "ward"
	StratICB         = "icb"
	StratTarget      = "target"
	StratWardDay     = "ward-day"
	StratICBDay      = "icb-day"
	StratDistrictDay = "district-day"
	TargetBelow      = "below-target"
	TargetMet        = "at-or-above-target"
)

// VirtualWardConcepts are the codes of VirtualWardSystem.
func VirtualWardConcepts() []discharge.Concept {
	return []discharge.Concept{
		{Code: WardOccupancy, Display: "Virtual-ward occupancy", Definition: "Virtual beds occupied (numerator) of virtual beds available (denominator) on the period's last day, from each ward's latest posting; measureScore is the proportion, against the 80 % target."},
		{Code: WardTrend, Display: "Virtual-ward occupancy trend", Definition: "Occupancy on each day of the period, overall and by ward, ICB and district."},
		{Code: StratWard, Display: "Virtual ward", Definition: "The ward: its Location id (stratum value text) and name."},
		{Code: StratICB, Display: "Integrated care board", Definition: "The ICB's ODS code: Organization.partOf of the ward's provider, or unknown."},
		{Code: StratDistrict, Display: "Postcode district", Definition: "The outward code of the ward Location's postcode, or unknown."},
		{Code: StratTarget, Display: "Against the 80 % target", Definition: "Wards below 80 % occupancy (below-target) or at or above it (at-or-above-target)."},
		{Code: TargetBelow, Display: "Below target", Definition: "A ward under 80 % occupied."},
		{Code: TargetMet, Display: "At or above target", Definition: "A ward at least 80 % occupied."},
		{Code: StratDay, Display: "Reporting day", Definition: "The day, YYYY-MM-DD in England."},
		{Code: StratWardDay, Display: "Ward and day", Definition: "A ward on one day (components ward and day)."},
		{Code: StratICBDay, Display: "ICB and day", Definition: "An ICB on one day (components icb and day)."},
		{Code: StratDistrictDay, Display: "District and day", Definition: "A postcode district on one day (components district and day)."},
	}
}

// VirtualWardPlace reads where a ward is from its directory Location and
// its provider Organization (nil when not found): name, postcode district
// and ICB; what it cannot read stays empty.
func VirtualWardPlace(loc, org map[string]any) discharge.WardPlace {
	var p discharge.WardPlace
	p.Name, _ = loc["name"].(string)
	if _, postcode := LocationPlace(loc); postcode != "" {
		if oc := discharge.Outcode(postcode); discharge.ValidOutcode(oc) {
			p.District = oc
		}
	}
	if part, ok := org["partOf"].(map[string]any); ok {
		if id, ok := part["identifier"].(map[string]any); ok {
			p.ICB, _ = id["value"].(string)
		}
		if ref, ok := reference(part); ok && p.ICB == "" {
			if typ, id, ok := fhir.SplitRef(ref); ok && typ == "Organization" {
				p.ICB = id
			}
		}
	}
	p.ICB = strings.ToUpper(strings.TrimSpace(p.ICB))
	return p
}

func wardPopulations(f discharge.WardFigure) []any {
	return []any{
		map[string]any{"code": coded(measurePopulationSystem, "numerator"), "count": f.Occupied},
		map[string]any{"code": coded(measurePopulationSystem, "denominator"), "count": f.Capacity},
	}
}

// wardScore is the occupancy as a proportion, to four places; absent when
// there are no places (0 of 0 has no proportion).
func wardScore(m map[string]any, f discharge.WardFigure) map[string]any {
	if f.Capacity > 0 {
		v, _ := strconv.ParseFloat(strconv.FormatFloat(float64(f.Occupied)/float64(f.Capacity), 'f', 4, 64), 64)
		m["measureScore"] = map[string]any{"value": v, "system": UCUMSystem, "code": "1", "unit": "1"}
	}
	return m
}

func wardStratum(value string, f discharge.WardFigure) map[string]any {
	return wardScore(map[string]any{"value": map[string]any{"text": value}, "population": wardPopulations(f)}, f)
}

func wardComponentStratum(code, key, day string, f discharge.WardFigure) map[string]any {
	return wardScore(map[string]any{"component": []any{
		map[string]any{"code": coded(VirtualWardSystem, code), "value": map[string]any{"text": key}},
		map[string]any{"code": coded(VirtualWardSystem, StratDay), "value": map[string]any{"text": day}},
	}, "population": wardPopulations(f)}, f)
}

// wardStratifier renders a stratifier; one without strata (no wards that
// day) has no stratum element, as R4 allows none.
func wardStratifier(code string, strata []any) map[string]any {
	s := map[string]any{"code": []any{coded(VirtualWardSystem, code)}}
	if len(strata) > 0 {
		s["stratum"] = strata
	}
	return s
}

// wardName is a ward stratum's text: "id (name)" when the name differs.
func wardName(f discharge.WardFigure) string {
	if f.Name == "" || f.Name == f.Key {
		return f.Key
	}
	return f.Key + " (" + f.Name + ")"
}

// VirtualWardsToMeasureReport renders a virtual-ward report as a SANER-
// style summary MeasureReport of VirtualWardMeasureURL. Group occupancy is
// the period's last day: occupied of available virtual beds, by ward, ICB,
// district and against the target; group trend is every day, overall and
// by ward, ICB and district. Every stratifier's strata add up to its
// group's populations. subject is the ICB (Organization by ODS code), the
// ward (Location/{id}), or "" for every ward the gateway knows.
func VirtualWardsToMeasureReport(id, subject string, generated time.Time, r discharge.VirtualWardReport) []byte {
	last := r.Last()
	var wards, icbs, districts, target []any
	for _, f := range last.Wards {
		wards = append(wards, wardStratum(wardName(f), f))
	}
	for _, f := range last.ICBs {
		icbs = append(icbs, wardStratum(f.Key, f))
	}
	for _, f := range last.Districts {
		districts = append(districts, wardStratum(f.Key, f))
	}
	var below, met discharge.WardFigure
	for _, f := range last.Wards {
		if f.BelowTarget() {
			below.Occupied, below.Capacity = below.Occupied+f.Occupied, below.Capacity+f.Capacity
		} else {
			met.Occupied, met.Capacity = met.Occupied+f.Occupied, met.Capacity+f.Capacity
		}
	}
	target = []any{wardStratum(TargetBelow, below), wardStratum(TargetMet, met)}
	var total discharge.WardFigure
	var days, wardDays, icbDays, districtDays []any
	for _, d := range r.Days {
		day := d.Day.String()
		total.Occupied, total.Capacity = total.Occupied+d.Total.Occupied, total.Capacity+d.Total.Capacity
		days = append(days, wardStratum(day, d.Total))
		for _, f := range d.Wards {
			wardDays = append(wardDays, wardComponentStratum(StratWard, f.Key, day, f))
		}
		for _, f := range d.ICBs {
			icbDays = append(icbDays, wardComponentStratum(StratICB, f.Key, day, f))
		}
		for _, f := range d.Districts {
			districtDays = append(districtDays, wardComponentStratum(StratDistrict, f.Key, day, f))
		}
	}
	groups := []any{
		wardScore(map[string]any{"code": coded(VirtualWardSystem, WardOccupancy), "population": wardPopulations(last.Total),
			"stratifier": []any{wardStratifier(StratWard, wards), wardStratifier(StratICB, icbs),
				wardStratifier(StratDistrict, districts), wardStratifier(StratTarget, target)}}, last.Total),
		// The trend's populations add every day's figures (bed-days), so
		// its strata add up to them; its score is the period's mean.
		wardScore(map[string]any{"code": coded(VirtualWardSystem, WardTrend), "population": wardPopulations(total),
			"stratifier": []any{wardStratifier(StratDay, days), wardStratifier(StratWardDay, wardDays),
				wardStratifier(StratICBDay, icbDays), wardStratifier(StratDistrictDay, districtDays)}}, total),
	}
	mr := map[string]any{"resourceType": "MeasureReport", "id": id, "status": "complete", "type": "summary",
		"measure": VirtualWardMeasureURL, "date": generated.UTC().Format(time.RFC3339),
		"period": map[string]any{"start": r.From.String(), "end": r.To.String()}, "group": groups}
	switch {
	case strings.HasPrefix(subject, "Location/"):
		mr["subject"] = map[string]any{"reference": subject}
	case subject != "":
		mr["subject"] = SitrepSubject(subject)
	}
	b, _ := json.Marshal(mr)
	return b
}

// VirtualWardMeasure is the Measure virtual-ward MeasureReports conform to.
func VirtualWardMeasure() []byte {
	concepts := map[string]discharge.Concept{}
	for _, c := range VirtualWardConcepts() {
		concepts[c.Code] = c
	}
	crit := func(desc string) map[string]any {
		return map[string]any{"language": "text/fhirpath", "expression": "{}",
			"description": desc + " Computed from the wards' capacity postings (bed type virtual-ward), one row per ward and day (docs/sitrep.md)."}
	}
	pops := []any{
		map[string]any{"code": coded(measurePopulationSystem, "numerator"), "criteria": crit("Virtual beds occupied: BedCapacity.occupied of the ward's latest posting.")},
		map[string]any{"code": coded(measurePopulationSystem, "denominator"), "criteria": crit("Virtual beds: BedCapacity.maxCapacity of the ward's latest posting.")},
	}
	group := func(code string, strats ...string) map[string]any {
		var ss []any
		for _, s := range strats {
			ss = append(ss, map[string]any{"code": coded(VirtualWardSystem, s), "description": concepts[s].Definition, "criteria": crit(concepts[s].Definition)})
		}
		return map[string]any{"code": coded(VirtualWardSystem, code), "description": concepts[code].Definition, "population": pops, "stratifier": ss}
	}
	m := map[string]any{"resourceType": "Measure", "id": VirtualWardMeasureID, "url": VirtualWardMeasureURL, "version": "1.0.0",
		"name": "VirtualWardOccupancy", "title": "Virtual-ward occupancy against the 80 % target", "status": "active", "publisher": "Discharge Gateway",
		"description":         "Occupancy of virtual wards (hospital at home) from their providers' capacity postings: virtual beds occupied of virtual beds available, per ward, ICB and postcode district, day by day, against NHS England's 80 % occupancy target. A ward's latest figures stand for up to 7 days without a new posting. MeasureReport.subject is the ICB (by ODS code), one ward (Location), or absent for all wards.",
		"scoring":             coded("http://terminology.hl7.org/CodeSystem/measure-scoring", "proportion"),
		"improvementNotation": coded("http://terminology.hl7.org/CodeSystem/measure-improvement-notation", "increase"),
		"rationale":           "NHS England asks virtual wards to run at 80 % occupancy; a ward below it has places to offer to patients who would otherwise stay in hospital.",
		"group": []any{
			group(WardOccupancy, StratWard, StratICB, StratDistrict, StratTarget),
			group(WardTrend, StratDay, StratWardDay, StratICBDay, StratDistrictDay),
		}}
	b, _ := json.Marshal(m)
	return b
}

// VirtualWardsCSV renders the report one row per day and ward, ICB,
// district and the total: level, key, name, occupied, capacity, occupancy
// percent (one decimal; empty with no places), below_target, and for wards
// the day's peak and the day its figures were posted (earlier when carried
// forward).
func VirtualWardsCSV(r discharge.VirtualWardReport) []byte {
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	_ = w.Write([]string{"date", "level", "code", "name", "occupied", "capacity", "occupancy_percent", "target_percent", "below_target", "peak_occupied", "posted_date"})
	row := func(day, level string, f discharge.WardFigure) {
		pct := ""
		if f.Capacity > 0 {
			pct = strconv.FormatFloat(f.Percent(), 'f', 1, 64)
		}
		peak, posted := "", ""
		if level == "ward" {
			peak, posted = strconv.Itoa(f.Peak), f.Posted.String()
		}
		_ = w.Write([]string{day, level, f.Key, f.Name, strconv.Itoa(f.Occupied), strconv.Itoa(f.Capacity), pct,
			strconv.Itoa(discharge.VirtualWardTargetPercent), strconv.FormatBool(f.BelowTarget()), peak, posted})
	}
	for _, d := range r.Days {
		day := d.Day.String()
		row(day, "total", d.Total)
		for _, f := range d.ICBs {
			row(day, "icb", f)
		}
		for _, f := range d.Districts {
			row(day, "district", f)
		}
		for _, f := range d.Wards {
			row(day, "ward", f)
		}
	}
	w.Flush()
	return buf.Bytes()
}
