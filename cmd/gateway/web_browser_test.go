package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/dischargegateway/gateway/auth"
	"github.com/dischargegateway/gateway/internal/pgtest"
	"github.com/dischargegateway/gateway/internal/redistest"
	"github.com/dischargegateway/gateway/web"
)

// The dashboard in a real browser (docs/dashboard.md): the whole program
// in demo mode (run(), as `go run ./cmd/gateway`), headless Chromium
// driven by chromedp, axe-core on every page. Screenshots go to
// $WEBTEST_ARTIFACTS, else cmd/gateway/testdata/out (ignored by git).
//
// It skips only when chromium is missing and WEBTEST_REQUIRED is unset;
// scripts/test.sh installs chromium and axe-core and sets it.

// browser starts headless Chromium with the flags a closed, shared
// machine needs, or skips.
func browser(t *testing.T) context.Context {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("WEBTEST_REQUIRED") != "" {
			t.Fatal("WEBTEST_REQUIRED is set but chromium is not installed (apt-get install -y chromium)")
		}
		t.Skip("chromium is not installed; scripts/test.sh installs it and sets WEBTEST_REQUIRED=1")
	}
	opts := []chromedp.ExecAllocatorOption{chromedp.ExecPath(path), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("no-first-run", true), chromedp.WindowSize(1280, 900)}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	ctx, cancelTime := context.WithTimeout(ctx, 4*time.Minute)
	t.Cleanup(func() { cancelTime(); cancelCtx(); cancelAlloc() })
	return ctx
}

// axeSource is axe-core's script (web/testdata/axe, `npm ci` there).
func axeSource(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "web", "testdata", "axe", "node_modules", "axe-core", "axe.min.js"))
	if err != nil {
		t.Fatalf("axe-core is not installed: run `npm ci` in web/testdata/axe (%v)", err)
	}
	return string(b)
}

func artifactsDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("WEBTEST_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join("testdata", "out")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

type walk struct {
	t    *testing.T
	ctx  context.Context
	base string
	axe  string
	out  string
}

func (w *walk) do(steps ...chromedp.Action[chromedp.Void]) {
	w.t.Helper()
	if err := chromedp.Do(w.ctx, steps...); err != nil {
		w.t.Fatal(err)
	}
}

// open navigates to path and checks the page: axe-core finds no WCAG 2.2
// A/AA violation, and a screenshot is saved as name.png.
func (w *walk) open(path, name string) string {
	w.t.Helper()
	w.do(chromedp.Navigate(w.base + path))
	return w.check(name)
}

// submit clicks sel (a form's button) and checks the page it leads to.
func (w *walk) submit(sel, name string) string {
	w.t.Helper()
	if _, err := chromedp.RunResponse(w.ctx, chromedp.Click(chromedp.CSS(sel))); err != nil {
		w.t.Fatalf("%s: %v", sel, err)
	}
	return w.check(name)
}

type axeResult struct {
	Violations []struct {
		ID    string `json:"id"`
		Help  string `json:"help"`
		Nodes []struct {
			Target []any `json:"target"`
		} `json:"nodes"`
	} `json:"violations"`
	// Passes proves axe ran its rules on the page.
	Passes []struct {
		ID string `json:"id"`
	} `json:"passes"`
}

func (w *walk) check(name string) string {
	w.t.Helper()
	if _, err := chromedp.Run(w.ctx, chromedp.Evaluate[chromedp.Void](w.axe)); err != nil {
		w.t.Fatal(err)
	}
	res, err := chromedp.Run(w.ctx, chromedp.Evaluate[axeResult](
		`axe.run(document, {runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]}})`,
		chromedp.EvalAwaitPromise))
	if err != nil {
		w.t.Fatal(err)
	}
	if len(res.Passes) == 0 {
		w.t.Fatalf("%s: axe-core checked nothing", name)
	}
	for _, v := range res.Violations {
		w.t.Errorf("%s: axe %s (%s) at %v", name, v.ID, v.Help, v.Nodes)
	}
	png, err := chromedp.Run(w.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		w.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(w.out, name+".png"), png, 0o644); err != nil {
		w.t.Fatal(err)
	}
	html, err := chromedp.Run(w.ctx, chromedp.OuterHTML(chromedp.CSS("main")))
	if err != nil {
		w.t.Fatal(err)
	}
	return html
}

func (w *walk) signIn(client, name string) string {
	w.t.Helper()
	w.open("/sign-in", "sign-in")
	w.do(chromedp.Click(chromedp.CSS("#org-" + client)))
	return w.submit(`form[action="/sign-in/demo"] button`, name)
}

func (w *walk) signOut() {
	w.t.Helper()
	if _, err := chromedp.RunResponse(w.ctx, chromedp.Click(chromedp.CSS(`form[action="/sign-out"] button`))); err != nil {
		w.t.Fatal(err)
	}
}

func must(t *testing.T, html string, wants ...string) {
	t.Helper()
	for _, want := range wants {
		if !strings.Contains(html, want) {
			t.Fatalf("page lacks %q:\n%s", want, html)
		}
	}
}

func mustNot(t *testing.T, html string, nots ...string) {
	t.Helper()
	for _, not := range nots {
		if strings.Contains(html, not) {
			t.Fatalf("page shows %q:\n%s", not, html)
		}
	}
}

// apiPost posts body to the gateway as a demo client and returns the
// locations it answered, by resource type.
func apiPost(t *testing.T, method, url, token, ctype string, body []byte) map[string]string {
	t.Helper()
	req, _ := http.NewRequest(method, url, bytes.NewReader(body))
	req.Header.Set("Content-Type", ctype)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		t.Fatalf("%s %s: %d %s", method, url, resp.StatusCode, b)
	}
	var bundle struct {
		Entry []struct {
			Response struct {
				Location string `json:"location"`
			} `json:"response"`
		} `json:"entry"`
	}
	_ = json.Unmarshal(b, &bundle)
	ids := map[string]string{}
	for _, e := range bundle.Entry {
		parts := strings.Split(e.Response.Location, "/")
		if len(parts) >= 2 {
			ids[parts[0]] = parts[1]
		}
	}
	return ids
}

// apiGet reads a JSON API answer as a demo client.
func apiGet(t *testing.T, url, token string) string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s", url, resp.StatusCode, b)
	}
	return string(b)
}

// secondHomeBundle is care home 1's second home (%s: its Organization's
// id, twice): a residential Location and its service.
const secondHomeBundle = `{"resourceType":"Bundle","type":"transaction","entry":[
{"fullUrl":"urn:uuid:22222222-0000-4000-8000-000000000002","request":{"method":"POST","url":"Location"},
 "resource":{"resourceType":"Location","status":"active","name":"Second Street House","address":{"postalCode":"M20 2RN"},
  "position":{"latitude":53.42,"longitude":-2.23},"managingOrganization":{"reference":"Organization/%s"}}},
{"fullUrl":"urn:uuid:22222222-0000-4000-8000-000000000003","request":{"method":"POST","url":"HealthcareService"},
 "resource":{"resourceType":"HealthcareService","active":true,"name":"Second Street House","providedBy":{"reference":"Organization/%s"},
  "location":[{"reference":"urn:uuid:22222222-0000-4000-8000-000000000002"}],
  "type":[{"coding":[{"system":"https://fhir.discharge-gateway.example/CodeSystem/care-setting","code":"residential"}]}]}}]}`

// filledSitrep is the sitrep service's view with the sections it does
// not report yet filled in, so the browser test sees them drawn (and
// axe checks them). A section the service fills is left as it is; the
// other trust (RXB) gets none filled, to see the empty states.
type filledSitrep struct{ inner web.Sitrep }

