package web

import (
	"context"
	"net/http"
	"sync"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/labstack/echo/v4"
	"golang.org/x/oauth2"

	"github.com/dischargegateway/gateway/auth"
	"github.com/dischargegateway/gateway/discharge"
)

// OIDCConfig is the identity provider people sign in with (authorization
// code flow with PKCE). The ID token's OrgClaim names the person's
// organisation (ODS code or CQC provider id) and RoleClaim their role in
// the gateway (trust, hub, care-provider); the person then acts as that
// organisation's registered client. NHS CIS2 carries the organisation in
// its role claims: map it to a plain claim at the IdP or a broker.
type OIDCConfig struct {
	Issuer       string
	ClientID     string
	ClientSecret string
	// RedirectURL is this gateway's /sign-in/callback as the IdP knows it.
	RedirectURL string
	Scopes      []string
	OrgClaim    string
	RoleClaim   string
}

// oidcClient discovers the provider at first use and keeps it.
type oidcClient struct {
	cfg      OIDCConfig
	mu       sync.Mutex
	provider *oidc.Provider
}

func newOIDCClient(cfg OIDCConfig) *oidcClient {
	if cfg.OrgClaim == "" {
		cfg.OrgClaim = "org"
	}
	if cfg.RoleClaim == "" {
		cfg.RoleClaim = "role"
	}
	return &oidcClient{cfg: cfg}
}

func (o *oidcClient) setup(ctx context.Context) (*oidc.Provider, oauth2.Config, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.provider == nil {
		p, err := oidc.NewProvider(ctx, o.cfg.Issuer)
		if err != nil {
			return nil, oauth2.Config{}, discharge.Wrap(discharge.KindUnavailable, "web.oidc", err)
		}
		o.provider = p
	}
	scopes := append([]string{oidc.ScopeOpenID}, o.cfg.Scopes...)
	return o.provider, oauth2.Config{ClientID: o.cfg.ClientID, ClientSecret: o.cfg.ClientSecret,
		RedirectURL: o.cfg.RedirectURL, Endpoint: o.provider.Endpoint(), Scopes: scopes}, nil
}

// home sends a signed-in person to their role's first page, anyone else
// to sign in.
func (s *Server) home(c echo.Context) error {
	sess, err := s.loadSession(c)
	if err != nil {
		return err
	}
	p := s.principalOf(sess.Client)
	switch {
	case sess.Person == "" || p == nil:
		return c.Redirect(http.StatusSeeOther, "/sign-in")
	case p.Role == auth.RoleCareProvider:
		return c.Redirect(http.StatusSeeOther, "/referrals")
	case p.Role == auth.RoleTrust || p.Role == auth.RoleHub:
		return c.Redirect(http.StatusSeeOther, "/worklist")
	}
	return discharge.E(discharge.KindForbidden, "", "The dashboard has no pages for this role.")
}

// demoOrg is one demo organisation offered at the demo sign-in.
type demoOrg struct {
	ClientID, Org string
	Role          auth.Role
}

// signInPage offers the IdP sign-in and, in demo mode, the demo
// organisations (hub, trusts, care homes; never admin, which sees no
// patient data and has no pages, nor a system client, which has no pages
// yet: it reads the aggregate reports over the API, docs/sitrep.md).
func (s *Server) signInPage(c echo.Context) error {
	var demo []demoOrg
	if s.cfg.Demo {
		for _, cl := range s.d.Organisations {
			if cl.Demo && cl.Role != auth.RoleAdmin && cl.Role != auth.RoleSystem {
				demo = append(demo, demoOrg{ClientID: cl.ID, Org: cl.Org, Role: cl.Role})
			}
		}
	}
	return s.render(c, http.StatusOK, "signin", view{Title: "Sign in", Data: struct {
		Demo []demoOrg
		OIDC bool
	}{demo, s.oidc != nil}})
}

// demoSignIn signs in as a demo organisation (demo mode only).
func (s *Server) demoSignIn(c echo.Context) error {
	id := c.FormValue("organisation")
	var cl *auth.Client
	for _, x := range s.d.Organisations {
		if x.ID == id && x.Demo && x.Role != auth.RoleAdmin && x.Role != auth.RoleSystem {
			cl = x
		}
	}
	if !s.cfg.Demo || cl == nil {
		return discharge.E(discharge.KindValue, "organisation", "Choose one of the demo organisations.")
	}
	old, err := s.loadSession(c)
	if err != nil {
		return err
	}
	if err := s.renewSession(c, old, session{Person: cl.ID, Name: "Demo " + label(cl.Role) + " " + cl.Org, Client: cl.ID}); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/")
}

