package web

import (
	"bytes"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/dischargegateway/gateway/auth"
	"github.com/dischargegateway/gateway/discharge"
)

// handler is a page handler: it renders (or redirects) itself, or returns
// an error that handle renders as an error page.
type handler func(c echo.Context) error

// pages are the parsed templates: each page is the layout with its own
// "content" block.
type pages struct{ byName map[string]*template.Template }

var funcs = template.FuncMap{
	"date": func(t any) string {
		switch v := t.(type) {
		case time.Time:
			if v.IsZero() {
				return ""
			}
			return v.UTC().Format("2 Jan 2006 15:04")
		case *time.Time:
			if v == nil || v.IsZero() {
				return ""
			}
			return v.UTC().Format("2 Jan 2006 15:04")
		case *discharge.Date:
			if v == nil {
				return ""
			}
			return v.String()
		}
		return ""
	},
	"day": func(t time.Time) string { return t.UTC().Format("Mon 2 Jan") },
	"deref": func(p *int) string {
		if p == nil {
			return "–"
		}
		return fmt.Sprint(*p)
	},
	"pct":    func(f float64) string { return fmt.Sprintf("%.0f%%", f*100) },
	"score":  func(f float64) string { return fmt.Sprintf("%.2f", f) },
	"km":     func(p *float64) string { return kmText(p) },
	"add":    func(a, b int) int { return a + b },
	"label":  label,
	"bar":    occupancyBar,
	"spark":  sparkline,
	"join":   strings.Join,
	"lower":  strings.ToLower,
	"isRole": func(p *auth.Principal, r string) bool { return p != nil && string(p.Role) == r },
	"navItem": func(current, name, href, text string) navItem {
		return navItem{Current: current == name, Href: href, Text: text}
	},
}

// navItem is one item of the header's navigation.
type navItem struct {
	Current    bool
	Href, Text string
}

func kmText(p *float64) string {
	if p == nil {
		return "–"
	}
	return fmt.Sprintf("%.1f km", *p)
}

// label turns a code ("offers-sent", "nursing-dementia") into words.
func label(v any) string {
	s := strings.ReplaceAll(fmt.Sprint(v), "-", " ")
	if s == "" {
		return ""
	}
	s = strings.ToUpper(s[:1]) + s[1:]
	return strings.Replace(s, "Nctr", "NCTR", 1)
}

func loadPages() *pages {
	ps := &pages{byName: map[string]*template.Template{}}
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		panic(err)
	}
	for _, n := range names {
		base := path.Base(n)
		if base == "layout.html" {
			continue
		}
		t := template.Must(template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", n))
		ps.byName[strings.TrimSuffix(base, ".html")] = t
	}
	return ps
}

// view is what every page's layout needs, with the page's own data.
type view struct {
	Title     string
	Nav       string // the current navigation item
	Principal *auth.Principal
	Name      string
	CSRF      string
	Flash     string
	Live      bool // the page loads live.js
	Data      any
}

// render writes a page: rendered into a buffer first, so a template
// failure becomes an error page and never half a page.
func (s *Server) render(c echo.Context, status int, name string, v view) error {
	t, ok := s.pages.byName[name]
	if !ok {
		return fmt.Errorf("web: no page %q", name)
	}
	if sess, err := s.loadSession(c); err == nil {
		v.CSRF, v.Name = maskToken(sess.CSRF), sess.Name
		if sess.Flash != "" {
			v.Flash, sess.Flash = sess.Flash, ""
			if err := s.saveSession(c, sess); err != nil {
				return err
			}
		} else if sess.ID == "" && name != "error" {
			// A form on this page needs a session its token is checked
			// against. The error page has none for a visitor not signed
			// in: a stranger's 404s cost Redis nothing.
			if err := s.saveSession(c, sess); err != nil {
				return err
			}
		}
	}
	if v.Principal == nil {
		v.Principal = principal(c)
	}
	var buf bytes.Buffer
	if err := t.Execute(&buf, v); err != nil {
		return err
	}
	h := c.Response().Header()
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'; form-action 'self' https:")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	h.Add("Vary", "Accept-Encoding, Sec-Fetch-Site")
	if compressPage(c.Request()) {
		h.Set("Content-Encoding", "gzip")
		return c.Blob(status, echo.MIMETextHTMLCharsetUTF8, gzipPage(buf.Bytes()))
	}
	return c.HTMLBlob(status, buf.Bytes())
}

// flash keeps a message for the next page and redirects there (POST,
// redirect, GET: reloading the result page never repeats the change).
func (s *Server) flash(c echo.Context, to, msg string) error {
	sess, err := s.loadSession(c)
	if err != nil {
		return err
	}
	sess.Flash = msg
	if err := s.saveSession(c, sess); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, to)
}

