package gateway_test

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dischargegateway/gateway/auth"
	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/fhir"
)

// placementHome is one row of a test directory: a care location near the
// walk-through patient (M14, about 53.445 -2.221) and what it posts.
type placementHome struct {
	name, setting, specialisms, fundings string
	lat, lon                             float64
	bedType                              string // "" posts no capacity
	accepting                            int
}

// nursingDementiaHome fits the walk-through request (nursing-dementia,
// hoist and two carers, CHC funding) at a distance set by dLat degrees.
func nursingDementiaHome(name string, dLat float64) placementHome {
	return placementHome{name: name, setting: "nursing-dementia", specialisms: "dementia;hoist;two-carers", fundings: "chc",
		lat: 53.445 + dLat, lon: -2.221, bedType: "nursing-dementia", accepting: 2}
}

// placementWorld imports homes, posts their capacity and the walk-through
// Bundle, and returns the ServiceRequest's reference and the posted Bundle's
// resources (for what-if calls).
func placementWorld(t *testing.T, e *env, homes []placementHome) (sr string) {
	t.Helper()
	home := e.tokenFor("home-1", auth.RoleCareProvider, "1-000000001", directoryScopes)
	var csv strings.Builder
	csv.WriteString("name,cqcLocationId,providerId,services,specialisms,fundings,address,postcode,latitude,longitude,registeredBeds,contract,rating\n")
	for i, h := range homes {
		fmt.Fprintf(&csv, "%s,1-2000000%02d,1-000000001,%s,%s,%s,x,M14 6AB,%.5f,%.5f,30,spot,good\n",
			h.name, i, h.setting, h.specialisms, h.fundings, h.lat, h.lon)
	}
	e.do("POST", "/api/v1/directory/import", csv.String(), "Authorization", "Bearer "+home, "Content-Type", "text/csv").mustStatus(t, 200)
	for i, h := range homes {
		if h.bedType == "" {
			continue
		}
		body := map[string]any{"asOf": time.Now().Add(-time.Hour).UTC().Format(time.RFC3339), "beds": []any{map[string]any{
			"type": h.bedType, "maxCapacity": 30, "occupied": 30 - h.accepting, "reserved": 0, "acceptingAdmissions": h.accepting}}}
		e.do("PUT", fmt.Sprintf("/api/v1/capacity/cqc-1-2000000%02d", i), body, "Authorization", "Bearer "+home,
			"Content-Type", "application/json").mustStatus(t, 200)
	}
	return postWalkthrough(t, e, nil)
}

// postWalkthrough posts the walk-through Bundle, changed by mutate, and
// returns its ServiceRequest's reference.
func postWalkthrough(t *testing.T, e *env, mutate func(typ string, res map[string]any)) string {
	t.Helper()
	b := walkthrough(t)
	if mutate != nil {
		for _, en := range b["entry"].([]any) {
			res := en.(map[string]any)["resource"].(map[string]any)
			mutate(res["resourceType"].(string), res)
		}
	}
	r := e.do("POST", "/fhir", b).mustStatus(t, http.StatusOK)
	for _, en := range r.json["entry"].([]any) {
		if loc := str(en, "response", "location"); strings.HasPrefix(loc, "ServiceRequest/") {
			return strings.Split(loc, "/_history/")[0]
		}
	}
	t.Fatalf("no ServiceRequest in %s", r.body)
	return ""
}

// whatIfParameters is the walk-through request and patient inline, plus
// the given primitive parameters.
func whatIfParameters(t *testing.T, extra ...map[string]any) map[string]any {
	t.Helper()
	var srRes, patRes map[string]any
	for _, en := range walkthrough(t)["entry"].([]any) {
		res := en.(map[string]any)["resource"].(map[string]any)
		switch res["resourceType"] {
		case "ServiceRequest":
			srRes = res
		case "Patient":
			patRes = res
		}
	}
	srRes["subject"] = map[string]any{"reference": "Patient/inline"}
	delete(srRes, "encounter")
	ps := []any{map[string]any{"name": "serviceRequest", "resource": srRes}, map[string]any{"name": "patient", "resource": patRes}}
	for _, x := range extra {
		ps = append(ps, x)
	}
	return map[string]any{"resourceType": "Parameters", "parameter": ps}
}

