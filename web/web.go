// Package web is the dashboard: the gateway's pages for people (hub staff,
// discharge coordinators, care-home managers, commissioners), rendered on
// the server with html/template over the same application services and
// the same tenancy rules as the API, styled with the vendored NHS.UK
// frontend. Like gateway/, it is an HTTP layer: handlers read a form or a
// query, call one service method, and render a page; the route table
// declares which roles reach each page. See docs/dashboard.md.
package web

import (
	"context"
	"embed"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/dischargegateway/gateway/auth"
	"github.com/dischargegateway/gateway/capacity"
	"github.com/dischargegateway/gateway/cases"
	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/placement"
	"github.com/dischargegateway/gateway/referral"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Cases is what the pages need of the case view (cases.Service).
type Cases interface {
	Worklist(ctx context.Context, p *auth.Principal, vals url.Values) (cases.WorklistPage, error)
	Case(ctx context.Context, p *auth.Principal, id string) (cases.View, error)
	Measures(ctx context.Context, p *auth.Principal, vals url.Values) (cases.Measures, error)
}

// Referrals is what the pages need of the referral loop (referral.Service).
type Referrals interface {
	SendAll(ctx context.Context, p *auth.Principal, bodies [][]byte) ([]referral.Result, error)
	Update(ctx context.Context, p *auth.Principal, id string, body []byte, ifMatch string) (referral.Result, error)
	Confirm(ctx context.Context, p *auth.Principal, id string) (referral.Result, error)
	Search(ctx context.Context, p *auth.Principal, vals url.Values, strict bool, base string) (referral.Searchset, error)
}

// Placement is what the shortlist needs (placement.Service).
type Placement interface {
	Options(ctx context.Context, req placement.Request) (placement.Answer, error)
}

// Capacity is what the capacity pages need (capacity.Service).
type Capacity interface {
	Post(ctx context.Context, p *auth.Principal, posting discharge.Capacity, at func(string) string) (capacity.Posted, error)
	Summarise(ctx context.Context, q capacity.SummaryQuery) (capacity.Summary, error)
	// Get is a Location's last posting (KindNotFound: never posted), to
	// prefill the form.
	Get(ctx context.Context, id string) (capacity.View, error)
}

var (
	_ Cases     = (*cases.Service)(nil)
	_ Referrals = (*referral.Service)(nil)
	_ Placement = (*placement.Service)(nil)
	_ Capacity  = (*capacity.Service)(nil)
)

// Sessions stores sign-in sessions (adapters/rediscache.Sessions): opaque
// values by a random id, expiring.
type Sessions interface {
	Get(ctx context.Context, id string) (value []byte, ok bool, err error)
	Put(ctx context.Context, id string, value []byte, ttl time.Duration) error
	Delete(ctx context.Context, id string) error
}

// Auditor records who saw or changed which patient data (the audit
// trail, auth.AuditLog).
type Auditor interface {
	Record(ctx context.Context, e auth.AuditEntry) error
}

// Config holds the dashboard's settings.
type Config struct {
	// Demo offers the local demo sign-in: pick one of the demo
	// organisations. Never in production (cmd/gateway refuses it there,
	// as it refuses the demo clients).
	Demo bool
	// OIDC, when set, signs people in at an OpenID Connect provider (NHS
	// CIS2 is one) with the authorization code flow and PKCE.
	OIDC *OIDCConfig
	// SessionTTL is how long a session lasts without use.
	SessionTTL time.Duration
	// InsecureCookies drops the Secure attribute, for plain-HTTP demo runs
	// on a loopback address only.
	InsecureCookies bool
	// LiveEvery is how often the worklist's event stream sends a summary.
	LiveEvery time.Duration
	// PageSize is the worklist's rows per page.
	PageSize int
}

// DefaultConfig is an 8-hour session (a shift), live updates every 15
// seconds, 50 rows a page.
func DefaultConfig() Config {
	return Config{SessionTTL: 8 * time.Hour, LiveEvery: 15 * time.Second, PageSize: 50}
}

// Deps are the dashboard's collaborators, the gateway's own services
// (gateway.Server.Apps) among them.
type Deps struct {
	Cases     Cases
	Referrals Referrals
	Placement Placement
	Capacity  Capacity
	// Homes lists a care provider's own Locations for the capacity form;
	// nil: the form finds none and says how to register one.
	Homes Homes
	// Sitrep is the system view (issue 18); nil: the sitrep page shows
	// what the case measures offer and says the rest is not available.
	Sitrep   Sitrep
	Sessions Sessions
	// Audit records every page view of patient data.
	Audit Auditor
	// Organisations are the registered organisations (the client
	// registry): a person acts as their organisation's registered client,
	// with its role, members and scopes, so the pages apply the API's
	// tenancy exactly.
	Organisations []*auth.Client
	// Status maps an error to its HTTP status (gateway.StatusOf: the one
	// Kind → status table).
	Status func(error) int
	Logger *slog.Logger
	Now    func() time.Time
}

// Server serves the dashboard.
type Server struct {
	cfg   Config
	d     Deps
	log   *slog.Logger
	now   func() time.Time
	pages *pages
	oidc  *oidcClient
}

// New builds the dashboard. The OIDC provider is discovered lazily, at
// the first sign-in, so a gateway starts while its IdP is away.
func New(cfg Config, d Deps) *Server {
	if d.Logger == nil {
		d.Logger = slog.Default()
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Status == nil {
		d.Status = func(error) int { return http.StatusInternalServerError }
	}
	if d.Homes == nil {
		d.Homes = noHomes{}
	}
	def := DefaultConfig()
	if cfg.SessionTTL <= 0 {
		cfg.SessionTTL = def.SessionTTL
	}
	if cfg.LiveEvery <= 0 {
		cfg.LiveEvery = def.LiveEvery
	}
	if cfg.PageSize <= 0 {
		cfg.PageSize = def.PageSize
	}
	s := &Server{cfg: cfg, d: d, log: d.Logger, now: d.Now, pages: loadPages()}
	if cfg.OIDC != nil {
		s.oidc = newOIDCClient(*cfg.OIDC)
	}
	return s
}

// noHomes is a directory that lists no Location.
type noHomes struct{}

func (noHomes) Locations(context.Context, *auth.Principal) ([]HomeLocation, error) { return nil, nil }

// People's roles, for the route table.
var (
	caseRoles  = []auth.Role{auth.RoleTrust, auth.RoleHub}
	homeRoles  = []auth.Role{auth.RoleCareProvider}
	anyoneRole = []auth.Role{auth.RoleTrust, auth.RoleHub, auth.RoleCareProvider}
)

// Mount adds the dashboard's routes to e, at / beside the gateway's /fhir
// and /api/v1. Each page declares the roles that reach it; every POST
// checks the session's CSRF token.
func (s *Server) Mount(e *echo.Echo) {
	e.GET("/", s.handle(s.home))
	e.GET("/static/*", s.static)
	e.GET("/sign-in", s.handle(s.signInPage))
	e.POST("/sign-in/demo", s.handle(s.demoSignIn), s.csrf)
	e.GET("/sign-in/oidc", s.handle(s.oidcStart))
	e.GET("/sign-in/callback", s.handle(s.oidcCallback))
	e.POST("/sign-out", s.handle(s.signOut), s.csrf)

	page := func(method, path string, h handler, roles ...auth.Role) {
		mw := []echo.MiddlewareFunc{s.signedIn(roles...)}
		if method == http.MethodPost {
			mw = append(mw, s.csrf)
		}
		e.Add(method, path, s.handle(h), mw...)
	}
	page(http.MethodGet, "/worklist", s.worklist, caseRoles...)
	page(http.MethodGet, "/worklist/events", s.worklistEvents, caseRoles...)
	page(http.MethodGet, "/cases/:id", s.casePage, caseRoles...)
	page(http.MethodGet, "/cases/:id/shortlist", s.shortlist, caseRoles...)
	page(http.MethodPost, "/cases/:id/offers", s.sendOffers, caseRoles...)
	page(http.MethodPost, "/offers/:id/confirm", s.confirmOffer, caseRoles...)
	page(http.MethodGet, "/referrals", s.referrals, homeRoles...)
	page(http.MethodPost, "/referrals/:id/accept", s.acceptReferral, homeRoles...)
	page(http.MethodPost, "/referrals/:id/decline", s.declineReferral, homeRoles...)
	page(http.MethodGet, "/capacity", s.capacityPage, anyoneRole...)
	page(http.MethodGet, "/capacity/today", s.capacityForm, homeRoles...)
	page(http.MethodPost, "/capacity/today", s.postCapacity, homeRoles...)
	page(http.MethodGet, "/sitrep", s.sitrep, caseRoles...)
	// Any other path: a person's browser gets the NHS-style 404 page, an
	// API client the gateway's OperationOutcome. It wraps e's error
	// handler (Mount comes after the gateway installs its own) rather than
	// adding e.RouteNotFound("/*"): with that catch-all echo's router
	// answers 404, not 405, for a known API path asked with the wrong
	// method.
	next := e.HTTPErrorHandler
	e.HTTPErrorHandler = func(err error, c echo.Context) {
		var he *echo.HTTPError
		if errors.As(err, &he) && he.Code == http.StatusNotFound && !c.Response().Committed && wantsPage(c.Request()) {
			if perr := s.notFound(c); perr == nil {
				return
			}
		}
		next(err, c)
	}
}