// handle runs a page handler and renders its error, or a panic, as the
// NHS-style error page: a person never sees a stack trace or an
// OperationOutcome.
func (s *Server) handle(h handler) echo.HandlerFunc {
	return func(c echo.Context) (err error) {
		defer func() {
			if r := recover(); r != nil {
				s.log.Error("dashboard page panicked", slog.String("path", c.Path()), slog.String("panic", fmt.Sprint(r)))
				err = s.errorPage(c, fmt.Errorf("panic"))
			}
		}()
		if err := h(c); err != nil {
			return s.errorPage(c, err)
		}
		return nil
	}
}

// errNoPage is an address the dashboard has no page for.
var errNoPage = discharge.E(discharge.KindNotFound, "", "No such page.")

// notFound renders the NHS-style 404 page for a path no route matches,
// when a browser asks for a page (wantsPage), with the header of the
// person signed in; an API client (/fhir, /api, /.well-known, or no
// text/html in Accept: curl's */* included) gets the gateway's 404
// OperationOutcome, exactly as without the dashboard (Mount).
func (s *Server) notFound(c echo.Context) error {
	if sess, err := s.loadSession(c); err == nil && sess.Person != "" {
		if p := s.principalOf(sess.Client); p != nil {
			c.Set(ctxPrincipal, p)
		}
	}
	return s.errorPage(c, errNoPage)
}

// apiPrefixes are the paths that belong to systems, never to pages.
var apiPrefixes = []string{"/fhir", "/api", "/.well-known", "/oauth", "/metrics", "/healthz", "/readyz"}

// wantsPage says a request is a person's browser asking for a page.
func wantsPage(r *http.Request) bool {
	for _, p := range apiPrefixes {
		if r.URL.Path == p || strings.HasPrefix(r.URL.Path, p+"/") {
			return false
		}
	}
	return strings.Contains(r.Header.Get("Accept"), "text/html")
}

// errorData is the error page's content.
type errorData struct {
	Status  int
	Heading string
	Message string
	// Detail is the service's own message, only for the caller's
	// mistakes (4xx): a 5xx says nothing internal.
	Detail    string
	RequestID string
}

// errorPage renders err with its status (the gateway's one Kind → status
// table, Deps.Status).
func (s *Server) errorPage(c echo.Context, err error) error {
	status := s.d.Status(err)
	d := errorData{Status: status, RequestID: c.Response().Header().Get(echo.HeaderXRequestID)}
	if d.RequestID == "" {
		// Mounted without the gateway's request ids (tests): a reference
		// of its own, logged below, so support can still find the cause.
		d.RequestID = randomToken()[:16]
	}
	switch {
	case errors.Is(err, errNoPage):
		d.Heading, d.Message = "Page not found", "If you typed the web address, check it is correct. If you pasted it, check you copied the entire address."
	case status == http.StatusNotFound:
		d.Heading, d.Message = "Page not found", "The case or referral may have closed, or it is not one your organisation can see."
	case status == http.StatusForbidden || status == http.StatusUnauthorized:
		d.Heading, d.Message = "You cannot do this", "Your role does not allow it."
	case status == http.StatusServiceUnavailable || status == http.StatusGatewayTimeout:
		d.Heading, d.Message = "Sorry, there is a problem with the service", "Try again in a few minutes."
	case status >= 500:
		d.Heading, d.Message = "Sorry, there is a problem with the service", "Try again later. If it keeps happening, tell the service desk the reference below."
	default:
		d.Heading, d.Message = "There is a problem", "Check what you entered and try again."
	}
	if status < 500 && !errors.Is(err, errNoPage) {
		d.Detail = messages(err)
	} else {
		s.log.Error("dashboard page failed", slog.String("path", c.Path()), slog.Int("status", status),
			slog.String("error", err.Error()), slog.String("request_id", d.RequestID))
	}
	if rerr := s.render(c, status, "error", view{Title: d.Heading, Data: d}); rerr != nil {
		// The error page itself failed (the session store is down): plain
		// text, still no detail.
		return c.String(status, d.Heading+". Reference: "+d.RequestID)
	}
	return nil
}

// static serves the embedded files (the vendored NHS.UK frontend, the
// dashboard's own CSS and script), compressed when the browser accepts
// gzip, cached for a day.
func (s *Server) static(c echo.Context) error {
	name := path.Clean("static/" + c.Param("*"))
	if !strings.HasPrefix(name, "static/") {
		return c.NoContent(http.StatusNotFound)
	}
	b, err := fs.ReadFile(staticFS, name)
	if err != nil {
		return c.NoContent(http.StatusNotFound)
	}
	return s.serveStatic(c, name, b)
}

// messages are what an error tells its caller: its issues' messages
// (never patient data, by the error type's rule), or its summary.
func messages(err error) string {
	var de *discharge.Error
	if !errors.As(err, &de) {
		return ""
	}
	var out []string
	for _, is := range de.Issues {
		if is.Message != "" {
			out = append(out, is.Message)
		}
	}
	if len(out) == 0 {
		return de.Message
	}
	return strings.Join(out, " ")
}
