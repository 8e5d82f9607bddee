package gateway_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/dischargegateway/gateway/auth"
)

// providerBundle is a care provider's Organization, Location and
// HealthcareService in one transaction.
func providerBundle(cqc, location, setting string) map[string]any {
	return map[string]any{"resourceType": "Bundle", "type": "transaction", "entry": []any{
		map[string]any{"fullUrl": "urn:uuid:00000000-0000-4000-8000-0000000000a1",
			"resource": map[string]any{"resourceType": "Organization", "name": "Provider " + cqc, "active": true,
				"identifier": []any{map[string]any{"system": cqcProvider, "value": cqc}}},
			"request": map[string]any{"method": "POST", "url": "Organization"}},
		map[string]any{"fullUrl": "urn:uuid:00000000-0000-4000-8000-0000000000a2",
			"resource": map[string]any{"resourceType": "Location", "status": "active", "name": "Home " + location,
				"identifier":           []any{map[string]any{"system": "https://cqc.org.uk/location-id", "value": location}},
				"address":              map[string]any{"postalCode": "M14 4AB"},
				"position":             map[string]any{"latitude": 53.44, "longitude": -2.22},
				"managingOrganization": map[string]any{"reference": "urn:uuid:00000000-0000-4000-8000-0000000000a1"}},
			"request": map[string]any{"method": "POST", "url": "Location"}},
		map[string]any{"fullUrl": "urn:uuid:00000000-0000-4000-8000-0000000000a3",
			"resource": map[string]any{"resourceType": "HealthcareService", "active": true, "name": setting + " care",
				"providedBy":     map[string]any{"reference": "urn:uuid:00000000-0000-4000-8000-0000000000a1"},
				"location":       []any{map[string]any{"reference": "urn:uuid:00000000-0000-4000-8000-0000000000a2"}},
				"type":           []any{map[string]any{"coding": []any{map[string]any{"system": "https://fhir.discharge-gateway.example/CodeSystem/care-setting", "code": setting}}}},
				"characteristic": []any{map[string]any{"coding": []any{map[string]any{"system": "https://fhir.discharge-gateway.example/CodeSystem/requirement", "code": "dementia"}}}}},
			"request": map[string]any{"method": "POST", "url": "HealthcareService"}},
	}}
}

func refsOf(t *testing.T, r resp) (org, loc, svc string) {
	t.Helper()
	for _, en := range r.json["entry"].([]any) {
		ref := strings.Split(str(en, "response", "location"), "/_history/")[0]
		switch {
		case strings.HasPrefix(ref, "Organization/"):
			org = ref
		case strings.HasPrefix(ref, "Location/"):
			loc = ref
		case strings.HasPrefix(ref, "HealthcareService/"):
			svc = ref
		}
	}
	return
}