// link returns the URL of the Bundle link with this relation, or "".
func link(r resp, rel string) string {
	links, _ := r.json["link"].([]any)
	for _, l := range links {
		if str(l, "relation") == rel {
			return str(l, "url")
		}
	}
	return ""
}

// outcomeIssues returns the issues of the Bundle's outcome entry.
func outcomeIssues(r resp) []map[string]any {
	var out []map[string]any
	entries, _ := r.json["entry"].([]any)
	for _, en := range entries {
		if str(en, "search", "mode") != "outcome" {
			continue
		}
		for _, is := range en.(map[string]any)["resource"].(map[string]any)["issue"].([]any) {
			out = append(out, is.(map[string]any))
		}
	}
	return out
}

// TestPlacementTotalAndPaging (issue 13 item 8): total counts every option
// that passes the hard filters, not the page; _offset pages through them
// with links that carry the operation's parameters; the pages together are
// the whole ranking, in order.
func TestPlacementTotalAndPaging(t *testing.T) {
	e := newEnv(t)
	var homes []placementHome
	for i := range 7 {
		homes = append(homes, nursingDementiaHome(fmt.Sprintf("Home %d", i), 0.005*float64(i)))
	}
	sr := placementWorld(t, e, homes)
	path := "/fhir/" + sr + "/$placement-options"
	all := e.do("GET", path+"?_count=50", nil).mustStatus(t, http.StatusOK)
	want := matchNames(t, all)
	if len(want) != 7 || num(all.json, "total") != 7 {
		t.Fatalf("the whole ranking: %v, total %v", want, all.json["total"])
	}
	// Page through with _count=3 by following next links.
	var got []string
	next := path + "?_count=3&radius=25"
	for pages := 0; next != ""; pages++ {
		if pages > 5 {
			t.Fatal("the next links never end")
		}
		p := e.do("GET", next, nil).mustStatus(t, http.StatusOK)
		if num(p.json, "total") != 7 {
			t.Fatalf("page %d: total %v, want 7 (every option, not the page)", pages, p.json["total"])
		}
		if names := matchNames(t, p); len(names) > 3 {
			t.Fatalf("page %d has %d options", pages, len(names))
		}
		got = append(got, matchNames(t, p)...)
		if _, err := fhir.Validate(p.body, "Bundle", fhir.DefaultLimits); err != nil {
			t.Fatalf("page %d is not valid R4: %v", pages, err)
		}
		if pages > 0 && link(p, "previous") == "" {
			t.Fatalf("page %d has no previous link", pages)
		}
		next = strings.TrimPrefix(link(p, "next"), e.srv.URL)
		if next != "" {
			u, _ := url.Parse(next)
			if u.Query().Get("radius") != "25" || u.Query().Get("_count") != "3" {
				t.Fatalf("next link %s does not carry the parameters", next)
			}
		}
	}
	if !slices.Equal(got, want) {
		t.Fatalf("pages %v, whole ranking %v", got, want)
	}
	// Past the end: an empty page with the true total.
	// The same paging rule as every search: any whole _offset, however
	// far past the options, is an empty page with the true total.
	for _, off := range []string{"100", "10001", "9223372036854775807"} {
		past := e.do("GET", path+"?_offset="+off, nil).mustStatus(t, http.StatusOK)
		if len(matchNames(t, past)) != 0 || num(past.json, "total") != 7 {
			t.Fatalf("past the end (_offset=%s): %s", off, past.body)
		}
	}
	// _count=0: only the total.
	if z := e.do("GET", path+"?_count=0", nil).mustStatus(t, http.StatusOK); len(matchNames(t, z)) != 0 || num(z.json, "total") != 7 {
		t.Fatalf("_count=0: %s", z.body)
	}
	// A POST's body parameters are carried by the links too.
	p := e.do("POST", path, map[string]any{"resourceType": "Parameters", "parameter": []any{
		map[string]any{"name": "_count", "valueInteger": 2}, map[string]any{"name": "_offset", "valueInteger": 2}}}).mustStatus(t, http.StatusOK)
	if names := matchNames(t, p); !slices.Equal(names, want[2:4]) || !strings.Contains(link(p, "next"), "_offset=4") {
		t.Fatalf("POST page: %v next %s", names, link(p, "next"))
	}
	for _, bad := range []string{"-1", "+1", "01", "1e3", "x", "100000000000000000000"} {
		t.Run("_offset="+bad, func(t *testing.T) {
			r := e.do("GET", path+"?_offset="+url.QueryEscape(bad), nil).mustStatus(t, http.StatusBadRequest)
			if code, ex := r.issue(t); code != "value" || ex != "_offset" {
				t.Fatalf("%s %s", code, ex)
			}
		})
	}
}

