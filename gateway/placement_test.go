package gateway_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dischargegateway/gateway/auth"
	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/fhir"
)

const placementCSV = `name,cqcLocationId,providerId,services,specialisms,fundings,address,postcode,latitude,longitude,registeredBeds,contract,rating
Home A,1-100000001,1-000000001,nursing-dementia,dementia;hoist;two-carers,chc;local-authority,x,M14 6AB,53.445,-2.221,40,block,outstanding
Home B,1-100000002,1-000000001,nursing-dementia,hoist;two-carers,chc,x,M13 9PL,53.470,-2.240,30,spot,good
Home C,1-100000003,1-000000001,nursing-dementia,hoist,chc,x,M14 5AA,53.446,-2.222,30,spot,good
Home D,1-100000004,1-000000001,nursing-dementia,hoist;two-carers,local-authority,x,M14 5AB,53.447,-2.223,30,spot,good
Home E,1-100000005,1-000000001,nursing-dementia,hoist;two-carers,chc,x,E1 6AN,51.515,-0.072,30,block,outstanding
`

func TestPlacementOptions(t *testing.T) {
	e := newEnv(t)
	home := e.tokenFor("home-1", auth.RoleCareProvider, "1-000000001", directoryScopes)
	e.do("POST", "/api/v1/directory/import", placementCSV, "Authorization", "Bearer "+home, "Content-Type", "text/csv").mustStatus(t, 200)
	for loc, accepting := range map[string]int{"1-100000001": 2, "1-100000002": 1, "1-100000003": 3, "1-100000004": 3, "1-100000005": 3} {
		body := map[string]any{"asOf": time.Now().Add(-time.Hour).UTC().Format(time.RFC3339), "beds": []any{map[string]any{
			"type": "nursing-dementia", "maxCapacity": 30, "occupied": 30 - accepting, "reserved": 0, "acceptingAdmissions": accepting}}}
		e.do("PUT", "/api/v1/capacity/cqc-"+loc, body, "Authorization", "Bearer "+home, "Content-Type", "application/json").mustStatus(t, 200)
	}
	r := e.do("POST", "/fhir", walkthrough(t)).mustStatus(t, http.StatusOK)
	var sr string
	for _, en := range r.json["entry"].([]any) {
		if loc := str(en, "response", "location"); strings.HasPrefix(loc, "ServiceRequest/") {
			sr = strings.Split(loc, "/_history/")[0]
		}
	}
	b := e.do("GET", "/fhir/"+sr+"/$placement-options?explain=true", nil).mustStatus(t, http.StatusOK)
	if str(b.json, "resourceType") != "Bundle" || str(b.json, "type") != "searchset" {
		t.Fatalf("%s", b.body)
	}
	var matches []string
	var scores []float64
	modes := map[string]int{}
	for _, en := range b.json["entry"].([]any) {
		mode := str(en, "search", "mode")
		modes[mode]++
		if mode != "match" {
			continue
		}
		matches = append(matches, str(en, "resource", "name"))
		scores = append(scores, num(en.(map[string]any)["search"], "score"))
		exts := en.(map[string]any)["search"].(map[string]any)["extension"].([]any)
		if str(exts[0], "url") != "http://hl7.org/fhir/StructureDefinition/location-distance" ||
			!strings.HasSuffix(str(exts[1], "url"), "placement-explanation") {
			t.Fatalf("extensions %v", exts)
		}
	}
	// A (near, block, outstanding) before B (further, spot, good); C lacks
	// two-carers, D does not take CHC funding, E is in London.
	if strings.Join(matches, ",") != "Home A,Home B" || scores[0] <= scores[1] || num(b.json, "total") != 2 {
		t.Fatalf("matches %v scores %v: %s", matches, scores, b.body)
	}
	if modes["include"] != 3 || modes["outcome"] != 1 { // two Locations, one Organization
		t.Fatalf("modes %v", modes)
	}
	if self := str(b.json["link"].([]any)[0], "url"); self != e.srv.URL+"/fhir/"+sr+"/$placement-options?_count=10&_offset=0&explain=true" {
		t.Fatalf("self link %s", self)
	}
	body := string(b.body)
	for _, want := range []string{"excluded by requirement", "excluded by funding", "Fewer than 3 options"} {
		if !strings.Contains(body, want) {
			t.Fatalf("missing %q in %s", want, body)
		}
	}
	// POST with Parameters gives the same answer.
	p := e.do("POST", "/fhir/"+sr+"/$placement-options", map[string]any{"resourceType": "Parameters",
		"parameter": []any{map[string]any{"name": "radius", "valueDecimal": 10}}}).mustStatus(t, http.StatusOK)
	if num(p.json, "total") != 2 {
		t.Fatalf("%s", p.body)
	}
	// The answer is valid FHIR R4.
	if _, err := fhir.Validate(b.body, "Bundle", fhir.DefaultLimits); err != nil {
		t.Fatalf("the placement Bundle is not valid R4: %v", err)
	}
	// Type level: the same request inline, nothing stored.
	whatIf := e.do("POST", "/fhir/ServiceRequest/$placement-options",
		whatIfParameters(t, map[string]any{"name": "explain", "valueBoolean": true})).mustStatus(t, http.StatusOK)
	if num(whatIf.json, "total") != 2 || !strings.Contains(string(whatIf.body), "Home A") {
		t.Fatalf("what-if: %s", whatIf.body)
	}
	if s := e.do("GET", "/fhir/ServiceRequest", nil); num(s.json, "total") != 1 {
		t.Fatalf("the what-if call stored something: %v", s.json["total"])
	}
	e.do("POST", "/fhir/ServiceRequest/$placement-options", map[string]any{"resourceType": "Parameters"}).mustStatus(t, http.StatusBadRequest)
	od := e.do("GET", "/fhir/OperationDefinition/ServiceRequest-placement-options", nil).mustStatus(t, http.StatusOK)
	if _, err := fhir.Validate(od.body, "OperationDefinition", fhir.DefaultLimits); err != nil {
		t.Fatalf("OperationDefinition invalid: %v", err)
	}
	// Errors.
	bad := e.do("GET", "/fhir/"+sr+"/$placement-options?colour=blue", nil).mustStatus(t, http.StatusBadRequest)
	if code, ex := bad.issue(t); code != "not-supported" || ex != "colour" {
		t.Fatalf("%s %s", code, ex)
	}
	other := e.tokenFor("trust-b", auth.RoleTrust, "RXB", clinicalScopes+" system/HealthcareService.rs")
	e.do("GET", "/fhir/"+sr+"/$placement-options", nil, "Authorization", "Bearer "+other).mustStatus(t, http.StatusNotFound)
}