func TestProviderDirectory(t *testing.T) {
	e := newEnv(t)
	home1 := e.tokenFor("home-1", auth.RoleCareProvider, "1-000000001", directoryScopes)
	home2 := e.tokenFor("home-2", auth.RoleCareProvider, "1-000000002", directoryScopes)
	as := func(tok string) []string { return []string{"Authorization", "Bearer " + tok} }

	r := e.do("POST", "/fhir", providerBundle("1-000000001", "1-466088203", "nursing-dementia"), as(home1)...).mustStatus(t, http.StatusOK)
	org1, loc1, svc1 := refsOf(t, r)
	r2 := e.do("POST", "/fhir", providerBundle("1-000000002", "1-999999999", "residential"), as(home2)...).mustStatus(t, http.StatusOK)
	org2, _, _ := refsOf(t, r2)

	t.Run("anyone with the scope searches the directory", func(t *testing.T) {
		for q, want := range map[string]int{
			"HealthcareService?type=nursing-dementia":                                                           1,
			"HealthcareService?type=https://fhir.discharge-gateway.example/CodeSystem/care-setting|residential": 1,
			"HealthcareService?characteristic=dementia":                                                         2,
			"HealthcareService?organization=" + org1:                                                            1,
			"HealthcareService?location=" + loc1:                                                                1,
			"HealthcareService?active=true":                                                                     2,
			"Location?organization=" + org2:                                                                     1,
			"Location?identifier=https://cqc.org.uk/location-id|1-466088203":                                    1,
			"Location?address-postalcode=M14%204AB":                                                             2,
			"Organization?identifier=" + cqcProvider + "|1-000000002":                                           1,
		} {
			s := e.do("GET", "/fhir/"+q, nil).mustStatus(t, http.StatusOK) // as the trust
			if int(num(s.json, "total")) != want {
				t.Errorf("%s: total %v, want %d", q, s.json["total"], want)
			}
		}
		e.do("GET", "/fhir/"+svc1, nil).mustStatus(t, http.StatusOK)
	})
	t.Run("a provider cannot write another's entries", func(t *testing.T) {
		cur := e.do("GET", "/fhir/"+loc1, nil, as(home2)...).mustStatus(t, http.StatusOK)
		doc := cur.json
		doc["managingOrganization"] = map[string]any{"reference": org2}
		r := e.do("PUT", "/fhir/"+loc1, doc, as(home2)...).mustStatus(t, http.StatusForbidden)
		if code, _ := r.issue(t); code != "forbidden" {
			t.Fatalf("%s", r.body)
		}
		steal := map[string]any{"resourceType": "Location", "status": "active", "managingOrganization": map[string]any{"reference": org1}}
		r = e.do("POST", "/fhir/Location", steal, as(home2)...).mustStatus(t, http.StatusForbidden)
		if !r.hasIssue("forbidden", "Location.managingOrganization.reference") {
			t.Fatalf("%s", r.body)
		}
		fake := map[string]any{"resourceType": "Organization", "identifier": []any{map[string]any{"system": cqcProvider, "value": "1-000000001"}}}
		e.do("POST", "/fhir/Organization", fake, as(home2)...).mustStatus(t, http.StatusForbidden)
		svc := map[string]any{"resourceType": "HealthcareService", "providedBy": map[string]any{"reference": org2},
			"location": []any{map[string]any{"reference": loc1}}}
		r = e.do("POST", "/fhir/HealthcareService", svc, as(home2)...).mustStatus(t, http.StatusForbidden)
		if !r.hasIssue("forbidden", "HealthcareService.location[0].reference") {
			t.Fatalf("%s", r.body)
		}
		after := e.do("GET", "/fhir/"+loc1, nil).mustStatus(t, http.StatusOK)
		if str(after.json, "managingOrganization", "reference") != org1 || after.header.Get("ETag") != `W/"1"` {
			t.Fatalf("home 1's Location changed: %s", after.body)
		}
	})
	t.Run("its own updates work", func(t *testing.T) {
		cur := e.do("GET", "/fhir/"+loc1, nil, as(home1)...).mustStatus(t, http.StatusOK)
		doc := cur.json
		doc["name"] = "Renamed"
		e.do("PUT", "/fhir/"+loc1, doc, as(home1)...).mustStatus(t, http.StatusOK)
	})
	t.Run("trusts read but do not write the directory", func(t *testing.T) {
		e.do("POST", "/fhir/Organization", map[string]any{"resourceType": "Organization"}).mustStatus(t, http.StatusForbidden)
	})
	t.Run("one Bundle does not mix patient data and directory entries", func(t *testing.T) {
		b := providerBundle("1-000000001", "1-1", "residential")
		b["entry"] = append(b["entry"].([]any), map[string]any{"resource": map[string]any{"resourceType": "Patient"},
			"request": map[string]any{"method": "POST", "url": "Patient"}})
		e.do("POST", "/fhir", b, as(home1)...).mustStatus(t, http.StatusForbidden)
	})
	t.Run("missing managing organization", func(t *testing.T) {
		r := e.do("POST", "/fhir/Location", map[string]any{"resourceType": "Location"}, as(home1)...).mustStatus(t, http.StatusBadRequest)
		if code, ex := r.issue(t); code != "required" || ex != "Location.managingOrganization" {
			t.Fatalf("%s %s", code, ex)
		}
	})
}

