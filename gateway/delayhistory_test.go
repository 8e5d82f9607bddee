package gateway_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/dischargegateway/gateway/auth"
	"github.com/dischargegateway/gateway/mappings"
)

// setDelayReason replaces the delay-reason extension's coding of the
// Encounter id and PUTs it as token's trust.
func (e *env) setDelayReason(t *testing.T, token, id string, coding map[string]any) resp {
	t.Helper()
	as := []string{"Authorization", "Bearer " + token}
	doc := e.do("GET", "/fhir/Encounter/"+id, nil, as...).mustStatus(t, http.StatusOK).json
	for _, x := range doc["extension"].([]any) {
		if ext := x.(map[string]any); ext["url"] == mappings.DelayReasonURL {
			ext["valueCodeableConcept"] = map[string]any{"coding": []any{coding}}
		}
	}
	delete(doc, "meta")
	return e.do("PUT", "/fhir/Encounter/"+id, doc, as...)
}

// The case view carries the delay history: each reason with when it was
// set and replaced, the current one open; the hub reads it with the case,
// another trust reads neither. The first reason is sent as a code retired
// from the sitrep list (chc-assessment, of the gateway's first list): the
// history, like every count, holds the reason that replaces it.
func TestCaseViewHasDelayHistory(t *testing.T) {
	e := newEnv(t)
	id := e.sitrepEncounter(t, e.token, "3", time.Now().AddDate(0, 0, -4).Format("2006-01-02"), "chc-assessment", time.Time{})
	stored := e.do("GET", "/fhir/Encounter/"+id, nil).mustStatus(t, http.StatusOK)
	filed := false
	for _, x := range stored.json["extension"].([]any) {
		if str(x, "url") == mappings.DelayReasonURL {
			filed = str(x, "valueCodeableConcept", "coding", 0, "system") == mappings.RetiredDelayReasonSystem &&
				str(x, "valueCodeableConcept", "coding", 0, "code") == "chc-assessment" &&
				str(x, "valueCodeableConcept", "coding", 1, "system") == mappings.DelayReasonSystem &&
				str(x, "valueCodeableConcept", "coding", 1, "code") == "funding-eligibility"
		}
	}
	if !filed {
		t.Fatalf("the retired code was not filed with its replacement: %s", stored.body)
	}
	e.setDelayReason(t, e.token, id, map[string]any{"system": mappings.DelayReasonSystem, "code": "capacity-care-home"}).mustStatus(t, http.StatusOK)
	hub := e.tokenFor("hub", auth.RoleHub, "QXH", clinicalScopes, "RXA", "RXB")
	rxb := e.tokenFor("trust-b", auth.RoleTrust, "RXB", clinicalScopes)
	for _, tok := range []string{e.token, hub} {
		r := e.do("GET", "/api/v1/cases/"+id, nil, "Authorization", "Bearer "+tok).mustStatus(t, http.StatusOK)
		h, _ := r.json["delayHistory"].([]any)
		if len(h) != 2 || str(h[0], "reason") != "funding-eligibility" || str(h[1], "reason") != "capacity-care-home" {
			t.Fatalf("delayHistory %s", r.body)
		}
		first, second := h[0].(map[string]any), h[1].(map[string]any)
		if first["to"] == nil || first["to"] != second["from"] || second["to"] != nil {
			t.Fatalf("spells %v %v", first, second)
		}
		if from, err := time.Parse(time.RFC3339Nano, str(first, "from")); err != nil || time.Since(from) > time.Minute {
			t.Fatalf("from %v %v", first["from"], err)
		}
	}
	e.do("GET", "/api/v1/cases/"+id, nil, "Authorization", "Bearer "+rxb).mustStatus(t, http.StatusNotFound)
}

// A trust may send its own delay-reason codes when a ConceptMap of the
// gateway translates them (configs/conceptmaps): the Encounter is stored
// with the sitrep coding beside the local one, and the sitrep, the index
// and the delay history count the sitrep reason. A code nothing
// translates is refused: code-invalid at the extension's value.
func TestLocalDelayReasonIsTranslatedAtIntake(t *testing.T) {
	e := newEnv(t)
	id := e.sitrepEncounter(t, e.token, "2", time.Now().AddDate(0, 0, -2).Format("2006-01-02"), "transport", time.Time{})
	const dtoc = "https://fhir.rxx-trust.example/CodeSystem/dtoc-delay-reason"
	r := e.setDelayReason(t, e.token, id, map[string]any{"system": dtoc, "code": "C"}).mustStatus(t, http.StatusOK)
	// The stored Encounter: the local coding as sent, the sitrep one after.
	stored := e.do("GET", "/fhir/Encounter/"+id, nil).mustStatus(t, http.StatusOK)
	found := false
	for _, x := range stored.json["extension"].([]any) {
		if str(x, "url") == mappings.DelayReasonURL {
			found = str(x, "valueCodeableConcept", "coding", 0, "code") == "C" &&
				str(x, "valueCodeableConcept", "coding", 1, "system") == mappings.DelayReasonSystem &&
				str(x, "valueCodeableConcept", "coding", 1, "code") == "capacity-rehab-bed"
		}
	}
	if !found {
		t.Fatalf("stored %s (update answered %s)", stored.body, r.body)
	}
	// Searchable by the sitrep code, and counted under it.
	s := e.do("GET", "/fhir/Encounter?delay-reason="+mappings.DelayReasonSystem+"|capacity-rehab-bed", nil).mustStatus(t, http.StatusOK)
	if num(s.json, "total") != 1 {
		t.Fatalf("search %s", s.body)
	}
	mr := e.do("GET", "/fhir/MeasureReport?measure=discharge-sitrep", nil).mustStatus(t, http.StatusOK).json["entry"].([]any)[0].(map[string]any)["resource"]
	if stratumOf(t, mr, mappings.SitrepNCTR, mappings.StratReason, "capacity-rehab-bed") != 1 || stratumOf(t, mr, mappings.SitrepNCTR, mappings.StratReason, "transport") != 0 {
		t.Fatalf("sitrep %v", mr)
	}
	h := e.do("GET", "/api/v1/cases/"+id, nil).mustStatus(t, http.StatusOK).json["delayHistory"].([]any)
	if len(h) != 2 || str(h[1], "reason") != "capacity-rehab-bed" {
		t.Fatalf("delay history %v", h)
	}
	// A local code no ConceptMap knows.
	bad := e.setDelayReason(t, e.token, id, map[string]any{"system": dtoc, "code": "Z"})
	if bad.status != http.StatusBadRequest && bad.status != http.StatusUnprocessableEntity {
		t.Fatalf("unknown code: %d %s", bad.status, bad.body)
	}
	if !bad.hasIssue("code-invalid", "Encounter.extension[2].valueCodeableConcept") {
		t.Fatalf("unknown code: %s", bad.body)
	}
}

// stratumOf is the count of a sitrep group's stratifier stratum by value
// text.
func stratumOf(t *testing.T, mr any, group, strat, value string) float64 {
	t.Helper()
	for _, g := range mr.(map[string]any)["group"].([]any) {
		if str(g, "code", "coding", 0, "code") != group {
			continue
		}
		for _, s := range g.(map[string]any)["stratifier"].([]any) {
			if str(s, "code", 0, "coding", 0, "code") != strat {
				continue
			}
			for _, st := range s.(map[string]any)["stratum"].([]any) {
				if str(st, "value", "text") == value {
					return num(st.(map[string]any)["population"].([]any)[0], "count")
				}
			}
		}
	}
	return 0
}