// oidcStart sends the browser to the IdP with state, nonce and a PKCE
// challenge, kept in the (anonymous) session.
func (s *Server) oidcStart(c echo.Context) error {
	if s.oidc == nil {
		return discharge.E(discharge.KindNotFound, "", "No identity provider is configured.")
	}
	_, oc, err := s.oidc.setup(c.Request().Context())
	if err != nil {
		return err
	}
	sess, err := s.loadSession(c)
	if err != nil {
		return err
	}
	sess.State, sess.Nonce, sess.Verifier = randomToken(), randomToken(), oauth2.GenerateVerifier()
	if err := s.saveSession(c, sess); err != nil {
		return err
	}
	return c.Redirect(http.StatusFound, oc.AuthCodeURL(sess.State, oidc.Nonce(sess.Nonce), oauth2.S256ChallengeOption(sess.Verifier)))
}

// oidcCallback completes the sign-in: the state must be the session's,
// the code is exchanged with the PKCE verifier, the ID token verified
// (issuer, audience, expiry, signature, nonce), and its organisation and
// role claims must name a registered organisation of that role.
func (s *Server) oidcCallback(c echo.Context) error {
	if s.oidc == nil {
		return discharge.E(discharge.KindNotFound, "", "No identity provider is configured.")
	}
	ctx := c.Request().Context()
	provider, oc, err := s.oidc.setup(ctx)
	if err != nil {
		return err
	}
	sess, err := s.loadSession(c)
	if err != nil {
		return err
	}
	if sess.State == "" || c.QueryParam("state") != sess.State {
		return discharge.E(discharge.KindForbidden, "state", "The sign-in did not start here, or has expired. Sign in again.")
	}
	if e := c.QueryParam("error"); e != "" {
		return discharge.E(discharge.KindForbidden, "error", "The identity provider refused the sign-in.")
	}
	tok, err := oc.Exchange(ctx, c.QueryParam("code"), oauth2.VerifierOption(sess.Verifier))
	if err != nil {
		return discharge.E(discharge.KindForbidden, "code", "The sign-in could not be completed. Sign in again.")
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := provider.Verifier(&oidc.Config{ClientID: s.oidc.cfg.ClientID}).Verify(ctx, raw)
	if err != nil || idt.Nonce != sess.Nonce {
		return discharge.E(discharge.KindForbidden, "id_token", "The identity provider's answer could not be verified.")
	}
	var claims map[string]any
	if err := idt.Claims(&claims); err != nil {
		return discharge.E(discharge.KindForbidden, "id_token", "The identity provider's answer could not be read.")
	}
	org, _ := claims[s.oidc.cfg.OrgClaim].(string)
	role, _ := claims[s.oidc.cfg.RoleClaim].(string)
	name, _ := claims["name"].(string)
	cl, err := s.organisation(org, auth.Role(role))
	if err != nil {
		return err
	}
	if name == "" {
		name = label(cl.Role) + " " + cl.Org
	}
	if err := s.renewSession(c, sess, session{Person: idt.Subject, Name: name, Client: cl.ID}); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/")
}

// organisation is the registered client of org with role.
func (s *Server) organisation(org string, role auth.Role) (*auth.Client, error) {
	for _, cl := range s.d.Organisations {
		if cl.Org == org && cl.Role == role && role != auth.RoleAdmin && org != "" {
			return cl, nil
		}
	}
	return nil, discharge.E(discharge.KindForbidden, "org", "Your organisation is not registered with this gateway for that role.")
}

// signOut ends the session.
func (s *Server) signOut(c echo.Context) error {
	sess, err := s.loadSession(c)
	if err != nil {
		return err
	}
	if sess.ID != "" {
		if err := s.d.Sessions.Delete(c.Request().Context(), sess.ID); err != nil {
			return err
		}
	}
	c.SetCookie(&http.Cookie{Name: cookieName, Value: "", Path: "/", MaxAge: -1, HttpOnly: true,
		Secure: !s.cfg.InsecureCookies, SameSite: http.SameSiteLaxMode})
	return c.Redirect(http.StatusSeeOther, "/sign-in")
}