// TestPlacementURLAndBodyParameters (issue 13 item 16): a type-level POST
// reads its URL query too; unknown parameters are refused wherever they
// are; a parameter in both places must agree.
func TestPlacementURLAndBodyParameters(t *testing.T) {
	e := newEnv(t)
	// The patient's district M14 is centred at 53.447165 -2.225736: Near is
	// 0.4 km away, Far 2.6 km.
	placementWorld(t, e, []placementHome{nursingDementiaHome("Near", 0), nursingDementiaHome("Far", 0.025)})
	const op = "/fhir/ServiceRequest/$placement-options"
	wide := e.do("POST", op, whatIfParameters(t)).mustStatus(t, http.StatusOK)
	if !slices.Equal(matchNames(t, wide), []string{"Near", "Far"}) {
		t.Fatalf("without radius: %v", matchNames(t, wide))
	}
	// radius in the URL narrows the answer (it was dropped).
	narrow := e.do("POST", op+"?radius=1", whatIfParameters(t)).mustStatus(t, http.StatusOK)
	if !slices.Equal(matchNames(t, narrow), []string{"Near"}) || num(narrow.json, "total") != 1 {
		t.Fatalf("radius=1 in the URL: %v", matchNames(t, narrow))
	}
	if u, _ := url.Parse(link(narrow, "self")); u.Query().Get("radius") != "1" {
		t.Fatalf("self link %s", link(narrow, "self"))
	}
	// explain in the URL explains (it was dropped).
	explained := e.do("POST", op+"?explain=true&radius=2", whatIfParameters(t)).mustStatus(t, http.StatusOK)
	if !strings.Contains(string(explained.body), "excluded by distance") {
		t.Fatalf("explain=true in the URL: %s", explained.body)
	}
	dec := func(name string, v float64) map[string]any { return map[string]any{"name": name, "valueDecimal": v} }
	// swapped holds the Patient where the ServiceRequest belongs and the
	// other way round; badStatus an inline ServiceRequest the R4 schema
	// refuses, reported where it sits in the body.
	swapped := whatIfParameters(t)
	sp := swapped["parameter"].([]any)
	sp[0].(map[string]any)["resource"], sp[1].(map[string]any)["resource"] = sp[1].(map[string]any)["resource"], sp[0].(map[string]any)["resource"]
	wrongPatient := whatIfParameters(t)
	wp := wrongPatient["parameter"].([]any)
	wp[1].(map[string]any)["resource"] = wp[0].(map[string]any)["resource"]
	badStatus := whatIfParameters(t)
	badStatus["parameter"].([]any)[0].(map[string]any)["resource"].(map[string]any)["status"] = "bogus"
	tests := []struct {
		name, query string
		body        map[string]any
		headers     []string
		status      int
		code, expr  string
	}{
		{"unknown in the URL", "?radius=1&bogus=1", whatIfParameters(t), nil, 400, "not-supported", "bogus"},
		{"unknown in the body", "", whatIfParameters(t, map[string]any{"name": "colour", "valueString": "blue"}), nil, 400, "not-supported", "Parameters.parameter[2].valueString"},
		{"bad value in the body", "", whatIfParameters(t, dec("radius", -3)), nil, 400, "value", "Parameters.parameter[2].valueDecimal"},
		{"NaN radius", "?radius=NaN", whatIfParameters(t), nil, 400, "value", "radius"},
		{"both places, different", "?radius=1", whatIfParameters(t, dec("radius", 10)), nil, 400, "invalid", "radius"},
		{"both places, same", "?radius=1", whatIfParameters(t, dec("radius", 1)), nil, 200, "", ""},
		{"twice in the URL", "?radius=1&radius=2", whatIfParameters(t), nil, 400, "invalid", "radius"},
		{"twice in the body", "", whatIfParameters(t, dec("radius", 1), dec("radius", 2)), nil, 400, "invalid", "radius"},
		{"unknown resource", "", whatIfParameters(t, map[string]any{"name": "encounter", "resource": map[string]any{"resourceType": "Basic",
			"code": map[string]any{"text": "x"}}}), nil, 400, "not-supported", "Parameters.parameter[2].resource"},
		{"no value", "", whatIfParameters(t, map[string]any{"name": "radius"}), nil, 400, "required", "Parameters.parameter[2]"},
		{"resource name as a value too", "?serviceRequest=x", whatIfParameters(t), nil, 400, "invalid", "serviceRequest"},
		{"unknown, strict", "?bogus=1", whatIfParameters(t), []string{"Prefer", "handling=strict"}, 400, "not-supported", "bogus"},
		{"unknown, lenient", "?bogus=1", whatIfParameters(t), []string{"Prefer", "handling=lenient"}, 200, "", ""},
		{"serviceRequest holds a Patient", "", swapped, nil, 400, "invalid", "resourceType"},
		{"patient holds a ServiceRequest", "", wrongPatient, nil, 400, "invalid", "resourceType"},
		{"inline resource refused by the schema", "", badStatus, nil, 400, "code-invalid", "Parameters.parameter[0].resource.status"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do("POST", op+tc.query, tc.body, tc.headers...).mustStatus(t, tc.status)
			if tc.status != 200 {
				if code, ex := r.issue(t); code != tc.code || ex != tc.expr {
					t.Fatalf("issue %s at %q, want %s at %q: %s", code, ex, tc.code, tc.expr, r.body)
				}
			}
		})
	}
	// Lenient: the unknown parameter is a warning naming it, and the links
	// do not pretend it was applied.
	lenient := e.do("POST", op+"?bogus=1", whatIfParameters(t), "Prefer", "handling=lenient").mustStatus(t, http.StatusOK)
	warned := false
	for _, is := range outcomeIssues(lenient) {
		if ex, _ := is["expression"].([]any); len(ex) == 1 && ex[0] == "bogus" && is["severity"] == "warning" && is["code"] == "not-supported" {
			warned = true
		}
	}
	if !warned || strings.Contains(link(lenient, "self"), "bogus") {
		t.Fatalf("lenient: warned %v, self %s", warned, link(lenient, "self"))
	}
	// The instance level merges the same way, and takes no resources.
	sr := postWalkthrough(t, e, nil)
	if code, ex := e.do("GET", "/fhir/"+sr+"/$placement-options?serviceRequest=x", nil).mustStatus(t, 400).issue(t); code != "value" || ex != "serviceRequest" {
		t.Fatalf("serviceRequest as a value: %s %s", code, ex)
	}
	r := e.do("POST", "/fhir/"+sr+"/$placement-options?radius=1", map[string]any{"resourceType": "Parameters",
		"parameter": []any{dec("radius", 20)}}).mustStatus(t, http.StatusBadRequest)
	if code, ex := r.issue(t); code != "invalid" || ex != "radius" {
		t.Fatalf("instance level: %s %s", code, ex)
	}
}