func (f filledSitrep) Sitrep(ctx context.Context, p *auth.Principal, day time.Time) (web.SitrepView, error) {
	var v web.SitrepView
	if f.inner != nil {
		var err error
		if v, err = f.inner.Sitrep(ctx, p, day); err != nil {
			return v, err
		}
	}
	if p != nil && p.Org == "RXB" {
		return v, nil // the other trust sees the empty states
	}
	if len(v.Unmet) == 0 {
		v.Unmet = []web.DistrictDemand{{District: "M14", Setting: "nursing-dementia", Waiting: 3, TopFilter: "no-vacancy"},
			{District: "M20", Setting: "residential", Waiting: 1}}
	}
	if len(v.VirtualWards) == 0 {
		var trend []web.Point
		for i := range 14 {
			trend = append(trend, web.Point{Day: day.AddDate(0, 0, i-13), Value: 0.7 + float64(i%5)*0.04})
		}
		v.VirtualWards = []web.WardOccupancy{{Name: "Frailty virtual ward", ICB: "QOP", District: "M14", Occupied: 43, Capacity: 50, Trend: trend},
			{Name: "Respiratory virtual ward", ICB: "QOP", Occupied: 11, Capacity: 20}}
	}
	if len(v.Forecast) == 0 {
		for i := range 14 {
			v.Forecast = append(v.Forecast, web.ForecastDay{Day: day.AddDate(0, 0, i+1), Setting: "nursing-dementia", District: "M14",
				Demand: 2 + i%3, Vacant: 3, Held: 1})
		}
	}
	return v, nil
}