// TestPlacementDuringPostings posts capacity while placement searches run:
// every answer shows one whole posting per provider (its vacancy figures
// agree with a posting that was actually made), never a mix.
func TestPlacementDuringPostings(t *testing.T) {
	e := newEnv(t)
	home := e.tokenFor("home-1", auth.RoleCareProvider, "1-000000001", directoryScopes)
	e.do("POST", "/api/v1/directory/import", placementCSV, "Authorization", "Bearer "+home, "Content-Type", "text/csv").mustStatus(t, 200)
	r := e.do("POST", "/fhir", walkthrough(t)).mustStatus(t, http.StatusOK)
	var sr string
	for _, en := range r.json["entry"].([]any) {
		if loc := str(en, "response", "location"); strings.HasPrefix(loc, "ServiceRequest/") {
			sr = strings.Split(loc, "/_history/")[0]
		}
	}
	base := time.Now().Add(-time.Hour)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < 60; i++ {
			acc := 1 + i%5 // each posting: accepting = acc, occupied = 30 - acc
			body := map[string]any{"asOf": base.Add(time.Duration(i) * time.Second).UTC().Format(time.RFC3339), "beds": []any{map[string]any{
				"type": "nursing-dementia", "maxCapacity": 30, "occupied": 30 - acc, "reserved": 0, "acceptingAdmissions": acc}}}
			e.do("PUT", "/api/v1/capacity/cqc-1-100000001", body, "Authorization", "Bearer "+home, "Content-Type", "application/json")
		}
	}()
	for i := 0; i < 40; i++ {
		b := e.do("GET", "/fhir/"+sr+"/$placement-options", nil).mustStatus(t, http.StatusOK)
		entries, ok := b.json["entry"].([]any)
		if !ok {
			t.Fatalf("no entries: %s", b.body)
		}
		for _, en := range entries {
			if str(en, "resource", "name") != "Home A" || str(en, "search", "mode") != "match" {
				continue
			}
			exts := en.(map[string]any)["search"].(map[string]any)["extension"].([]any)
			for _, x := range exts[1].(map[string]any)["extension"].([]any) {
				if str(x, "url") != "vacancy" {
					continue
				}
				n := x.(map[string]any)["extension"].([]any)[1].(map[string]any)["valueInteger"].(float64)
				if n < 1 || n > 5 {
					t.Fatalf("a vacancy figure no posting made: %v", n)
				}
			}
		}
	}
	<-done
}