// TestPlacementRefusesWhatIsOver (issue 13 item 17): a finished stay, a
// request that is revoked, completed or entered in error, and a date
// before today in England are refused with 422 business-rule naming the
// element; a request date that has passed means today.
func TestPlacementRefusesWhatIsOver(t *testing.T) {
	e := newEnv(t)
	placementWorld(t, e, []placementHome{nursingDementiaHome("Near", 0)})
	london, err := time.LoadLocation("Europe/London")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().In(london)
	yesterday := time.Date(now.Year(), now.Month(), now.Day()-1, 12, 0, 0, 0, time.UTC).Format(time.DateOnly)
	today := now.Format(time.DateOnly)
	set := func(typ, field, value string) func(string, map[string]any) {
		return func(t string, res map[string]any) {
			if t == typ {
				res[field] = value
			}
		}
	}
	tests := []struct {
		name   string
		mutate func(string, map[string]any)
		query  string
		status int
		expr   string
	}{
		{"active, occurrence passed", nil, "", 200, ""},
		{"date today", nil, "?date=" + today, 200, ""},
		{"date yesterday", nil, "?date=" + yesterday, 422, "date"},
		{"draft", set("ServiceRequest", "status", "draft"), "", 200, ""},
		{"on-hold", set("ServiceRequest", "status", "on-hold"), "", 200, ""},
		{"revoked", set("ServiceRequest", "status", "revoked"), "", 422, "ServiceRequest.status"},
		{"completed", set("ServiceRequest", "status", "completed"), "", 422, "ServiceRequest.status"},
		{"entered-in-error", set("ServiceRequest", "status", "entered-in-error"), "", 422, "ServiceRequest.status"},
		{"encounter finished", set("Encounter", "status", "finished"), "", 422, "Encounter.status"},
		{"encounter cancelled", set("Encounter", "status", "cancelled"), "", 422, "Encounter.status"},
		{"encounter onleave", set("Encounter", "status", "onleave"), "", 200, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sr := postWalkthrough(t, e, tc.mutate)
			r := e.do("GET", "/fhir/"+sr+"/$placement-options"+tc.query, nil).mustStatus(t, tc.status)
			if tc.status == 422 {
				if code, ex := r.issue(t); code != "business-rule" || ex != tc.expr {
					t.Fatalf("issue %s at %q, want business-rule at %q", code, ex, tc.expr)
				}
			} else if len(matchNames(t, r)) != 1 {
				t.Fatalf("no match: %s", r.body)
			}
		})
	}
	// The type level checks the inline request the same way.
	p := whatIfParameters(t)
	p["parameter"].([]any)[0].(map[string]any)["resource"].(map[string]any)["status"] = "revoked"
	r := e.do("POST", "/fhir/ServiceRequest/$placement-options", p).mustStatus(t, http.StatusUnprocessableEntity)
	if code, ex := r.issue(t); code != "business-rule" || ex != "ServiceRequest.status" {
		t.Fatalf("what-if revoked: %s %s", code, ex)
	}
}