// TestDashboardInBrowser walks the referral loop through the pages:
// worklist → case → shortlist → send offers as the demo hub, accept as
// the demo care home, confirm as the hub; checks what each role must and
// must not see; and runs axe-core on every page.
func TestDashboardInBrowser(t *testing.T) {
	ctx := browser(t)
	axe := axeSource(t)
	testSitrep = func(inner web.Sitrep) web.Sitrep { return filledSitrep{inner} }
	t.Cleanup(func() { testSitrep = nil })
	base, _, _, logs := startRun(t, map[string]string{})

	// The walk-through case (RXA's) and care home 1's home with today's
	// vacancies, as the quick start makes them.
	read := func(p string) []byte {
		b, err := os.ReadFile(filepath.Join("..", "..", p))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	caseIDs := apiPost(t, "POST", base+"/fhir", mint(t, "demo-trust-rxa"), "application/fhir+json", read("mappings/testdata/walkthrough-bundle.json"))
	home := mint(t, "demo-care-home-1")
	homeIDs := apiPost(t, "POST", base+"/fhir", home, "application/fhir+json", read("mappings/testdata/care-home-bundle.json"))
	loc := homeIDs["Location"]
	apiPost(t, "PUT", base+"/api/v1/capacity/"+loc, home, "application/json", []byte(fmt.Sprintf(
		`{"asOf":%q,"beds":[{"type":"nursing-dementia","maxCapacity":30,"occupied":25,"reserved":1,"acceptingAdmissions":4,"closedToAdmissions":false}]}`,
		time.Now().UTC().Format(time.RFC3339))))
	enc := caseIDs["Encounter"]
	if enc == "" || loc == "" {
		t.Fatalf("setup: %v %v", caseIDs, homeIDs)
	}
	// Care home 1's second home, so its capacity form has a list to
	// choose from.
	second := apiPost(t, "POST", base+"/fhir", home, "application/fhir+json", []byte(fmt.Sprintf(secondHomeBundle, homeIDs["Organization"], homeIDs["Organization"])))["Location"]
	if second == "" {
		t.Fatal("setup: no second Location")
	}

	w := &walk{t: t, ctx: ctx, base: base, axe: axe, out: artifactsDir(t)}

	// Not signed in: every page sends you to sign in.
	must(t, w.open("/worklist", "signed-out"), "Demo sign-in")

	// The hub: the worklist shows its member trust's case.
	html := w.signIn("demo-hub", "hub-worklist")
	must(t, html, "Worklist", enc)
	html = w.open("/cases/"+enc, "hub-case")
	must(t, html, "Case "+enc, "Referred", "See the shortlist")
	mustNot(t, html, "9476719931") // the NHS number is not on the page
	html = w.submit(`a[href^="/cases/`+enc+`/shortlist"]`, "hub-shortlist")
	must(t, html, "Shortlist", "Send offers")
	w.do(chromedp.Click(chromedp.CSS(`input[name="provider"][value$="|` + loc + `"]`)))
	html = w.submit(`form[action$="/offers"] button`, "hub-offer-sent")
	must(t, html, "Offer sent to 1 provider", "Requested")
	// The sitrep page shows the sitrep service's figures (not the
	// "not available" note of a gateway without it), and draws unmet
	// demand, virtual wards and the forecast.
	html = w.open("/sitrep", "hub-sitrep")
	must(t, html, "Patients not meeting the criteria to reside", "Last 30 days", "Discharges today",
		"Most providers excluded by", "target 80%", `class="dg-bar"`, "Forecast for the next 14 days", "Short by")
	mustNot(t, html, "not available on this gateway", "No unmet demand is reported", "No virtual-ward occupancy is reported", "No forecast is reported")
	// An address with no page: the NHS-style 404 page, with the header.
	must(t, w.open("/worklist/no-such-page", "hub-page-not-found"), "Page not found", "check it is correct")
	w.open("/capacity?district=M14&setting=nursing-dementia", "hub-capacity")
	// The hub has no care home pages.
	must(t, w.open("/referrals", "hub-referrals-refused"), "You cannot do this")
	w.signOut()

	// The care home: its open referral, without the patient's identity;
	// accepting holds a bed.
	html = w.signIn("demo-care-home-1", "home-referrals")
	must(t, html, "Open referrals", "Answer by")
	mustNot(t, html, enc, "9476719931")
	w.do(chromedp.SetValue(chromedp.CSS(`select[name="bedType"]`), "nursing-dementia"))
	html = w.submit(`form[action$="/accept"] button`, "home-accepted")
	must(t, html, "Referral accepted", "Accepted, awaiting confirmation", "Nursing dementia")
	// Today's capacity: choose the home from the list (no id to know);
	// its bed types come prefilled with the last posting; change two
	// figures and post.
	html = w.open("/capacity/today", "home-capacity-choose")
	must(t, html, "Which home are you posting for?", "Quick Start House nursing (dementia), M14 6AB", "Second Street House, M20 2RN")
	w.do(chromedp.Click(chromedp.CSS("#location-" + loc)))
	html = w.submit(`form[action="/capacity/today"][method="get"] button`, "home-capacity-form")
	must(t, html, "Quick Start House", "Nursing (dementia)", "Last posted")
	accepting, err := chromedp.Run(w.ctx, chromedp.Value(chromedp.CSS("#accepting-nursing-dementia")))
	if err != nil {
		t.Fatal(err)
	}
	if accepting != "4" {
		t.Fatalf("the form is not prefilled with the last posting: accepting %q", accepting)
	}
	w.do(chromedp.SetValue(chromedp.CSS("#occupied-nursing-dementia"), "26"), chromedp.SetValue(chromedp.CSS("#accepting-nursing-dementia"), "3"))
	html = w.submit(`form[action="/capacity/today"][method="post"] button`, "home-capacity-posted")
	must(t, html, "Capacity posted.")
	if got := apiGet(t, base+"/api/v1/capacity/"+loc, home); !strings.Contains(got, `"acceptingAdmissions":3`) || !strings.Contains(got, `"occupied":26`) {
		t.Fatalf("the posting did not reach the capacity API: %s", got)
	}
	must(t, w.open("/no-such-page", "home-page-not-found"), "Page not found")
	// A care home sees no worklist and no case.
	must(t, w.open("/worklist", "home-worklist-refused"), "You cannot do this")
	must(t, w.open("/cases/"+enc, "home-case-refused"), "You cannot do this")
	w.signOut()

	// Another trust sees nothing of RXA's case.
	html = w.signIn("demo-trust-rxb", "rxb-worklist")
	mustNot(t, html, enc)
	must(t, w.open("/cases/"+enc, "rxb-case-not-found"), "Page not found")
	// Its sitrep has nothing to report in the new sections: each says so
	// (and axe checks the empty states).
	must(t, w.open("/sitrep", "rxb-sitrep-empty"), "No unmet demand is reported.", "No virtual-ward occupancy is reported.", "No forecast is reported.")
	w.signOut()

	// The hub confirms.
	w.signIn("demo-hub", "hub-worklist-again")
	html = w.open("/cases/"+enc, "hub-case-accepted")
	must(t, html, "Confirm placement")
	html = w.submit(`form[action$="/confirm"] button`, "hub-confirmed")
	must(t, html, "Placement confirmed", "Confirmed since")

	if strings.Contains(logs.String(), "9476719931") {
		t.Fatal("the logs carry the NHS number")
	}
}

// TestDashboardMounted: `gateway serve` serves the dashboard at / beside
// the APIs, with the gateway's trailing-slash and HEAD rules; GATEWAY_WEB=off
// leaves / to the API's 404 OperationOutcome.
func TestDashboardMounted(t *testing.T) {
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	do := func(method, url string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(method, url, nil)
		resp, err := noRedirect.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	base, _, _, _ := startRun(t, map[string]string{})
	if r := do("GET", base+"/"); r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/sign-in" {
		t.Fatalf("GET /: %d %q", r.StatusCode, r.Header.Get("Location"))
	}
	if r := do("HEAD", base+"/sign-in/"); r.StatusCode != http.StatusOK || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("HEAD /sign-in/: %d %q", r.StatusCode, r.Header.Get("Content-Type"))
	}
	if r := do("GET", base+"/static/vendor/nhsuk-frontend/nhsuk-frontend.min.css"); r.StatusCode != http.StatusOK {
		t.Fatalf("the vendored CSS: %d", r.StatusCode)
	}
	if r := do("GET", base+"/fhir/metadata"); r.StatusCode != http.StatusOK || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/fhir+json") {
		t.Fatalf("/fhir/metadata: %d %q", r.StatusCode, r.Header.Get("Content-Type"))
	}
	// An address with no page: a browser gets the NHS-style 404 page, an
	// API client (and anything under /fhir or /api) the OperationOutcome.
	page := "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
	for _, tc := range []struct {
		path, accept, ctype string
	}{
		{"/nope", page, "text/html"},
		{"/worklist/xyz", page, "text/html"},
		{"/nope", "application/fhir+json", "application/fhir+json"},
		{"/nope", "*/*", "application/fhir+json"},
		{"/fhir/Patient/x/y/z", page, "application/fhir+json"},
		{"/api/v1/nope", page, "application/fhir+json"},
	} {
		req, _ := http.NewRequest(http.MethodGet, base+tc.path, nil)
		req.Header.Set("Accept", tc.accept)
		resp, err := noRedirect.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound || !strings.HasPrefix(resp.Header.Get("Content-Type"), tc.ctype) {
			t.Fatalf("GET %s (Accept %s): %d %q", tc.path, tc.accept, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		if tc.ctype == "text/html" && !strings.Contains(string(b), "Page not found") {
			t.Fatalf("GET %s: %s", tc.path, b)
		}
	}
	// The catch-all 404 leaves the API's 405 alone.
	if r := do("DELETE", base+"/fhir/metadata"); r.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("DELETE /fhir/metadata: %d", r.StatusCode)
	}
	off, _, _, _ := startRun(t, map[string]string{"GATEWAY_WEB": "off"})
	if r := do("GET", off+"/"); r.StatusCode != http.StatusNotFound || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/fhir+json") {
		t.Fatalf("GATEWAY_WEB=off, GET /: %d %q", r.StatusCode, r.Header.Get("Content-Type"))
	}
}