func TestLocationNear(t *testing.T) {
	e := newEnv(t)
	home1 := e.tokenFor("home-1", auth.RoleCareProvider, "1-000000001", directoryScopes)
	home2 := e.tokenFor("home-2", auth.RoleCareProvider, "1-000000002", directoryScopes)
	as := func(tok string) []string { return []string{"Authorization", "Bearer " + tok} }
	e.do("POST", "/fhir", providerBundle("1-000000001", "1-1", "nursing"), as(home1)...).mustStatus(t, 200)
	far := providerBundle("1-000000002", "1-2", "residential")
	loc := far["entry"].([]any)[1].(map[string]any)["resource"].(map[string]any)
	loc["position"] = map[string]any{"latitude": 53.48, "longitude": -2.24} // Manchester city centre, ~4.5 km north
	delete(loc, "address")
	e.do("POST", "/fhir", far, as(home2)...).mustStatus(t, 200)

	tests := []struct {
		q    string
		want []string // location identifiers, nearest first
	}{
		{"near=53.44|-2.22|2|km", []string{"1-1"}},
		{"near=53.44|-2.22|10", []string{"1-1", "1-2"}},
		{"near=53.48|-2.24|10|km", []string{"1-2", "1-1"}},
		{"near=53.44|-2.22|10000|m", []string{"1-1", "1-2"}},
		{"near=53.44|-2.22|10|km&organization=Organization/none", nil},
		{"near=51.5|-0.12|20|km", nil},
	}
	for _, tc := range tests {
		t.Run(tc.q, func(t *testing.T) {
			s := e.do("GET", "/fhir/Location?"+tc.q, nil).mustStatus(t, http.StatusOK)
			var got []string
			entries, _ := s.json["entry"].([]any)
			for _, en := range entries {
				if str(en, "search", "mode") != "match" {
					continue
				}
				got = append(got, str(en, "resource", "identifier", 0, "value"))
				ext := str(en, "search", "extension", 0, "url")
				if ext != "http://hl7.org/fhir/StructureDefinition/location-distance" {
					t.Fatalf("no location-distance extension: %v", en)
				}
			}
			if strings.Join(got, ",") != strings.Join(tc.want, ",") || int(num(s.json, "total")) != len(tc.want) {
				t.Fatalf("got %v (total %v), want %v", got, s.json["total"], tc.want)
			}
		})
	}
	r := e.do("GET", "/fhir/Location?near=53.44|-2.22|10|km", nil)
	d := r.json["entry"].([]any)[1].(map[string]any)["search"].(map[string]any)["extension"].([]any)[0].(map[string]any)["valueDistance"].(map[string]any)
	if v := d["value"].(float64); v < 4 || v > 5.5 || d["unit"] != "km" {
		t.Fatalf("distance %v", d)
	}
	for _, bad := range []string{"near=53.44", "near=north|west", "near=53.44|-2.22|10|parsecs", "near=95|0"} {
		r := e.do("GET", "/fhir/Location?"+bad, nil)
		if r.status != 400 || !r.hasIssue("value", "near") {
			t.Errorf("%s: %d %s", bad, r.status, r.body)
		}
	}
}

func TestHealthcareServiceInclude(t *testing.T) {
	e := newEnv(t)
	home1 := e.tokenFor("home-1", auth.RoleCareProvider, "1-000000001", directoryScopes)
	r := e.do("POST", "/fhir", providerBundle("1-000000001", "1-1", "nursing"), "Authorization", "Bearer "+home1).mustStatus(t, 200)
	org, loc, _ := refsOf(t, r)
	s := e.do("GET", "/fhir/HealthcareService?type=nursing&_include=HealthcareService:location&_include=HealthcareService:organization", nil).mustStatus(t, 200)
	modes := map[string]string{}
	for _, en := range s.json["entry"].([]any) {
		modes[str(en, "resource", "resourceType")+"/"+str(en, "resource", "id")] = str(en, "search", "mode")
	}
	if modes[org] != "include" || modes[loc] != "include" || num(s.json, "total") != 1 || len(modes) != 3 {
		t.Fatalf("%v %s", modes, s.body)
	}
	w := e.do("GET", "/fhir/HealthcareService?_include=HealthcareService:endpoint", nil).mustStatus(t, 200)
	if !strings.Contains(string(w.body), `"mode":"outcome"`) {
		t.Fatalf("%s", w.body)
	}
	e.do("GET", "/fhir/HealthcareService?_include=Patient:link", nil, "Prefer", "handling=strict").mustStatus(t, 400)
}