// TestPlacementExplainsOtherSettings (issue 13 item 18): the nearest
// excluded providers include one that offers another care setting (it was
// never even a candidate), each exclusion is coded from the published
// placement-exclusion-reason CodeSystem, and the list stops at the
// documented cap.
func TestPlacementExplainsOtherSettings(t *testing.T) {
	e := newEnv(t)
	homes := []placementHome{
		nursingDementiaHome("Fits", 0.01),
		// Next door, but residential: a different care setting and bed type.
		{name: "Residential next door", setting: "residential", specialisms: "dementia;hoist;two-carers", fundings: "chc",
			lat: 53.4451, lon: -2.221, bedType: "residential", accepting: 3},
		// Next door, residential, never posted capacity.
		{name: "Residential unposted", setting: "residential", fundings: "chc", lat: 53.4452, lon: -2.221},
	}
	// Fitting homes just beyond the 25 km radius, which the old answer
	// listed instead.
	for i := range 12 {
		homes = append(homes, nursingDementiaHome(fmt.Sprintf("Beyond %02d", i), 0.23+0.002*float64(i)))
	}
	sr := placementWorld(t, e, homes)
	plain := e.do("GET", "/fhir/"+sr+"/$placement-options", nil).mustStatus(t, http.StatusOK)
	r := e.do("GET", "/fhir/"+sr+"/$placement-options?explain=true", nil).mustStatus(t, http.StatusOK)
	if num(r.json, "total") != 1 || num(plain.json, "total") != 1 || !slices.Equal(matchNames(t, r), []string{"Fits"}) {
		t.Fatalf("explain changed the answer: %v / %v", r.json["total"], plain.json["total"])
	}
	cs := e.do("GET", "/fhir/CodeSystem/placement-exclusion-reason", nil).mustStatus(t, http.StatusOK)
	if _, err := fhir.Validate(cs.body, "CodeSystem", fhir.DefaultLimits); err != nil {
		t.Fatalf("CodeSystem invalid: %v", err)
	}
	published := map[string]bool{}
	for _, c := range cs.json["concept"].([]any) {
		published[str(c, "code")] = true
	}
	const system = "https://fhir.discharge-gateway.example/CodeSystem/placement-exclusion-reason"
	var excluded []string // "service id: code", nearest first
	for _, is := range outcomeIssues(r) {
		if is["severity"] != "information" {
			continue
		}
		coding := is["details"].(map[string]any)["coding"].([]any)[0]
		if str(coding, "system") != system || !published[str(coding, "code")] {
			t.Fatalf("exclusion not coded from the published CodeSystem: %v", is)
		}
		// The excluded service is no element of the request or the
		// answer: no FHIRPath names it; its reference opens the diagnostics.
		ref, _, ok := strings.Cut(str(is, "diagnostics"), " excluded by ")
		if is["expression"] != nil || !ok || !strings.HasPrefix(ref, "HealthcareService/") {
			t.Fatalf("exclusion %v: want no expression and diagnostics opening with the service's reference", is)
		}
		excluded = append(excluded, strings.TrimPrefix(ref, "HealthcareService/")+": "+str(coding, "code"))
	}
	if len(excluded) != discharge.MaxExplained {
		t.Fatalf("%d exclusions listed, want the documented cap %d: %v", len(excluded), discharge.MaxExplained, excluded)
	}
	// The two residential homes next door come first (the nearer of them
	// is the unposted one: the district's centre lies north of them).
	want := []string{"cqc-1-200000002-care: setting", "cqc-1-200000001-care: setting", "cqc-1-200000003-care: distance"}
	if !slices.Equal(excluded[:3], want) {
		t.Fatalf("nearest exclusions %v, want %v first", excluded, want)
	}
	// Warnings about counts are coded too.
	for _, is := range outcomeIssues(r) {
		if is["severity"] == "warning" && strings.Contains(fmt.Sprint(is["diagnostics"]), "left out") {
			if str(is["details"].(map[string]any)["coding"].([]any)[0], "system") != system {
				t.Fatalf("count warning not coded: %v", is)
			}
		}
	}
	// The CodeSystem is listed with the others.
	list := e.do("GET", "/fhir/CodeSystem?url="+system, nil).mustStatus(t, http.StatusOK)
	if num(list.json, "total") != 1 {
		t.Fatalf("CodeSystem search: %s", list.body)
	}
}

