package synthetic

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/dischargegateway/gateway/discharge"
)

// Case is one synthetic inpatient stay for the system view (the sitrep):
// an Encounter of trust Trust with id ID.
type Case struct {
	Trust, ID string
	// Encounter is the R4 Encounter, with the gateway's pathway,
	// criteria-to-reside and delay-reason extensions; its subject is a
	// synthetic hospital number only (no Patient resource, no identity).
	Encounter []byte
}

// Cases generates n stays spread over trusts and the days before now: all
// admitted in the last three weeks, pathways in Hospital Discharge Service
// proportions (half pathway 0), six in ten no longer meeting the criteria
// to reside for 0 to 20 days with a delay reason, and a third discharged
// over the last week at any hour (more in the morning), so a sitrep has
// stock, flows, weekends and before-noon discharges to show.
func Cases(n int, trusts []string, now time.Time, seed uint64) []Case {
	r := rand.New(rand.NewPCG(seed, 18))
	const base = "https://fhir.discharge-gateway.example/"
	pathways := []weighted[string]{{"0", 50}, {"1", 25}, {"2", 10}, {"3", 15}}
	reasons := discharge.DelayReasons()
	today := discharge.Today(now)
	day := func(back int) string { return discharge.DateOfDay(discharge.DayNumber(today) - int64(back)).String() }
	out := make([]Case, 0, n)
	for i := 0; i < n; i++ {
		trust := trusts[i%len(trusts)]
		pathway := pick(r, pathways)
		ext := []any{map[string]any{"url": base + "StructureDefinition/discharge-pathway",
			"valueCodeableConcept": map[string]any{"coding": []any{map[string]any{"system": base + "CodeSystem/discharge-pathway", "code": pathway}}}}}
		admitted := now.Add(-time.Duration(r.IntN(21*24)+24) * time.Hour)
		period := map[string]any{"start": admitted.UTC().Format(time.RFC3339)}
		status := "in-progress"
		if r.Float64() < 0.6 {
			ext = append(ext,
				map[string]any{"url": base + "StructureDefinition/criteria-to-reside", "extension": []any{
					map[string]any{"url": "met", "valueBoolean": false}, map[string]any{"url": "since", "valueDate": day(r.IntN(21))}}},
				map[string]any{"url": base + "StructureDefinition/delay-reason", "valueCodeableConcept": map[string]any{"coding": []any{
					map[string]any{"system": base + "CodeSystem/delay-reason", "code": reasons[r.IntN(len(reasons))].Code}}}})
		}
		if r.Float64() < 0.33 {
			hour := 8 + r.IntN(12)
			if r.Float64() < 0.3 {
				hour = 9 + r.IntN(3)
			}
			end := time.Date(today.Year, today.Month, today.Day-r.IntN(7), hour, r.IntN(60), 0, 0, time.UTC)
			if end.After(now) {
				end = now.Add(-time.Duration(r.IntN(120)+1) * time.Minute)
			}
			if end.Before(admitted) {
				admitted = end.Add(-72 * time.Hour)
				period["start"] = admitted.UTC().Format(time.RFC3339)
			}
			period["end"] = end.UTC().Format(time.RFC3339)
			status = "finished"
		}
		id := fmt.Sprintf("synthetic-%s-%05d", trust, i)
		enc := map[string]any{"resourceType": "Encounter", "id": id, "status": status, "period": period,
			"class":     map[string]any{"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "IMP"},
			"subject":   map[string]any{"identifier": map[string]any{"system": "https://trust.example/mrn", "value": fmt.Sprintf("SYNC%07d", i)}},
			"extension": ext}
		b, _ := json.Marshal(enc)
		out = append(out, Case{Trust: trust, ID: id, Encounter: b})
	}
	return out
}
