package web

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/dischargegateway/gateway/auth"
	"github.com/dischargegateway/gateway/discharge"
)

// cookieName is the session cookie. Its value is the session id only: the
// session lives in Redis (Sessions), so signing out ends it everywhere.
const cookieName = "dg_session"

// anonymousTTL bounds the session of a visitor who has not signed in.
const anonymousTTL = 30 * time.Minute

// session is one visitor's session: anonymous (a CSRF token and, during
// an OIDC sign-in, its state, nonce and PKCE verifier), or signed in as a
// person of an organisation.
type session struct {
	ID   string `json:"-"`
	CSRF string `json:"csrf"`
	// Person is who signed in: the IdP's subject, or the demo
	// organisation's client id.
	Person string `json:"person,omitempty"`
	// Name is what the header shows.
	Name string `json:"name,omitempty"`
	// Client is the organisation's registered client the person acts as.
	Client string `json:"client,omitempty"`
	// OIDC sign-in in flight.
	State    string `json:"state,omitempty"`
	Nonce    string `json:"nonce,omitempty"`
	Verifier string `json:"verifier,omitempty"`
	// Flash is a one-time message for the next page.
	Flash string `json:"flash,omitempty"`
}

// ctx keys of the echo context.
const (
	ctxSession   = "web.session"
	ctxPrincipal = "web.principal"
	ctxPerson    = "web.person"
)

func randomToken() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// loadSession returns the request's session, starting an anonymous one
// (not yet stored) when the cookie names none.
func (s *Server) loadSession(c echo.Context) (*session, error) {
	if v, ok := c.Get(ctxSession).(*session); ok {
		return v, nil
	}
	var sess *session
	if ck, err := c.Cookie(cookieName); err == nil && ck.Value != "" && len(ck.Value) <= 64 {
		raw, ok, err := s.d.Sessions.Get(c.Request().Context(), ck.Value)
		if err != nil {
			return nil, err
		}
		if ok {
			var v session
			if json.Unmarshal(raw, &v) == nil {
				v.ID = ck.Value
				sess = &v
			}
		}
	}
	if sess == nil {
		sess = &session{CSRF: randomToken()}
	}
	c.Set(ctxSession, sess)
	return sess, nil
}

// saveSession stores the session and sets its cookie: HttpOnly, Secure
// (unless InsecureCookies), SameSite=Lax (the IdP's redirect back is a
// top-level GET, which Lax lets through; every state change is a POST
// with the CSRF token).
func (s *Server) saveSession(c echo.Context, sess *session) error {
	if sess.ID == "" {
		sess.ID = randomToken()
	}
	raw, err := json.Marshal(sess)
	if err != nil {
		return err
	}
	// A visitor not signed in (the sign-in form's CSRF token, an OIDC
	// sign-in in flight) costs Redis a key for anonymousTTL only.
	ttl := s.cfg.SessionTTL
	if sess.Person == "" {
		ttl = min(ttl, anonymousTTL)
	}
	if err := s.d.Sessions.Put(c.Request().Context(), sess.ID, raw, ttl); err != nil {
		return err
	}
	c.SetCookie(&http.Cookie{Name: cookieName, Value: sess.ID, Path: "/", HttpOnly: true, Secure: !s.cfg.InsecureCookies,
		SameSite: http.SameSiteLaxMode, MaxAge: int(ttl.Seconds())})
	c.Set(ctxSession, sess)
	return nil
}

// renewSession gives a signed-in person a new session id and CSRF token,
// so an id known before sign-in (session fixation) is worth nothing.
func (s *Server) renewSession(c echo.Context, old *session, next session) error {
	if old != nil && old.ID != "" {
		if err := s.d.Sessions.Delete(c.Request().Context(), old.ID); err != nil {
			return err
		}
	}
	next.ID, next.CSRF = "", randomToken()
	return s.saveSession(c, &next)
}

// principalOf is the organisation's client as a principal: the same
// role, members and scopes the organisation's system gets in a token.
func (s *Server) principalOf(clientID string) *auth.Principal {
	for _, cl := range s.d.Organisations {
		if cl.ID != clientID {
			continue
		}
		p := &auth.Principal{ClientID: cl.ID, Org: cl.Org, OrgSystem: cl.OrgSystem, Role: cl.Role, Members: slices.Clone(cl.Members)}
		if sc, err := auth.ParseScopes(strings.Join(cl.Scopes, " ")); err == nil {
			p.Scopes = sc
		}
		return p
	}
	return nil
}

// principal is the signed-in person's principal (set by signedIn).
func principal(c echo.Context) *auth.Principal {
	p, _ := c.Get(ctxPrincipal).(*auth.Principal)
	return p
}

// signedIn lets through people signed in with one of roles; others are
// sent to sign in (not signed in) or shown 403 (another role).
func (s *Server) signedIn(roles ...auth.Role) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			sess, err := s.loadSession(c)
			if err != nil {
				return s.errorPage(c, err)
			}
			p := s.principalOf(sess.Client)
			if sess.Person == "" || p == nil {
				return c.Redirect(http.StatusSeeOther, "/sign-in")
			}
			c.Set(ctxPrincipal, p)
			c.Set(ctxPerson, sess.Person)
			if !slices.Contains(roles, p.Role) {
				return s.errorPage(c, discharge.E(discharge.KindForbidden, "", "This page is not for your role."))
			}
			c.SetRequest(c.Request().WithContext(auth.WithPrincipal(c.Request().Context(), p)))
			return next(c)
		}
	}
}

// csrf refuses a POST whose csrf form field is not the session's token
// (compared in constant time). SameSite=Lax already keeps other sites'
// POSTs from carrying the cookie; the token is the second wall.
func (s *Server) csrf(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		sess, err := s.loadSession(c)
		if err != nil {
			return s.errorPage(c, err)
		}
		got := c.FormValue("csrf")
		if sess.ID == "" || !tokenMatches(got, sess.CSRF) {
			return s.errorPage(c, discharge.E(discharge.KindForbidden, "csrf", "The form has expired. Go back, reload the page and try again."))
		}
		return next(c)
	}
}

// audit records a page view or a change of patient data as the API's
// audited routes do. A failure to audit is logged: the page is served.
func (s *Server) audit(c echo.Context, interaction, action, typ, id string, err error) {
	if s.d.Audit == nil {
		return
	}
	status := http.StatusOK
	if err != nil {
		status = s.d.Status(err)
	}
	p := principal(c)
	e := auth.AuditEntry{Time: s.now().UTC(), Action: action, Interaction: interaction, ResourceType: typ,
		ResourceID: id, Status: status, RequestID: c.Response().Header().Get(echo.HeaderXRequestID)}
	if p != nil {
		// The person, not only their organisation's client: "web:" and
		// the IdP's subject (or the demo organisation's client id).
		person, _ := c.Get(ctxPerson).(string)
		e.ClientID, e.Org, e.Role = "web:"+person, p.Org, p.Role
	}
	if aerr := s.d.Audit.Record(context.WithoutCancel(c.Request().Context()), e); aerr != nil {
		s.log.Error("audit record failed", "error", aerr.Error(), "request_id", e.RequestID)
	}
}
