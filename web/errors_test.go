package web_test

import (
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/dischargegateway/gateway/auth"
	"github.com/dischargegateway/gateway/cases"
	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/web"
)

// TestEveryPageBreaksGracefully breaks every store behind the dashboard
// at once and opens every page and posts every form: each answers the
// NHS-style error page (503, a reference, the header), never the cause,
// a stack trace or an OperationOutcome.
func TestEveryPageBreaksGracefully(t *testing.T) {
	secret := "dial tcp 10.1.2.3:5432: connection refused (pg password=hunter2)"
	down := discharge.Wrap(discharge.KindUnavailable, "sqlstore.Query", errors.New(secret))
	e := newEnv(t, web.Deps{
		Cases: fakeCases{
			worklist: func(*auth.Principal, url.Values) (cases.WorklistPage, error) { return cases.WorklistPage{}, down },
			caseView: func(*auth.Principal, string) (cases.View, error) { return cases.View{}, down },
			measures: func(*auth.Principal) (cases.Measures, error) { return cases.Measures{}, down },
		},
		Referrals: brokenReferrals{down}, Placement: fakePlacement{down}, Capacity: &fakeCapacity{fail: down},
		Homes: fakeHomes{fail: down}, Sitrep: fakeSitrep{fail: down},
	})
	hub, hubToken := e.signIn(t, "hub")
	home, homeToken := e.signIn(t, "home-1")
	for _, tc := range []struct {
		c    *http.Client
		path string
		form url.Values
	}{
		{hub, "/worklist", nil},
		{hub, "/worklist/events", nil},
		{hub, "/cases/enc-1", nil},
		{hub, "/cases/enc-1/shortlist", nil},
		{hub, "/cases/enc-1/shortlist?need=sr-1", nil},
		{hub, "/sitrep", nil},
		{hub, "/capacity?district=M14", nil},
		{hub, "/cases/enc-1/offers", url.Values{"csrf": {hubToken}, "need": {"sr-1"}, "provider": {"o|h|l"}}},
		{hub, "/offers/t1/confirm", url.Values{"csrf": {hubToken}, "case": {"enc-1"}}},
		{home, "/referrals", nil},
		{home, "/capacity/today", nil},
		{home, "/referrals/t1/accept", url.Values{"csrf": {homeToken}, "location": {"l"}, "bedType": {"nursing"}}},
		{home, "/referrals/t1/decline", url.Values{"csrf": {homeToken}, "reason": {"no-vacancy"}}},
		{home, "/capacity/today", url.Values{"csrf": {homeToken}, "location": {"l"}, "bedType": {"nursing"}}},
	} {
		name := tc.path
		if tc.form != nil {
			name = "POST " + name
		}
		t.Run(name, func(t *testing.T) {
			var p page
			if tc.form != nil {
				p = e.post(t, tc.c, tc.path, tc.form)
			} else {
				p = e.get(t, tc.c, tc.path)
			}
			must(t, p, http.StatusServiceUnavailable, "Sorry, there is a problem with the service", "Reference:", `class="nhsuk-header"`)
			if !strings.HasPrefix(p.header.Get("Content-Type"), "text/html") {
				t.Fatalf("Content-Type %q", p.header.Get("Content-Type"))
			}
			for _, leak := range []string{"hunter2", "10.1.2.3", "goroutine", ".go:", "sqlstore", "OperationOutcome"} {
				if strings.Contains(p.body, leak) {
					t.Fatalf("the error page shows %q:\n%s", leak, p.body)
				}
			}
		})
	}
}

// TestUnknownPathNotFound: a browser asking for a page that does not
// exist gets the NHS-style 404 page (with the signed-in person's
// header); an API client, or any path under the APIs, does not.
func TestUnknownPathNotFound(t *testing.T) {
	e := newEnv(t, web.Deps{})
	hub, _ := e.signIn(t, "hub")
	anon := e.client(t)
	html := "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
	get := func(c *http.Client, path, accept string) page {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, e.srv.URL+path, nil)
		req.Header.Set("Accept", accept)
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b := new(strings.Builder)
		_, _ = io.Copy(b, resp.Body)
		return page{resp.StatusCode, resp.Header, b.String()}
	}
	for _, tc := range []struct {
		name   string
		c      *http.Client
		path   string
		accept string
		page   bool
	}{
		{"signed out", anon, "/nope", html, true},
		{"under a page", hub, "/worklist/xyz", html, true},
		{"deep", hub, "/cases/c1/nothing/here", html, true},
		{"API client", hub, "/nope", "application/json", false},
		{"curl", anon, "/nope", "*/*", false},
		{"FHIR path from a browser", hub, "/fhir/Nope", html, false},
		{"JSON API path from a browser", hub, "/api/v1/nope", html, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := get(tc.c, tc.path, tc.accept)
			if p.status != http.StatusNotFound {
				t.Fatalf("status %d:\n%s", p.status, p.body)
			}
			isPage := strings.HasPrefix(p.header.Get("Content-Type"), "text/html")
			if isPage != tc.page {
				t.Fatalf("page %v, want %v (%q):\n%s", isPage, tc.page, p.header.Get("Content-Type"), p.body)
			}
			if !tc.page {
				return
			}
			must(t, p, http.StatusNotFound, "Page not found", "check it is correct", `class="nhsuk-header"`, "Reference:")
			if signedIn := strings.Contains(p.body, "Sign out"); signedIn != (tc.c == hub) {
				t.Fatalf("signed-in header %v for %s:\n%s", signedIn, tc.name, p.body)
			}
			if tc.c == anon && p.header.Get("Set-Cookie") != "" {
				t.Fatalf("a stranger's 404 starts a session: %q", p.header.Get("Set-Cookie"))
			}
		})
	}
	// A known path asked with the wrong method stays a 405.
	req, _ := http.NewRequest(http.MethodDelete, e.srv.URL+"/worklist", nil)
	req.Header.Set("Accept", html)
	resp, err := hub.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("DELETE /worklist: %d", resp.StatusCode)
	}
}
