package web_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/dischargegateway/gateway/adapters/rediscache"
	"github.com/dischargegateway/gateway/auth"
	"github.com/dischargegateway/gateway/capacity"
	"github.com/dischargegateway/gateway/cases"
	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/gateway"
	"github.com/dischargegateway/gateway/mappings"
	"github.com/dischargegateway/gateway/placement"
	"github.com/dischargegateway/gateway/referral"
	"github.com/dischargegateway/gateway/web"
)

// The demo-shaped organisations the tests sign in as.
var orgs = []*auth.Client{
	{ID: "hub", Org: "QXH", Role: auth.RoleHub, Members: []string{"RXA", "RXB"}, Demo: true},
	{ID: "trust-rxa", Org: "RXA", Role: auth.RoleTrust, Demo: true},
	{ID: "home-1", Org: "1-000000001", Role: auth.RoleCareProvider, Demo: true},
	{ID: "admin", Org: "DGADMIN", Role: auth.RoleAdmin, Demo: true},
}

// fakeCases is a hand-written fake of the case view: function fields.
type fakeCases struct {
	worklist func(p *auth.Principal, vals url.Values) (cases.WorklistPage, error)
	caseView func(p *auth.Principal, id string) (cases.View, error)
	measures func(p *auth.Principal) (cases.Measures, error)
}

func (f fakeCases) Worklist(_ context.Context, p *auth.Principal, vals url.Values) (cases.WorklistPage, error) {
	if f.worklist == nil {
		return cases.WorklistPage{Items: []cases.WorklistItem{}}, nil
	}
	return f.worklist(p, vals)
}

func (f fakeCases) Case(_ context.Context, p *auth.Principal, id string) (cases.View, error) {
	if f.caseView == nil {
		return cases.View{}, discharge.E(discharge.KindNotFound, "", "No such case.")
	}
	return f.caseView(p, id)
}

func (f fakeCases) Measures(_ context.Context, p *auth.Principal, _ url.Values) (cases.Measures, error) {
	if f.measures == nil {
		return cases.Measures{}, nil
	}
	return f.measures(p)
}

type fakeReferrals struct{}

func (fakeReferrals) SendAll(context.Context, *auth.Principal, [][]byte) ([]referral.Result, error) {
	return nil, nil
}
func (fakeReferrals) Update(context.Context, *auth.Principal, string, []byte, string) (referral.Result, error) {
	return referral.Result{}, nil
}
func (fakeReferrals) Confirm(context.Context, *auth.Principal, string) (referral.Result, error) {
	return referral.Result{}, nil
}
func (fakeReferrals) Search(context.Context, *auth.Principal, url.Values, bool, string) (referral.Searchset, error) {
	return referral.Searchset{}, nil
}

type fakePlacement struct{ fail error }

func (f fakePlacement) Options(context.Context, placement.Request) (placement.Answer, error) {
	return placement.Answer{}, f.fail
}

// brokenReferrals is a referral loop whose store is down.
type brokenReferrals struct{ fail error }

func (b brokenReferrals) SendAll(context.Context, *auth.Principal, [][]byte) ([]referral.Result, error) {
	return nil, b.fail
}
func (b brokenReferrals) Update(context.Context, *auth.Principal, string, []byte, string) (referral.Result, error) {
	return referral.Result{}, b.fail
}
func (b brokenReferrals) Confirm(context.Context, *auth.Principal, string) (referral.Result, error) {
	return referral.Result{}, b.fail
}
func (b brokenReferrals) Search(context.Context, *auth.Principal, url.Values, bool, string) (referral.Searchset, error) {
	return referral.Searchset{}, b.fail
}

// fakeCapacity keeps the postings in memory, by Location.
type fakeCapacity struct {
	mu     sync.Mutex
	posted map[string]discharge.Capacity
	// fail, when set, is the error every call returns.
	fail error
}

