package mappings

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/dischargegateway/gateway/discharge"
)

// CapacityMeasureURL is the canonical URL of the Measure a capacity
// MeasureReport conforms to (published at /fhir/Measure/care-home-capacity).
const CapacityMeasureURL = "https://fhir.discharge-gateway.example/Measure/care-home-capacity"

// The populations of a capacity group, per bed type.
const (
	PopMaxCapacity = "max-capacity"
	PopOccupied    = "occupied"
	PopReserved    = "vacant-reserved"
	PopAccepting   = "vacant-accepting-admissions"
	PopClosed      = "closed-to-admissions" // count 1 when closed, 0 when not
)

// CapacityPopulations lists the populations of a capacity group.
func CapacityPopulations() []discharge.Concept {
	return []discharge.Concept{
		{Code: PopMaxCapacity, Display: "Maximum capacity", Definition: "Beds of this type the location can provide."},
		{Code: PopOccupied, Display: "Occupied", Definition: "Beds of this type occupied."},
		{Code: PopReserved, Display: "Vacant but reserved", Definition: "Vacant beds held for someone already."},
		{Code: PopAccepting, Display: "Vacant and accepting admissions", Definition: "Vacant beds that can take an admission now."},
		{Code: PopClosed, Display: "Closed to admissions", Definition: "1 when the location takes no admissions for this bed type, else 0."},
	}
}

// CapacityFreshnessSystem codes how far a capacity MeasureReport can be
// trusted; it is the system of the report's meta.tag.
const CapacityFreshnessSystem = CodeSystemBase + "capacity-freshness"

// CapacityFreshnesses lists the codes of CapacityFreshnessSystem.
func CapacityFreshnesses() []discharge.Concept {
	return []discharge.Concept{
		{Code: string(discharge.Fresh), Display: "Fresh", Definition: "Posted within the stale threshold (GATEWAY_CAPACITY_STALE_AFTER): placement uses it as it is."},
		{Code: string(discharge.Stale), Display: "Stale", Definition: "Older than the stale threshold: shown and flagged, used by placement only with includeStale."},
		{Code: string(discharge.Unknown), Display: "Unknown", Definition: "Older than the expiry (GATEWAY_CAPACITY_EXPIRE_AFTER), or never posted: treated as no data."},
	}
}

// MeasureReportToCapacity maps a capacity MeasureReport (already valid R4)
// to a posting: subject is the Location, date (else period.end) the as-of
// time, one group per bed type with the populations above. The location id
// is returned separately so the caller can check ownership.
func MeasureReportToCapacity(raw []byte) (discharge.Capacity, error) {
	var mr struct {
		Measure string `json:"measure"`
		Subject struct {
			Reference string `json:"reference"`
		} `json:"subject"`
		Date   string `json:"date"`
		Period struct {
			End string `json:"end"`
		} `json:"period"`
		Group []struct {
			Code       *concept `json:"code"`
			Population []struct {
				Code  *concept     `json:"code"`
				Count *json.Number `json:"count"`
			} `json:"population"`
		} `json:"group"`
	}
	var c discharge.Capacity
	var is discharge.Issues
	if err := json.Unmarshal(raw, &mr); err != nil {
		return c, discharge.E(discharge.KindStructure, "MeasureReport", "Not a MeasureReport.")
	}
	if mr.Measure != CapacityMeasureURL {
		is.Add(discharge.KindValue, "MeasureReport.measure", "measure must be "+CapacityMeasureURL+".")
	}
	typ, id, ok := strings.Cut(mr.Subject.Reference, "/")
	if !ok || typ != "Location" || id == "" {
		is.Add(discharge.KindRequired, "MeasureReport.subject", "subject must reference the Location the figures are for.")
	}
	c.LocationID = id
	asOf := mr.Date
	at := "MeasureReport.date"
	if asOf == "" {
		asOf, at = mr.Period.End, "MeasureReport.period.end"
	}
	if asOf == "" {
		is.Add(discharge.KindRequired, "MeasureReport.date", "date (or period.end) gives the time the figures were true.")
	} else if t, err := time.Parse(time.RFC3339, asOf); err != nil {
		is.Add(discharge.KindValue, at, "The as-of time needs a time of day and zone.")
	} else {
		c.AsOf = t.UTC()
	}
	for i, g := range mr.Group {
		gat := fmt.Sprintf("MeasureReport.group[%d]", i)
		code := g.Code.codeIn(BedTypeSystem)
		if code == "" {
			is.Add(discharge.KindRequired, gat+".code", "Each group is coded with a bed type from "+BedTypeSystem+".")
			continue
		}
		b := discharge.BedCapacity{Type: discharge.BedType(code)}
		seen := map[string]bool{}
		for j, p := range g.Population {
			pat := fmt.Sprintf("%s.population[%d]", gat, j)
			pc := p.Code.codeIn(PopulationSystem)
			if p.Count == nil {
				is.Add(discharge.KindRequired, pat+".count", "Each population needs a count.")
				continue
			}
			n, err := strconv.Atoi(p.Count.String())
			if err != nil {
				is.Add(discharge.KindValue, pat+".count", "count must be a whole number.")
				continue
			}
			seen[pc] = true
			switch pc {
			case PopMaxCapacity:
				b.MaxCapacity = n
			case PopOccupied:
				b.Occupied = n
			case PopReserved:
				b.Reserved = n
			case PopAccepting:
				b.AcceptingAdmissions = n
			case PopClosed:
				b.ClosedToAdmissions = n > 0
			default:
				is.Add(discharge.KindCodeInvalid, pat+".code", "Unknown population: use "+PopulationSystem+".")
			}
		}
		for _, need := range []string{PopMaxCapacity, PopOccupied, PopReserved, PopAccepting} {
			if !seen[need] {
				is.Add(discharge.KindRequired, gat+".population", "The group lacks the "+need+" population.")
			}
		}
		c.Beds = append(c.Beds, b)
	}
	return c, is.Err(discharge.KindInvalid, "mappings.MeasureReportToCapacity")
}

