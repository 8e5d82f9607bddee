package web_test

import (
	"compress/gzip"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/dischargegateway/gateway/auth"
	"github.com/dischargegateway/gateway/cases"
	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/web"
)

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// TestCSRF: every form is refused without the session's token, and the
// session cookie is HttpOnly and SameSite.
func TestCSRF(t *testing.T) {
	e := newEnv(t, web.Deps{})
	c := e.client(t)
	signin := e.get(t, c, "/sign-in")
	must(t, signin, http.StatusOK, "Demo sign-in")
	ck := signin.header.Get("Set-Cookie")
	if !strings.Contains(ck, "HttpOnly") || !strings.Contains(ck, "SameSite=Lax") || !strings.Contains(ck, "Max-Age=1800") {
		t.Fatalf("session cookie %q", ck)
	}
	for name, form := range map[string]url.Values{
		"no token":    {"organisation": {"hub"}},
		"wrong token": {"organisation": {"hub"}, "csrf": {"x" + csrfOf(t, signin)}},
	} {
		t.Run(name, func(t *testing.T) {
			must(t, e.post(t, c, "/sign-in/demo", form), http.StatusForbidden, "You cannot do this")
		})
	}
	// A signed-in person's forms need the token too.
	hub, token := e.signIn(t, "hub")
	must(t, e.post(t, hub, "/offers/t1/confirm", url.Values{"case": {"c1"}}), http.StatusForbidden)
	if p := e.post(t, hub, "/offers/t1/confirm", url.Values{"case": {"c1"}, "csrf": {token}}); p.status != http.StatusSeeOther {
		t.Fatalf("with the token: %d %s", p.status, p.body)
	}
	// A token from another session is worth nothing.
	other, _ := e.signIn(t, "hub")
	must(t, e.post(t, other, "/offers/t1/confirm", url.Values{"case": {"c1"}, "csrf": {token}}), http.StatusForbidden)
	// Signing in gives a new session: the anonymous session's id is gone.
	if hub.Jar.Cookies(mustURL(t, e.srv.URL))[0].Value == other.Jar.Cookies(mustURL(t, e.srv.URL))[0].Value {
		t.Fatal("two sign-ins share a session")
	}
}

func mustURL(t *testing.T, s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// TestRoleWalls: each page lets in its roles only; the demo sign-in
// offers no admin (which sees no patient data) and refuses one posted.
func TestRoleWalls(t *testing.T) {
	e := newEnv(t, web.Deps{})
	anon := e.client(t)
	if p := e.get(t, anon, "/worklist"); p.status != http.StatusSeeOther || p.header.Get("Location") != "/sign-in" {
		t.Fatalf("not signed in: %d %q", p.status, p.header.Get("Location"))
	}
	signin := e.get(t, anon, "/sign-in")
	if strings.Contains(signin.body, `value="admin"`) {
		t.Fatal("the demo sign-in offers admin")
	}
	must(t, e.post(t, anon, "/sign-in/demo", url.Values{"csrf": {csrfOf(t, signin)}, "organisation": {"admin"}}), http.StatusBadRequest)
	home, _ := e.signIn(t, "home-1")
	trust, _ := e.signIn(t, "trust-rxa")
	for _, tc := range []struct {
		c      *http.Client
		path   string
		status int
	}{
		{home, "/worklist", http.StatusForbidden},
		{home, "/cases/x", http.StatusForbidden},
		{home, "/sitrep", http.StatusForbidden},
		{home, "/referrals", http.StatusOK},
		{home, "/capacity/today", http.StatusOK},
		{trust, "/referrals", http.StatusForbidden},
		{trust, "/capacity/today", http.StatusForbidden},
		{trust, "/worklist", http.StatusOK},
		{trust, "/capacity", http.StatusOK},
		{trust, "/sitrep", http.StatusOK},
	} {
		if p := e.get(t, tc.c, tc.path); p.status != tc.status {
			t.Errorf("%s: %d, want %d", tc.path, p.status, tc.status)
		}
	}
}

// TestBrokenStoreShowsErrorPage: a store failure, an internal error and a
// panic each show the NHS-style error page with a reference, never the
// cause or a stack trace.
func TestBrokenStoreShowsErrorPage(t *testing.T) {
	secret := "dial tcp 10.1.2.3:5432: connection refused (pg password=hunter2)"
	for _, tc := range []struct {
		name   string
		fail   func() (cases.WorklistPage, error)
		status int
	}{
		{"store unavailable", func() (cases.WorklistPage, error) {
			return cases.WorklistPage{}, discharge.Wrap(discharge.KindUnavailable, "sqlstore.Worklist", errors.New(secret))
		}, http.StatusServiceUnavailable},
		{"internal", func() (cases.WorklistPage, error) { return cases.WorklistPage{}, errors.New(secret) }, http.StatusInternalServerError},
		{"panic", func() (cases.WorklistPage, error) { panic(secret) }, http.StatusInternalServerError},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, web.Deps{Cases: fakeCases{worklist: func(*auth.Principal, url.Values) (cases.WorklistPage, error) { return tc.fail() }}})
			c, _ := e.signIn(t, "hub")
			p := e.get(t, c, "/worklist")
			must(t, p, tc.status, "Sorry, there is a problem with the service", "Reference:", `class="nhsuk-header"`)
			if !strings.HasPrefix(p.header.Get("Content-Type"), "text/html") {
				t.Fatalf("Content-Type %q", p.header.Get("Content-Type"))
			}
			for _, leak := range []string{"hunter2", "10.1.2.3", "goroutine", ".go:", "sqlstore"} {
				if strings.Contains(p.body, leak) {
					t.Fatalf("the error page shows %q:\n%s", leak, p.body)
				}
			}
		})
	}
}

