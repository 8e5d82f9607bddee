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
// another trust reads neither.
func TestCaseViewHasDelayHistory(t *testing.T) {
	e := newEnv(t)
	id := e.sitrepEncounter(t, e.token, "3", time.Now().AddDate(0, 0, -4).Format("2006-01-02"), "chc-assessment", time.Time{})
	e.setDelayReason(t, e.token, id, map[string]any{"system": mappings.DelayReasonSystem, "code": "capacity-care-home"}).mustStatus(t, http.StatusOK)
	hub := e.tokenFor("hub", auth.RoleHub, "QXH", clinicalScopes, "RXA", "RXB")
	rxb := e.tokenFor("trust-b", auth.RoleTrust, "RXB", clinicalScopes)
	for _, tok := range []string{e.token, hub} {
		r := e.do("GET", "/api/v1/cases/"+id, nil, "Authorization", "Bearer "+tok).mustStatus(t, http.StatusOK)
		h, _ := r.json["delayHistory"].([]any)
		if len(h) != 2 || str(h[0], "reason") != "chc-assessment" || str(h[1], "reason") != "capacity-care-home" {
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
