package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/dischargegateway/gateway/adapters/rediscache"
	"github.com/dischargegateway/gateway/auth"
	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/fhir"
	"github.com/dischargegateway/gateway/gateway"
	"github.com/dischargegateway/gateway/internal/wiring"
	"github.com/dischargegateway/gateway/mappings"
	"github.com/dischargegateway/gateway/sitrep"
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
		Status: gateway.StatusOf, Logger: log, Homes: homeLocations{st.Record}}
	if apps.Referrals != nil {
		d.Referrals = apps.Referrals
	}
	if apps.Sitrep != nil {
		d.Sitrep = sitrepPage{svc: apps.Sitrep, wards: apps.VirtualWards, forecast: apps.Forecast}
	}
	if testSitrep != nil {
		d.Sitrep = testSitrep(d.Sitrep)
	}
	web.New(wcfg, d).Mount(srv.Echo())
	return nil
}

// testSitrep, set only by tests, wraps the sitrep page's system view:
// the browser test fills the sections the sitrep service does not report
// yet (unmet demand, virtual wards, the forecast) to check how the page
// draws them.
var testSitrep func(web.Sitrep) web.Sitrep

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

// sitrepPage shows the sitrep service's report on the dashboard's sitrep
// page: today's headline figures and the last 30 days' daily series. The
// page's unmet demand by district, virtual wards and 14-day forecast stay
// empty (each section says so) until issue 18's services fill them here.
type sitrepPage struct {
	svc *sitrep.Service
	// wards is the virtual-ward report (nil: the section stays empty).
	wards *sitrep.VirtualWards
	// forecast is the 14-day forecast (nil: the section stays empty).
	forecast *sitrep.Forecast
}

// maxForecastRows bounds the page's forecast table: the days, districts
// and settings with demand, soonest first; the FHIR MeasureReport and
// /api/v1/forecast.csv carry every row.
const maxForecastRows = 100

// wardTrendDays is how many days each ward's occupancy trend covers.
const wardTrendDays = 14

// trendDays is how many days the page's trend covers, today included.
const trendDays = 30

func (p sitrepPage) Sitrep(ctx context.Context, who *auth.Principal, day time.Time) (web.SitrepView, error) {
	to := discharge.Today(day)
	from := discharge.DateOfDay(discharge.DayNumber(to) - (trendDays - 1))
	r, err := p.svc.Sitrep(ctx, who, sitrep.Request{From: from, To: to})
	if err != nil {
		return web.SitrepView{}, err
	}
	v := web.SitrepView{Day: day, Today: []web.Figure{{Label: "Patients not meeting the criteria to reside", Value: r.NCTR}}}
	for _, pw := range []string{"0", "1", "2", "3"} {
		v.Today = append(v.Today, web.Figure{Label: "of them on pathway " + pw, Value: r.ByPathway[pw]})
	}
	discharged := web.Series{Label: "Discharges"}
	newNCTR := web.Series{Label: "New patients not meeting the criteria to reside"}
	for _, d := range r.Days {
		at := time.Date(d.Day.Year, d.Day.Month, d.Day.Day, 0, 0, 0, 0, time.UTC)
		discharged.Points = append(discharged.Points, web.Point{Day: at, Value: float64(d.DischargeTotal)})
		newNCTR.Points = append(newNCTR.Points, web.Point{Day: at, Value: float64(d.NewNCTRTotal)})
		if d.Day == to {
			v.Today = append(v.Today, web.Figure{Label: "Discharges today", Value: d.DischargeTotal},
				web.Figure{Label: "of them before noon", Value: d.DischargesBeforeNoon},
				web.Figure{Label: "New patients not meeting the criteria to reside today", Value: d.NewNCTRTotal})
		}
	}
	v.Trend = []web.Series{discharged, newNCTR}
	if v.VirtualWards, err = p.virtualWards(ctx, who, to); err != nil {
		return web.SitrepView{}, err
	}
	if v.Unmet, err = p.unmet(ctx, who, to); err != nil {
		return web.SitrepView{}, err
	}
	if v.Forecast, err = p.forecastDays(ctx, who); err != nil {
		return web.SitrepView{}, err
	}
	return v, nil
}

// forecastDays is the 14-day forecast (sitrep.Forecast) as the page's
// rows: one per day, district and setting with demand, soonest day first,
// against the district's vacancies and holds now. Where the forecast read
// no supply for a district, its vacancies show as 0: none is known.
func (p sitrepPage) forecastDays(ctx context.Context, who *auth.Principal) ([]web.ForecastDay, error) {
	if p.forecast == nil {
		return nil, nil
	}
	r, err := p.forecast.Forecast(ctx, who, sitrep.ForecastRequest{})
	if err != nil {
		return nil, err
	}
	made := time.Date(r.Made.Year, r.Made.Month, r.Made.Day, 0, 0, 0, 0, time.UTC)
	var out []web.ForecastDay
	for i := 0; i < discharge.ForecastDays && len(out) < maxForecastRows; i++ {
		for _, row := range r.Rows {
			if row.Demand[i] == 0 || len(out) == maxForecastRows {
				continue
			}
			out = append(out, web.ForecastDay{Day: made.AddDate(0, 0, i), Setting: string(row.Setting), District: row.Outcode,
				// The forecast's Vacant is already net of holds (bookable);
				// the page's is the posted figure the holds come out of.
				Demand: row.Demand[i], Vacant: row.Vacant + row.Held, Held: row.Held})
		}
	}
	return out, nil
}