// MeasureReportPath turns a posting-relative path from Validate
// (beds[1].occupied) into the MeasureReport element it came from.
func MeasureReportPath(p string) string {
	switch {
	case p == "asOf":
		return "MeasureReport.date"
	case strings.HasPrefix(p, "beds["):
		i := strings.Index(p, "]")
		return "MeasureReport.group[" + p[5:i] + "]"
	}
	return "MeasureReport"
}

type concept struct {
	Coding []struct {
		System string `json:"system"`
		Code   string `json:"code"`
	} `json:"coding"`
}

func (c *concept) codeIn(system string) string {
	if c == nil {
		return ""
	}
	for _, cd := range c.Coding {
		if cd.System == system {
			return cd.Code
		}
	}
	return ""
}

// CapacityToMeasureReport renders a stored posting as a MeasureReport.
func CapacityToMeasureReport(c discharge.Capacity, freshness discharge.Freshness) []byte {
	pop := func(code string, n int) map[string]any {
		return map[string]any{"code": map[string]any{"coding": []any{map[string]any{"system": PopulationSystem, "code": code}}}, "count": n}
	}
	var groups []any
	for _, b := range c.Beds {
		closed := 0
		if b.ClosedToAdmissions {
			closed = 1
		}
		groups = append(groups, map[string]any{
			"code": map[string]any{"coding": []any{map[string]any{"system": BedTypeSystem, "code": string(b.Type)}}},
			"population": []any{pop(PopMaxCapacity, b.MaxCapacity), pop(PopOccupied, b.Occupied), pop(PopReserved, b.Reserved),
				pop(PopAccepting, b.AcceptingAdmissions), pop(PopClosed, closed)}})
	}
	mr := map[string]any{"resourceType": "MeasureReport", "id": c.LocationID + "-v" + strconv.FormatInt(c.Version, 10),
		"meta":   map[string]any{"tag": []any{map[string]any{"system": CapacityFreshnessSystem, "code": string(freshness)}}},
		"status": "complete", "type": "summary", "measure": CapacityMeasureURL,
		"subject": map[string]any{"reference": "Location/" + c.LocationID},
		"date":    c.AsOf.UTC().Format(time.RFC3339), "period": map[string]any{"end": c.AsOf.UTC().Format(time.RFC3339)},
		"group": groups}
	b, _ := json.Marshal(mr)
	return b
}

// CapacityMeasure is the Measure capacity MeasureReports conform to.
func CapacityMeasure() []byte {
	var groups []any
	for _, bt := range discharge.BedTypes() {
		var pops []any
		for _, p := range CapacityPopulations() {
			// Measure.group.population.criteria is required (1..1), and an
			// Expression needs a language and, by exp-1, an expression. The
			// figures are counted and posted by the location, not computed
			// from records the gateway holds, so no expression can state
			// them: the criteria is FHIRPath's empty collection, and its
			// description says so. (text/plain would say it more directly,
			// but HL7's R4 JSON Schema closes the language to the three
			// ExpressionLanguage codes, so schema validators refuse it.)
			pops = append(pops, map[string]any{"code": map[string]any{"coding": []any{map[string]any{"system": PopulationSystem, "code": p.Code}}},
				"description": p.Definition,
				"criteria": map[string]any{"language": "text/fhirpath", "expression": "{}",
					"description": p.Definition + " Counted and posted by the location; nothing is computed, so the expression is empty."}})
		}
		groups = append(groups, map[string]any{"code": map[string]any{"coding": []any{map[string]any{"system": BedTypeSystem, "code": bt.Code, "display": bt.Display}}},
			"population": pops})
	}
	m := map[string]any{"resourceType": "Measure", "id": "care-home-capacity", "url": CapacityMeasureURL,
		"name": "CareHomeCapacity", "title": "Care home and home care capacity", "status": "active",
		"description": "Vacancies a care location posts per bed type, on the DHSC Capacity Tracker fields: maximum capacity, occupied, vacant but reserved, vacant and accepting admissions, and closed to admissions. MeasureReport.subject is the Location; date is when the figures were true.",
		"scoring":     map[string]any{"coding": []any{map[string]any{"system": "http://terminology.hl7.org/CodeSystem/measure-scoring", "code": "cohort"}}},
		"group":       groups}
	b, _ := json.Marshal(m)
	return b
}