// TestPlacementHospice (issue 13 item 19): a hospice posts hospice beds
// like any care home, and a hospice need matches it (it was always
// "capacity unknown", and the posting was refused).
func TestPlacementHospice(t *testing.T) {
	e := newEnv(t)
	placementWorld(t, e, []placementHome{
		{name: "St Example Hospice", setting: "hospice", fundings: "chc", lat: 53.446, lon: -2.222, bedType: "hospice", accepting: 1},
		{name: "Full Hospice", setting: "hospice", fundings: "chc", lat: 53.447, lon: -2.222, bedType: "hospice", accepting: 0},
		nursingDementiaHome("Nursing", 0),
	})
	p := whatIfParameters(t, map[string]any{"name": "explain", "valueBoolean": true})
	sr := p["parameter"].([]any)[0].(map[string]any)["resource"].(map[string]any)
	sr["code"] = map[string]any{"coding": []any{map[string]any{"system": "https://fhir.discharge-gateway.example/CodeSystem/care-setting", "code": "hospice"}}}
	delete(sr, "category")
	delete(sr, "orderDetail")
	r := e.do("POST", "/fhir/ServiceRequest/$placement-options", p).mustStatus(t, http.StatusOK)
	if !slices.Equal(matchNames(t, r), []string{"St Example Hospice"}) || num(r.json, "total") != 1 {
		t.Fatalf("hospice matches %v: %s", matchNames(t, r), r.body)
	}
	if !strings.Contains(string(r.body), `"code":"hospice","system":"https://fhir.discharge-gateway.example/CodeSystem/bed-type"`) &&
		!strings.Contains(string(r.body), `"system":"https://fhir.discharge-gateway.example/CodeSystem/bed-type","code":"hospice"`) {
		t.Fatalf("the vacancy is not a hospice bed: %s", r.body)
	}
	// The bed type is published.
	bt := e.do("GET", "/fhir/CodeSystem/bed-type", nil).mustStatus(t, http.StatusOK)
	if !strings.Contains(string(bt.body), `"code":"hospice"`) {
		t.Fatalf("bed-type CodeSystem: %s", bt.body)
	}
}