// unmetDays is how far back the page's unmet demand reaches: this week and
// the last (the report counts whole weeks, Monday to Sunday).
const unmetDays = 7

// unmet is the unmet demand by district and setting over this week and the
// last (sitrep.Service.UnmetDemand, flattened by sitrep.UnmetRows); empty
// when the record keeps no unmet-demand counters.
func (p sitrepPage) unmet(ctx context.Context, who *auth.Principal, to discharge.Date) ([]web.DistrictDemand, error) {
	from := discharge.DateOfDay(discharge.DayNumber(to) - unmetDays)
	r, err := p.svc.UnmetDemand(ctx, who, sitrep.Request{From: from, To: to})
	if err != nil && discharge.ErrorKind(err) == discharge.KindNotSupported {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []web.DistrictDemand
	for _, row := range sitrep.UnmetRows(r) {
		out = append(out, web.DistrictDemand{District: row.District, Setting: row.Setting, Waiting: row.Waiting, TopFilter: row.TopFilter})
	}
	return out, nil
}

// virtualWards is every ward's occupancy on day to, with its daily
// occupancy over the wardTrendDays ending then (sitrep.VirtualWards.Report).
func (p sitrepPage) virtualWards(ctx context.Context, who *auth.Principal, to discharge.Date) ([]web.WardOccupancy, error) {
	if p.wards == nil || sitrep.MayReadVirtualWards(who) != nil {
		return nil, nil
	}
	from := discharge.DateOfDay(discharge.DayNumber(to) - (wardTrendDays - 1))
	r, err := p.wards.Report(ctx, who, sitrep.WardRequest{From: from, To: to})
	if err != nil {
		return nil, err
	}
	trend := map[string][]web.Point{}
	for _, d := range r.Days {
		at := time.Date(d.Day.Year, d.Day.Month, d.Day.Day, 0, 0, 0, 0, time.UTC)
		for _, w := range d.Wards {
			trend[w.Key] = append(trend[w.Key], web.Point{Day: at, Value: w.Percent() / 100})
		}
	}
	var out []web.WardOccupancy
	for _, w := range r.Last().Wards {
		out = append(out, web.WardOccupancy{Name: w.Name, Occupied: w.Occupied, Capacity: w.Capacity, Trend: trend[w.Key]})
	}
	return out, nil
}

// homeLocations lists a care provider's own directory Locations for the
// dashboard's capacity form, reading the directory partition as the FHIR
// search does: the Organizations carrying the caller's identifier
// (Organization?identifier=system|value), the Locations they manage
// (Location?organization=) and the HealthcareServices they provide
// (HealthcareService?organization=), whose care settings and specialisms
// give each Location's bed types (discharge.BedTypesForNeed). The
// directory service has no such listing of its own; this is the same
// search any client may run, since the directory is public.
type homeLocations struct{ store fhir.Store }

// maxHomeLocations bounds one provider's listing: a large group runs a
// few hundred homes.
const maxHomeLocations = 1000

func (h homeLocations) Locations(ctx context.Context, p *auth.Principal) ([]web.HomeLocation, error) {
	if p == nil || p.Org == "" {
		return nil, nil
	}
	search := func(typ, param string, anyOf []string) ([]fhir.Resource, error) {
		rs, _, err := h.store.Search(ctx, fhir.DirectoryPartition, fhir.Query{Type: typ,
			Filters: []fhir.Filter{{Param: param, AnyOf: anyOf}}, Count: maxHomeLocations})
		return rs, err
	}
	orgs, err := search("Organization", "identifier", []string{p.OrgSystem + "|" + p.Org})
	if err != nil || len(orgs) == 0 {
		return nil, err
	}
	refs := make([]string, len(orgs))
	for i, o := range orgs {
		refs[i] = "Organization/" + o.ID
	}
	locs, err := search("Location", "organization", refs)
	if err != nil || len(locs) == 0 {
		return nil, err
	}
	svcs, err := search("HealthcareService", "organization", refs)
	if err != nil {
		return nil, err
	}
	raw := make(map[string][]byte, len(locs))
	out := make([]web.HomeLocation, len(locs))
	at := make(map[string]int, len(locs))
	for i, l := range locs {
		raw[l.ID], at[l.ID] = l.JSON, i
		out[i].ID = l.ID
		if doc, err := fhir.DecodeDoc(l.JSON); err == nil {
			_, out[i].Postcode = mappings.LocationPlace(doc)
		}
	}
	for _, sv := range svcs {
		provs, err := mappings.HealthcareServiceProviders(sv.JSON, func(id string) ([]byte, bool) { b, ok := raw[id]; return b, ok })
		if err != nil {
			continue // a service the directory cannot read offers no bed type
		}
		for _, pv := range provs {
			hl := &out[at[pv.LocationID]]
			if hl.Name == "" {
				hl.Name = pv.Name
			}
			for _, set := range pv.Settings {
				for _, bt := range discharge.BedTypesForNeed(discharge.CareNeed{Setting: set, Requirements: pv.Specialisms}) {
					if !slices.Contains(hl.BedTypes, bt) {
						hl.BedTypes = append(hl.BedTypes, bt)
					}
				}
			}
		}
	}
	slices.SortFunc(out, func(a, b web.HomeLocation) int { return strings.Compare(a.Label(), b.Label()) })
	return out, nil
}
