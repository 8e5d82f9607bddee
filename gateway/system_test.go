package gateway_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/dischargegateway/gateway/auth"
	"github.com/dischargegateway/gateway/mappings"
)

// A system client (a commissioner or the national view) reads aggregate
// reports over its trusts and nothing about any patient: not a resource,
// not a case, not a worklist, not a case's delay history. Its token here
// carries every clinical scope, which a registration would refuse, so
// that what is tested is the role, not the scopes.
func TestSystemClientReadsNoPatientData(t *testing.T) {
	e := newEnv(t)
	enc := e.sitrepEncounter(t, e.token, "3", time.Now().AddDate(0, 0, -3).Format("2006-01-02"), "capacity-care-home", time.Time{})
	encDoc := e.do("GET", "/fhir/Encounter/"+enc, nil).mustStatus(t, http.StatusOK)
	pat := strings.TrimPrefix(str(encDoc.json, "subject", "reference"), "Patient/")
	icb := e.tokenFor("icb", auth.RoleSystem, "QXC", clinicalScopes+" system/MeasureReport.rs", "RXA", "RXB")
	as := []string{"Authorization", "Bearer " + icb}

	for _, path := range []string{
		"/fhir/Patient", "/fhir/Patient/" + pat, "/fhir/Patient/" + pat + "/_history",
		"/fhir/Encounter", "/fhir/Encounter/" + enc, "/fhir/Encounter/" + enc + "/_history/1",
		"/fhir/Encounter?_id=" + enc, "/fhir/ServiceRequest",
		"/api/v1/cases/" + enc, "/api/v1/cases", "/api/v1/measures",
	} {
		t.Run(path, func(t *testing.T) {
			r := e.do("GET", path, nil, as...)
			switch r.status {
			case http.StatusForbidden, http.StatusNotFound:
			case http.StatusOK:
				// A search may answer with nothing in it, never a match.
				if n, _ := r.json["total"].(float64); n != 0 || r.json["entry"] != nil {
					t.Fatalf("%d %s", r.status, r.body)
				}
			default:
				t.Fatalf("%d %s", r.status, r.body)
			}
			if strings.Contains(string(r.body), pat) || strings.Contains(string(r.body), `"resourceType":"Patient"`) {
				t.Fatalf("patient data in %s", r.body)
			}
		})
	}
	// What it does read: the sitrep of its trusts.
	r := e.do("GET", "/fhir/MeasureReport?measure="+url.QueryEscape(mappings.SitrepMeasureURL), nil, as...).mustStatus(t, http.StatusOK)
	mr := r.json["entry"].([]any)[0].(map[string]any)["resource"]
	if groupCount(t, mr, mappings.SitrepNCTR) != 1 || str(mr, "subject", "identifier", "value") != "QXC" {
		t.Fatalf("sitrep %s", r.body)
	}
	e.do("GET", "/api/v1/sitrep.csv", nil, as...).mustStatus(t, http.StatusOK)
}