// otherHomeBundle is care home 2's own home: its Organization, a Location
// and a nursing service.
const otherHomeBundle = `{"resourceType":"Bundle","type":"transaction","entry":[
{"fullUrl":"urn:uuid:33333333-0000-4000-8000-000000000001","request":{"method":"POST","url":"Organization"},
 "resource":{"resourceType":"Organization","name":"Other Care Ltd","active":true,"identifier":[{"system":"https://cqc.org.uk/provider-id","value":"1-000000002"}]}},
{"fullUrl":"urn:uuid:33333333-0000-4000-8000-000000000002","request":{"method":"POST","url":"Location"},
 "resource":{"resourceType":"Location","status":"active","name":"Other House","address":{"postalCode":"M13 9PL"},
  "managingOrganization":{"reference":"urn:uuid:33333333-0000-4000-8000-000000000001"}}},
{"fullUrl":"urn:uuid:33333333-0000-4000-8000-000000000003","request":{"method":"POST","url":"HealthcareService"},
 "resource":{"resourceType":"HealthcareService","active":true,"name":"Other House nursing","providedBy":{"reference":"urn:uuid:33333333-0000-4000-8000-000000000001"},
  "location":[{"reference":"urn:uuid:33333333-0000-4000-8000-000000000002"}],
  "type":[{"coding":[{"system":"https://fhir.discharge-gateway.example/CodeSystem/care-setting","code":"nursing"}]}]}}]}`

