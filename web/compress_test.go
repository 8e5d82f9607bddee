package web_test

import (
	"compress/gzip"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/dischargegateway/gateway/auth"
	"github.com/dischargegateway/gateway/cases"
	"github.com/dischargegateway/gateway/web"
)

// TestPagesCompressedSameOriginOnly: a page is gzipped only when the
// browser says the request is the dashboard's own or the person's
// (Sec-Fetch-Site same-origin or none) and accepts gzip; a cross-site
// request (how BREACH probes) or a browser that does not say gets it
// uncompressed; caches are told the answer varies by both headers.
func TestPagesCompressedSameOriginOnly(t *testing.T) {
	e := newEnv(t, web.Deps{Cases: fakeCases{worklist: func(*auth.Principal, url.Values) (cases.WorklistPage, error) {
		return worklistOf(10000), nil
	}}})
	c, _ := e.signIn(t, "hub")
	c.Transport = &http.Transport{DisableCompression: true}
	for _, tc := range []struct {
		site, encoding string
		gzipped        bool
	}{
		{"same-origin", "gzip, deflate, br", true},
		{"none", "gzip", true},
		{"cross-site", "gzip, deflate, br", false},
		{"same-site", "gzip", false},
		{"", "gzip", false},
		{"same-origin", "br", false},
		{"same-origin", "gzip;q=0, br", false},
	} {
		t.Run(tc.site+"/"+tc.encoding, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodGet, e.srv.URL+"/worklist", nil)
			req.Header.Set("Accept-Encoding", tc.encoding)
			if tc.site != "" {
				req.Header.Set("Sec-Fetch-Site", tc.site)
			}
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if got := resp.Header.Get("Content-Encoding") == "gzip"; got != tc.gzipped {
				t.Fatalf("gzipped %v, want %v", got, tc.gzipped)
			}
			if v := strings.Join(resp.Header.Values("Vary"), ","); !strings.Contains(v, "Sec-Fetch-Site") || !strings.Contains(v, "Accept-Encoding") {
				t.Fatalf("Vary %q", v)
			}
			html := string(body)
			if tc.gzipped {
				zr, err := gzip.NewReader(strings.NewReader(html))
				if err != nil {
					t.Fatal(err)
				}
				b, err := io.ReadAll(zr)
				if err != nil {
					t.Fatal(err)
				}
				t.Logf("%d bytes gzipped, %d plain", len(body), len(b))
				html = string(b)
			}
			if !strings.Contains(html, "case-00049") || !strings.Contains(html, "</html>") {
				t.Fatalf("page %.300s", html)
			}
		})
	}
}

// TestCSRFTokenMasked: the token is masked afresh on every page, so no
// two responses carry the same secret bytes, and every mask of the
// session's token is accepted; a mask of another session's is not.
func TestCSRFTokenMasked(t *testing.T) {
	e := newEnv(t, web.Deps{})
	c, first := e.signIn(t, "hub")
	second := csrfOf(t, e.get(t, c, "/capacity"))
	if first == second {
		t.Fatalf("the same token twice: %q", first)
	}
	for _, tok := range []string{first, second} {
		if p := e.post(t, c, "/offers/t1/confirm", url.Values{"case": {"c1"}, "csrf": {tok}}); p.status != http.StatusSeeOther {
			t.Fatalf("token %q: %d", tok, p.status)
		}
	}
	other, _ := e.signIn(t, "hub")
	for _, tok := range []string{first, first[:len(first)-2], strings.ToUpper(first), ""} {
		must(t, e.post(t, other, "/offers/t1/confirm", url.Values{"case": {"c1"}, "csrf": {tok}}), http.StatusForbidden)
	}
}