// TestPatientPagesAudited: the worklist and a case view are audited as the
// API's reads are, naming the person's organisation and the Encounter.
func TestPatientPagesAudited(t *testing.T) {
	e := newEnv(t, web.Deps{Cases: fakeCases{
		worklist: func(*auth.Principal, url.Values) (cases.WorklistPage, error) { return worklistOf(3), nil },
		caseView: func(p *auth.Principal, id string) (cases.View, error) {
			return cases.View{}, nil
		}}})
	c, _ := e.signIn(t, "hub")
	before := len(e.audit.all())
	must(t, e.get(t, c, "/worklist"), http.StatusOK, "case-00002")
	must(t, e.get(t, c, "/cases/enc-1"), http.StatusOK, "Case enc-1")
	must(t, e.get(t, c, "/capacity"), http.StatusOK) // not patient data: not audited
	got := e.audit.all()[before:]
	if len(got) != 2 {
		t.Fatalf("audit entries %+v", got)
	}
	if got[0].Interaction != "search-type" || got[0].ResourceType != "Encounter" || got[1].Interaction != "read" || got[1].ResourceID != "enc-1" {
		t.Fatalf("audit entries %+v", got)
	}
	for _, a := range got {
		if a.Org != "QXH" || a.Role != auth.RoleHub || a.ClientID != "web:hub" || a.Status != http.StatusOK {
			t.Fatalf("audit entry %+v", a)
		}
	}
}

var assetRef = regexp.MustCompile(`(?:href|src)="(/static/[^"]+)"`)

// TestFirstLoadPageWeight: the worklist of 50 rows (of 10,000) with every
// asset it loads, as a browser with gzip receives them, is at most 300 KB.
func TestFirstLoadPageWeight(t *testing.T) {
	e := newEnv(t, web.Deps{Cases: fakeCases{worklist: func(*auth.Principal, url.Values) (cases.WorklistPage, error) {
		return worklistOf(10000), nil
	}}})
	c, _ := e.signIn(t, "hub")
	c.Transport = &http.Transport{DisableCompression: true}
	fetch := func(path string) int {
		req, _ := http.NewRequest("GET", e.srv.URL+path, nil)
		req.Header.Set("Accept-Encoding", "gzip")
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: %d", path, resp.StatusCode)
		}
		if resp.Header.Get("Content-Encoding") == "gzip" {
			zr, err := gzip.NewReader(strings.NewReader(string(b)))
			if err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			if _, err := io.ReadAll(zr); err != nil {
				t.Fatalf("%s: %v", path, err)
			}
		}
		return len(b)
	}
	p := e.get(t, c, "/worklist")
	// The HTML as a typed address or bookmark receives it (gzipped), and
	// as a link from another site does (not: docs/dashboard.md,
	// "Compression"); the budget holds for the larger.
	req, _ := http.NewRequest("GET", e.srv.URL+"/worklist", nil)
	req.Header.Set("Accept-Encoding", "gzip")
	req.Header.Set("Sec-Fetch-Site", "none")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	zipped, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.Header.Get("Content-Encoding") != "gzip" {
		t.Fatal("a typed address's page is not compressed")
	}
	t.Logf("HTML: %d bytes gzipped, %d plain", len(zipped), len(p.body))
	total := len(p.body)
	refs := assetRef.FindAllStringSubmatch(p.body, -1)
	if len(refs) < 3 {
		t.Fatalf("assets %v", refs)
	}
	for _, m := range refs {
		n := fetch(m[1])
		t.Logf("%s: %d bytes", m[1], n)
		total += n
	}
	t.Logf("first load: %d bytes from another site's link (HTML %d plain), %d typed or bookmarked (HTML %d gzipped)",
		total, len(p.body), total-len(p.body)+len(zipped), len(zipped))
	if total > 300*1024 {
		t.Fatalf("first load %d bytes > 300 KB", total)
	}
}

// TestWorklistEvents: the live feed is one server-sent event with the
// caller's open and escalated counts and a retry interval, then the end.
func TestWorklistEvents(t *testing.T) {
	e := newEnv(t, web.Deps{Cases: fakeCases{worklist: func(_ *auth.Principal, vals url.Values) (cases.WorklistPage, error) {
		if vals.Get("escalated") == "true" {
			return worklistOf(7), nil
		}
		return worklistOf(1234), nil
	}}})
	c, _ := e.signIn(t, "hub")
	p := e.get(t, c, "/worklist/events")
	must(t, p, http.StatusOK, "retry: 15000\n", "event: worklist\n", `"open":1234`, `"escalated":7`)
	if ct := p.header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("Content-Type %q", ct)
	}
	home, _ := e.signIn(t, "home-1")
	if r := e.get(t, home, "/worklist/events"); r.status != http.StatusForbidden {
		t.Fatalf("a care home's feed: %d", r.status)
	}
}
