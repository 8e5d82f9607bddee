package main

import (
	"fmt"
	"log/slog"
	"net"
	"net/url"

	"github.com/dischargegateway/gateway/adapters/rediscache"
	"github.com/dischargegateway/gateway/gateway"
	"github.com/dischargegateway/gateway/internal/wiring"
	"github.com/dischargegateway/gateway/web"
)

// mountDashboard serves the dashboard (web/) at / on the gateway's own
// echo, over the gateway's services, with sessions in Redis and the
// registry's organisations as the people's principals. The demo sign-in
// is offered only with the demo registry, which production refuses.
func mountDashboard(cfg config, srv *gateway.Server, st *wiring.Stores, sec *securityParts, log *slog.Logger) error {
	if !cfg.Web.On {
		return nil
	}
	wcfg := web.DefaultConfig()
	wcfg.Demo = sec.registry.Demo()
	wcfg.SessionTTL = cfg.Web.SessionTTL
	// Plain-HTTP cookies only for the demo on a loopback address, where
	// there is no TLS to terminate.
	wcfg.InsecureCookies = wcfg.Demo && cfg.BaseURL == "" && loopback(cfg.Addr)
	if cfg.Web.OIDCIssuer != "" {
		if cfg.Web.OIDCClientID == "" || cfg.Web.OIDCRedirectURL == "" {
			return fmt.Errorf("GATEWAY_OIDC_ISSUER needs GATEWAY_OIDC_CLIENT_ID and GATEWAY_OIDC_REDIRECT_URL")
		}
		if u, err := url.Parse(cfg.Web.OIDCRedirectURL); err != nil || u.Scheme != "https" && !loopback(u.Host) {
			return fmt.Errorf("GATEWAY_OIDC_REDIRECT_URL must be an https URL")
		}
		wcfg.OIDC = &web.OIDCConfig{Issuer: cfg.Web.OIDCIssuer, ClientID: cfg.Web.OIDCClientID, ClientSecret: cfg.Web.OIDCSecret,
			RedirectURL: cfg.Web.OIDCRedirectURL, Scopes: []string{"profile"}, OrgClaim: cfg.Web.OIDCOrgClaim, RoleClaim: cfg.Web.OIDCRoleClaim}
	}
	apps := srv.Apps()
	d := web.Deps{Cases: apps.Cases, Placement: apps.Placement, Capacity: apps.Capacity,
		Sessions: rediscache.NewSessions(st.Redis.Client), Audit: st.Audit, Organisations: sec.registry.Clients(),
		Status: gateway.StatusOf, Logger: log}
	if apps.Referrals != nil {
		d.Referrals = apps.Referrals
	}
	web.New(wcfg, d).Mount(srv.Echo())
	return nil
}

// loopback says whether a host[:port] is a loopback or unspecified
// listen address (":8080" listens on every interface, loopback among
// them: the demo's default).
func loopback(hostport string) bool {
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		host = hostport
	}
	if host == "" || host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && (ip.IsLoopback() || ip.IsUnspecified())
}