// TestCapacityFormListsDirectoryHomes: the capacity form's list comes
// from the real directory (cmd/gateway's homeLocations over the record):
// a care home sees its own two homes, with the bed types of their
// services, and never another provider's. No browser needed; on the
// embedded stores and on a real PostgreSQL and Redis.
func TestCapacityFormListsDirectoryHomes(t *testing.T) {
	t.Run("embedded", func(t *testing.T) { capacityFormHomes(t, map[string]string{}) })
	t.Run("postgres", func(t *testing.T) {
		pg := pgtest.Start(t)
		_, dbURL := pg.NewDatabase(t)
		capacityFormHomes(t, map[string]string{"DATABASE_URL": dbURL, "REDIS_URL": redistest.Start(t).URL()})
	})
}

func capacityFormHomes(t *testing.T, env map[string]string) {
	base, stop, done, _ := startRun(t, env)
	defer func() { stop(); <-done }()
	home := mint(t, "demo-care-home-1")
	ids := apiPost(t, "POST", base+"/fhir", home, "application/fhir+json", mustRead(t, "mappings/testdata/care-home-bundle.json"))
	apiPost(t, "POST", base+"/fhir", home, "application/fhir+json", []byte(fmt.Sprintf(secondHomeBundle, ids["Organization"], ids["Organization"])))
	apiPost(t, "POST", base+"/fhir", mint(t, "demo-care-home-2"), "application/fhir+json", []byte(otherHomeBundle))

	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	get := func(path string) string {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, base+path, nil)
		req.Header.Set("Accept", "text/html")
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %d %s", path, resp.StatusCode, b)
		}
		return string(b)
	}
	token := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(get("/sign-in"))
	if token == nil {
		t.Fatal("no CSRF token on the sign-in page")
	}
	resp, err := c.PostForm(base+"/sign-in/demo", url.Values{"csrf": {token[1]}, "organisation": {"demo-care-home-1"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()

	html := get("/capacity/today")
	must(t, html, "Which home are you posting for?", "Quick Start House nursing (dementia), M14 6AB", "Second Street House, M20 2RN",
		`value="`+ids["Location"]+`"`)
	mustNot(t, html, "Other House")
	// The first home's service is nursing with dementia: that bed type
	// only; the second's is residential: residential and residential
	// dementia.
	html = get("/capacity/today?location=" + ids["Location"])
	must(t, html, `name="max.nursing-dementia"`)
	mustNot(t, html, `name="max.nursing"`, `name="max.residential"`)
}

func mustRead(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", p))
	if err != nil {
		t.Fatal(err)
	}
	return b
}