// failingReads is the real store whose Read of one resource type fails as
// Redis does when it cannot be reached, while failing is set.
type failingReads struct {
	fhir.Store
	typ     string
	failing atomic.Bool
}

func (f *failingReads) Read(ctx context.Context, part, typ, id string) (fhir.Resource, error) {
	if f.failing.Load() && typ == f.typ {
		return fhir.Resource{}, discharge.Wrap(discharge.KindUnavailable, "test", errors.New("injected: connection refused"))
	}
	return f.Store.Read(ctx, part, typ, id)
}

// A store failure while reading the request's Patient (its home postcode)
// or Encounter (its discharge dates) is a 503 the caller retries, never a
// 422 "no postcode" or a shortlist for a different date.
func TestPlacementStoreFailureIsUnavailable(t *testing.T) {
	for _, typ := range []string{"Patient", "Encounter"} {
		t.Run(typ, func(t *testing.T) {
			f := &failingReads{typ: typ}
			e := newEnvFull(t, 100000, func(s fhir.Store) fhir.Store { f.Store = s; return f })
			r := e.do("POST", "/fhir", walkthrough(t)).mustStatus(t, http.StatusOK)
			var sr string
			for _, en := range r.json["entry"].([]any) {
				if loc := str(en, "response", "location"); strings.HasPrefix(loc, "ServiceRequest/") {
					sr = strings.Split(loc, "/_history/")[0]
				}
			}
			e.do("GET", "/fhir/"+sr+"/$placement-options", nil).mustStatus(t, http.StatusOK)
			f.failing.Store(true)
			b := e.do("GET", "/fhir/"+sr+"/$placement-options", nil).mustStatus(t, http.StatusServiceUnavailable)
			if got := str(b.json["issue"].([]any)[0], "code"); got != "transient" {
				t.Fatalf("issue code %q: %s", got, b.body)
			}
			if typ == "Patient" {
				// The discharge case view maps the Encounter with its Patient.
				var enc string
				for _, en := range r.json["entry"].([]any) {
					if loc := str(en, "response", "location"); strings.HasPrefix(loc, "Encounter/") {
						enc = strings.Split(strings.TrimPrefix(loc, "Encounter/"), "/_history/")[0]
					}
				}
				e.do("GET", "/api/v1/cases/"+enc, nil, "Accept", "application/json").mustStatus(t, http.StatusServiceUnavailable)
				// Intake maps a new ServiceRequest with its stored Patient:
				// nothing may be stored on a guess while that read fails.
				f.failing.Store(false)
				again := e.do("GET", "/fhir/"+sr, nil).mustStatus(t, http.StatusOK).json
				delete(again, "id")
				delete(again, "meta")
				f.failing.Store(true)
				e.do("POST", "/fhir/ServiceRequest", again).mustStatus(t, http.StatusServiceUnavailable)
				f.failing.Store(false)
				e.do("POST", "/fhir/ServiceRequest", again).mustStatus(t, http.StatusCreated)
				e.do("GET", "/api/v1/cases/"+enc, nil, "Accept", "application/json").mustStatus(t, http.StatusOK)
			}
			f.failing.Store(false)
			e.do("GET", "/fhir/"+sr+"/$placement-options", nil).mustStatus(t, http.StatusOK)
		})
	}
}