func (f *fakeCapacity) Post(_ context.Context, _ *auth.Principal, c discharge.Capacity, at func(string) string) (capacity.Posted, error) {
	if f.fail != nil {
		return capacity.Posted{}, f.fail
	}
	// The capacity rules themselves (capacity.Service.Post applies them
	// the same way), renamed by the caller's at.
	if issues := mappings.Validate(c, time.Now()); len(issues) > 0 {
		for i := range issues {
			if at != nil {
				issues[i].Expression = at(issues[i].Expression)
			}
		}
		return capacity.Posted{}, issues.Err(discharge.KindValue, "capacity")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.posted == nil {
		f.posted = map[string]discharge.Capacity{}
	}
	f.posted[c.LocationID] = c
	return capacity.Posted{}, nil
}

func (f *fakeCapacity) Summarise(context.Context, capacity.SummaryQuery) (capacity.Summary, error) {
	return capacity.Summary{}, f.fail
}

func (f *fakeCapacity) Get(_ context.Context, id string) (capacity.View, error) {
	if f.fail != nil {
		return capacity.View{}, f.fail
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	c, ok := f.posted[id]
	if !ok {
		return capacity.View{}, discharge.E(discharge.KindNotFound, "", "No capacity posted.")
	}
	return capacity.View{Capacity: c, Freshness: discharge.Fresh}, nil
}

func (f *fakeCapacity) last(id string) (discharge.Capacity, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, ok := f.posted[id]
	return c, ok
}

// fakeHomes lists the same Locations for every care provider.
type fakeHomes struct {
	locs []web.HomeLocation
	fail error
}

func (f fakeHomes) Locations(context.Context, *auth.Principal) ([]web.HomeLocation, error) {
	return f.locs, f.fail
}

// auditLog records entries in memory.
type auditLog struct {
	mu      sync.Mutex
	entries []auth.AuditEntry
}

func (a *auditLog) Record(_ context.Context, e auth.AuditEntry) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.entries = append(a.entries, e)
	return nil
}

func (a *auditLog) all() []auth.AuditEntry {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.entries)
}

// env is a dashboard on an echo of its own, with sessions in the embedded
// Redis, behind an httptest server.
type env struct {
	srv   *httptest.Server
	audit *auditLog
}

func newEnv(t testing.TB, d web.Deps) *env {
	r := d.Referrals
	if r == nil {
		r = fakeReferrals{}
	}
	return newEnvWith(t, d, r)
}

func newEnvWith(t testing.TB, d web.Deps, r web.Referrals) *env {
	t.Helper()
	conn, err := rediscache.Open(context.Background(), rediscache.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	a := &auditLog{}
	if d.Cases == nil {
		d.Cases = fakeCases{}
	}
	d.Referrals = r
	if d.Placement == nil {
		d.Placement = fakePlacement{}
	}
	if d.Capacity == nil {
		d.Capacity = &fakeCapacity{}
	}
	d.Sessions, d.Audit, d.Organisations, d.Status = rediscache.NewSessions(conn.Client), a, orgs, gateway.StatusOf
	d.Logger = discardLogger()
	cfg := web.DefaultConfig()
	cfg.Demo, cfg.InsecureCookies = true, true
	e := echo.New()
	web.New(cfg, d).Mount(e)
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)
	return &env{srv: srv, audit: a}
}

// browserish is an HTTP client with a cookie jar that does not follow
// redirects, so a test sees each 303.
func (e *env) client(t testing.TB) *http.Client {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

type page struct {
	status int
	header http.Header
	body   string
}

func (e *env) get(t testing.TB, c *http.Client, path string) page {
	t.Helper()
	resp, err := c.Get(e.srv.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return page{resp.StatusCode, resp.Header, string(b)}
}

func (e *env) post(t testing.TB, c *http.Client, path string, form url.Values) page {
	t.Helper()
	resp, err := c.PostForm(e.srv.URL+path, form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return page{resp.StatusCode, resp.Header, string(b)}
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func csrfOf(t testing.TB, p page) string {
	t.Helper()
	m := csrfField.FindStringSubmatch(p.body)
	if m == nil {
		t.Fatalf("no CSRF token on the page (%d):\n%s", p.status, p.body)
	}
	return m[1]
}

// signIn signs a new client in as the organisation and returns it with
// its CSRF token.
func (e *env) signIn(t testing.TB, org string) (*http.Client, string) {
	t.Helper()
	c := e.client(t)
	p := e.post(t, c, "/sign-in/demo", url.Values{"csrf": {csrfOf(t, e.get(t, c, "/sign-in"))}, "organisation": {org}})
	if p.status != http.StatusSeeOther {
		t.Fatalf("sign in as %s: %d %s", org, p.status, p.body)
	}
	home := e.get(t, c, "/worklist")
	if home.status == http.StatusOK {
		return c, csrfOf(t, home)
	}
	return c, csrfOf(t, e.get(t, c, "/capacity"))
}

func worklistOf(n int) cases.WorklistPage {
	p := cases.WorklistPage{Total: n, Count: 50, Items: []cases.WorklistItem{}}
	for i := range min(n, 50) {
		days := i
		p.Items = append(p.Items, cases.WorklistItem{WorklistRow: cases.WorklistRow{Partition: "RXA",
			CaseID: fmt.Sprintf("case-%05d", i), State: referral.CaseOffersSent, Pathway: "3"}, NCTRDays: &days,
			Escalation: []string{"offer-wait"}})
	}
	return p
}

func must(t testing.TB, p page, status int, wants ...string) {
	t.Helper()
	if p.status != status {
		t.Fatalf("status %d, want %d:\n%s", p.status, status, p.body)
	}
	for _, w := range wants {
		if !strings.Contains(p.body, w) {
			t.Fatalf("page lacks %q:\n%s", w, p.body)
		}
	}
}
