// Package gateway is the Echo HTTP gateway: FHIR REST at /fhir, the JSON API
// at /api/v1, health endpoints, and the middleware that makes every error an
// OperationOutcome. Handlers stay thin: decode the request, call one
// service method (the FHIR record path is records.Service), encode the
// answer; the route table declares each route's scope and role.
package gateway

import (
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/dischargegateway/gateway/audittrail"
	"github.com/dischargegateway/gateway/auth"
	"github.com/dischargegateway/gateway/capacity"
	"github.com/dischargegateway/gateway/cases"
	"github.com/dischargegateway/gateway/conformance"
	"github.com/dischargegateway/gateway/directory"
	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/fhir"
	"github.com/dischargegateway/gateway/mappings"
	"github.com/dischargegateway/gateway/messaging"
	"github.com/dischargegateway/gateway/placement"
	"github.com/dischargegateway/gateway/records"
	"github.com/dischargegateway/gateway/referral"
	"github.com/dischargegateway/gateway/sitrep"
	"github.com/dischargegateway/gateway/subscription"
)

// clinicalTypes and directoryTypes are the resource types served by the
// generic FHIR REST handlers (records.ClinicalTypes, records.DirectoryTypes).
var clinicalTypes, directoryTypes = records.ClinicalTypes, records.DirectoryTypes

// Config holds the gateway's HTTP settings.
type Config struct {
	// BodyLimit is the largest request body accepted, in bytes.
	BodyLimit int64
	// Limits bounds JSON nesting and Bundle entries.
	Limits fhir.Limits
	// RequestTimeout is the deadline for each request's work.
	RequestTimeout time.Duration
	// RetryAfterSeconds is sent with 503s.
	RetryAfterSeconds int
	// BaseURL, when set, is the public base of the FHIR endpoint (e.g.
	// https://gw.example.nhs.uk/fhir); otherwise it is derived per request.
	BaseURL string
	// Version is the software version shown in the CapabilityStatement.
	Version string
	// Freshness says when capacity becomes stale and then unknown.
	Freshness discharge.FreshnessPolicy
	// Weights weigh the placement score's components.
	Weights discharge.Weights
	// Escalation says when a case is flagged in the worklist.
	Escalation discharge.EscalationRule
}

// DefaultConfig returns the settings used when nothing is configured.
func DefaultConfig() Config {
	return Config{
		BodyLimit:         1 << 20,
		Limits:            fhir.DefaultLimits,
		RequestTimeout:    10 * time.Second,
		RetryAfterSeconds: 5,
		Version:           "dev",
		Freshness:         discharge.DefaultFreshness,
		Weights:           discharge.DefaultWeights,
		Escalation:        cases.DefaultConfig().Escalation,
	}
}

// Deps are the gateway's collaborators, wired by internal/wiring
// (Stores.GatewayDeps) for cmd/gateway and cmd/loadgen. New builds
// the application services from the stores; the Server keeps only the
// services and what the HTTP layer itself uses.
type Deps struct {
	Store      fhir.Store
	Translator *mappings.Translator
	Security   Security
	Capacity   CapacityStore
	Geocoder   Geocoder
	// ParseDirectory reads bulk directory files (CQC-style CSV), for
	// directory.Service.ImportCSV.
	ParseDirectory directory.CSVParser
	// ParseCapacity reads bulk capacity files (vendor CSV), for
	// capacity.Service.ImportCSV.
	ParseCapacity capacity.CSVParser
	Logger        *slog.Logger
	Now           func() time.Time
	// Ready says whether the system of record answers, for /readyz; nil
	// is Store.
	Ready Pinger
	// CapacityCounts counts locations by the freshness of their current
	// posting, for the dg.capacity.locations gauge; nil: no gauge.
	CapacityCounts FreshnessCounter
	// Cases is the referral loop's case data (events, offers, the
	// worklist) behind /api/v1/cases and /api/v1/measures.
	Cases cases.Store
	// Referrals runs the referral loop behind the Task routes (built on
	// the record by internal/wiring, which also starts its sweeper); nil:
	// the Task routes answer 503.
	Referrals *referral.Service
	// Subscriptions manages FHIR Subscriptions (subscription.go); nil:
	// the Subscription routes answer 503.
	Subscriptions *subscription.Service
	// ReferralRecord is the referral loop's record as placement and
	// capacity reads see it (holds, providers' answers); nil: no referral
	// loop in those reads.
	ReferralRecord placement.Referrals
	// Messages keeps the responses to FHIR messages ($process-message)
	// with the writes they caused; nil: $process-message answers 503.
	Messages messaging.Log
	// Sitrep are the discharge sitrep's counters (sitrep.go); nil: the
	// sitrep answers not-supported.
	Sitrep sitrep.Counters
	// PlacementObservers hear of every answered placement search (the
	// case's shortlisted event, the sitrep's unmet-demand count), wired
	// by internal/wiring (PlacementObservers); none: nothing is told.
	PlacementObservers []placement.Observer
	// VirtualWards are the virtual wards' daily figures (virtualward.go),
	// placed by the directory in Store; nil: that report answers
	// not-supported.
	VirtualWards sitrep.WardDays
	// SitrepHistory reads the unmet-demand counters and the stock at past
	// days' close (sitrep.History); nil: the unmet-demand report answers
	// not-supported and a past sitrep shows the stock now.
	SitrepHistory sitrep.History
	// Forecast are the 14-day forecast's counters (forecast.go); nil: the
	// forecast answers not-supported. Its supply is the capacity
	// service's summaries (sitrep.CapacitySupply).
	Forecast sitrep.ForecastStore
}

// Server is the HTTP gateway: the route table, the middleware and the
// handlers, with what they call. Handlers reach data only through the
// application services; the stores stay behind them.
type Server struct {
	cfg  Config
	log  *slog.Logger
	now  func() time.Time
	echo *echo.Echo
	// sec authenticates, limits and audits callers.
	sec Security
	// ready is /readyz's probe of the system of record.
	ready Pinger
	// tr answers ConceptMap/$translate.
	tr *mappings.Translator
	// access verifies access tokens, with its cache of verified ones.
	access *auth.AccessVerifier
	// conformance publishes the CodeSystems, ConceptMaps and the
	// CapabilityStatement.
	conformance *conformance.Service
	// placement answers $placement-options.
	placement *placement.Service
	metrics   *metrics
	// directory is the provider directory: import, ownership rules, geo index.
	directory *directory.Service
	// capacities is the capacity service: postings, reads, summaries.
	capacities *capacity.Service
	// records is the FHIR record service: create, update, read, search,
	// history, transactions and batches.
	records *records.Service
	// auditTrail searches the audit trail (GET /fhir/AuditEvent).
	auditTrail *audittrail.Service
	// cases is the case view: state, timeline, measures, the worklist,
	// triage.
	cases *cases.Service
	// referrals runs the referral loop: offers as Tasks (task.go).
	referrals *referral.Service
	// subscriptions manages Subscriptions (subscription.go).
	subscriptions *subscription.Service
	// messages takes BaRS messages at $process-message (processmessage.go).
	messages *messaging.Service
	// sitrep computes the discharge sitrep (sitrep.go).
	sitrep *sitrep.Service
	// virtualWards computes virtual-ward occupancy (virtualward.go).
	virtualWards *sitrep.VirtualWards
	// forecast computes the 14-day demand forecast (forecast.go).
	forecast *sitrep.Forecast
}

// New builds the gateway and its routes.
func New(cfg Config, d Deps) *Server {
	if d.Logger == nil {
		d.Logger = slog.Default()
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Ready == nil {
		d.Ready = d.Store
	}
	s := &Server{cfg: cfg, tr: d.Translator, log: d.Logger, now: d.Now, sec: d.Security, ready: d.Ready}
	s.directory = directory.New(d.Store, d.Capacity, d.Geocoder, d.ParseDirectory, d.Logger, d.Now)
	s.capacities = capacity.New(d.Capacity, d.Geocoder, s.directory, d.ParseCapacity, cfg.Freshness, d.Now)
	if d.ReferralRecord != nil {
		s.capacities.UseHolds(d.ReferralRecord)
	}
	// The record closes a case when its Encounter ends (the referral
	// service's CloseCase); a nil service must not become a non-nil
	// interface.
	var closer records.CaseCloser
	if d.Referrals != nil {
		closer = d.Referrals
	}
	s.records = records.New(records.Config{Limits: cfg.Limits, BaseURL: cfg.BaseURL}, records.Deps{
		Store: d.Store, Near: d.Capacity, Areas: d.Geocoder, Translator: d.Translator, Logger: d.Logger, Now: d.Now, NewID: newID,
		Directory: recordsDirectory{s.directory}, Cases: closer})
	s.auditTrail = audittrail.New(d.Security.Audit)
	s.messages = messaging.New(messaging.Config{Limits: cfg.Limits}, s.records, d.Messages, d.Now, newID)
	s.cases = cases.New(cases.Config{Escalation: cfg.Escalation}, s.records, d.Cases, d.Now)
	s.referrals = d.Referrals
	s.subscriptions = d.Subscriptions
	if d.Sitrep != nil {
		s.sitrep = sitrep.New(d.Sitrep, d.Now).WithHistory(d.SitrepHistory)
	}
	if d.VirtualWards != nil {
		s.virtualWards = sitrep.NewVirtualWards(d.VirtualWards, sitrep.DirectoryPlaces{Store: d.Store}, d.Now)
	}
	if d.Forecast != nil {
		s.forecast = sitrep.NewForecast(d.Forecast, sitrep.CapacitySupply{Capacity: s.capacities}, d.Now)
	}
	s.placement = placement.New(placement.Config{Freshness: cfg.Freshness, Weights: cfg.Weights,
		Translator: d.Translator, Now: d.Now, Referrals: d.ReferralRecord, Observers: d.PlacementObservers}, d.Capacity, d.Store, d.Geocoder, s.records)
	// Compile the validators of every type the gateway accepts before the
	// first request, not during it.
	if err := fhir.Preload(append(append([]string{"Bundle", "Parameters", "Task", "Subscription"}, clinicalTypes...), directoryTypes...)...); err != nil {
		s.log.Error("schema preload failed", slog.String("error", err.Error()))
	}
	s.metrics = s.newMetrics(d.CapacityCounts)
	s.access = auth.NewAccessVerifier(d.Security.Issuer, d.Now)
	s.conformance = conformance.New(mappings.CodeSystems(), d.Translator.Maps(), s.buildCapabilityStatement)
	topicIDs, topicURLs, topics := mappings.SubscriptionTopicCanonicals()
	s.conformance.Publish(conformance.Basic, topicIDs, topicURLs, topics)
	e := echo.New()
	e.HideBanner = true
	e.HidePort = true
	e.HTTPErrorHandler = s.errorHandler
	s.echo = e
	s.routes()
	return s
}

// Handler returns the root HTTP handler, with tracing around echo.
func (s *Server) Handler() http.Handler { return instrument(s.echo) }

// Echo exposes the echo instance for tests.
func (s *Server) Echo() *echo.Echo { return s.echo }

func (s *Server) routes() {
	e := s.echo
	e.Pre(s.recoverPanics, s.requestIDs, s.accessLog, trimTrailingSlash, headAsGet)
	e.Use(restoreHead, s.routeTelemetry, s.deadline)

	e.GET("/healthz", s.healthz)
	e.GET("/readyz", s.readyz)

	// Middleware is attached per route, not per Group: an echo Group with
	// middleware registers catch-all routes that turn 405s into 404s.
	// Discovery and the token endpoint need no token.
	e.GET("/.well-known/smart-configuration", s.smartConfiguration)
	e.GET("/fhir/.well-known/smart-configuration", s.smartConfiguration)
	e.GET("/.well-known/jwks.json", s.jwks)
	e.POST("/oauth2/token", s.token)
	e.GET("/fhir/metadata", s.metadata, s.negotiate)
	e.GET("/fhir/Measure/:id", s.readCaseMeasure, s.negotiate)
	e.GET("/fhir/OperationDefinition/:id", s.readOperationDefinition, s.negotiate)
	e.GET("/fhir/SearchParameter/:id", s.readSearchParameter, s.negotiate)
	e.GET("/fhir/Basic", s.searchSubscriptionTopics, s.negotiate) // SubscriptionTopics (subscriptiontopic.go)
	e.GET("/fhir/Basic/:id", s.readSubscriptionTopic, s.negotiate)
	e.GET("/api/v1/openapi.json", s.openapi)

	// Everything else under /fhir and /api needs a bearer token with the
	// route's scope. Middleware is attached per route, not per Group: an
	// echo Group with middleware registers catch-all routes that turn 405s
	// into 404s.
	fhirRoute := func(method, path string, h echo.HandlerFunc, m ...echo.MiddlewareFunc) {
		e.Add(method, "/fhir"+path, h, append([]echo.MiddlewareFunc{s.negotiate, s.authenticate}, m...)...)
	}
	fhirRoute(http.MethodPost, "", s.transaction)
	// BaRS referral messages (processmessage.go, docs/bars.md): a trust's
	// client writes the referral's Patient, Encounter and ServiceRequest;
	// each is audited with what the record did.
	fhirRoute(http.MethodPost, "/$process-message", s.processMessage, s.requireScope("ServiceRequest", 'c'),
		s.requireScope("Encounter", 'c'), s.requireScope("Patient", 'c'), requireWriter("ServiceRequest"))
	fhirRoute(http.MethodGet, "/_history", s.historyNotSupported)
	// Terminology the gateway publishes.
	fhirRoute(http.MethodGet, "/CodeSystem", s.searchCodeSystems, s.requireScope("CodeSystem", 's'))
	fhirRoute(http.MethodGet, "/CodeSystem/:id", s.readCodeSystem, s.requireScope("CodeSystem", 'r'))
	fhirRoute(http.MethodGet, "/ConceptMap", s.searchConceptMaps, s.requireScope("ConceptMap", 's'))
	fhirRoute(http.MethodGet, "/ConceptMap/$translate", s.translate, s.requireScope("ConceptMap", 'r'))
	fhirRoute(http.MethodPost, "/ConceptMap/$translate", s.translate, s.requireScope("ConceptMap", 'r'))
	fhirRoute(http.MethodGet, "/ConceptMap/:id", s.readConceptMap, s.requireScope("ConceptMap", 'r'))
	fhirRoute(http.MethodGet, "/AuditEvent", s.searchAuditEvents, s.requireScope("AuditEvent", 's'),
		requireRole(auth.RoleAdmin, "Only the admin role reads the audit trail."))
	// Clinical resources: every interaction is audited.
	for _, t := range clinicalTypes {
		fhirRoute(http.MethodPost, "/"+t, s.create, s.requireScope(t, 'c'), s.audited("create", "C"), requireWriter(t))
		fhirRoute(http.MethodGet, "/"+t, s.search, s.requireScope(t, 's'), s.audited("search-type", "E"))
		fhirRoute(http.MethodGet, "/"+t+"/:id", s.read, s.requireScope(t, 'r'), s.audited("read", "R"))
		fhirRoute(http.MethodPut, "/"+t+"/:id", s.update, s.requireScope(t, 'u'), s.audited("update", "U"), requireWriter(t))
		fhirRoute(http.MethodGet, "/"+t+"/:id/_history/:vid", s.vread, s.requireScope(t, 'r'), s.audited("vread", "R"))
		fhirRoute(http.MethodGet, "/"+t+"/:id/_history", s.history, s.requireScope(t, 'r'), s.audited("history-instance", "R"))
		fhirRoute(http.MethodGet, "/"+t+"/_history", s.historyNotSupported, s.requireScope(t, 'r'), s.audited("history-type", "R"))
	}
	// The referral loop's offers (task.go, docs/referrals.md): audited like
	// clinical data; the role lists are the first wall, referral.Service
	// checks owner, requester and membership.
	senders, parties := requireRoles("Only trusts and hubs send and confirm offers.", taskSenders...),
		requireRoles("Only trusts, hubs and care providers take part in referrals.", taskParties...)
	task := func(method, path string, h echo.HandlerFunc, m ...echo.MiddlewareFunc) {
		fhirRoute(method, "/Task"+path, h, append(m, s.referralsReady)...)
	}
	task(http.MethodPost, "", s.sendTask, s.requireScope("Task", 'c'), s.audited("create", "C"), senders)
	task(http.MethodGet, "", s.searchTasks, s.requireScope("Task", 's'), s.audited("search-type", "E"), parties)
	task(http.MethodGet, "/:id", s.readTask, s.requireScope("Task", 'r'), s.audited("read", "R"), parties)
	task(http.MethodPut, "/:id", s.updateTask, s.requireScope("Task", 'u'), s.audited("update", "U"), parties)
	task(http.MethodGet, "/:id/_history/:vid", s.vreadTask, s.requireScope("Task", 'r'), s.audited("vread", "R"), parties)
	task(http.MethodGet, "/:id/_history", s.taskHistory, s.requireScope("Task", 'r'), s.audited("history-instance", "R"), parties)
	task(http.MethodGet, "/_history", s.historyNotSupported, s.requireScope("Task", 'r'), parties)
	task(http.MethodPost, "/:id/$confirm", s.confirmTask, s.requireScope("Task", 'u'), s.audited("operation", "U"), senders)
	// referral.Service.Pack audits each pack it serves, saying whether it
	// disclosed the patient's identity.
	task(http.MethodGet, "/:id/$referral-pack", s.referralPack, s.requireScope("Task", 'r'), parties)
	// Subscriptions (subscription.go, docs/subscriptions.md): any party to
	// referrals subscribes; subscription.Service decides topics by role
	// and shows each organisation only its own Subscriptions.
	subscribers := requireRoles("Only trusts, hubs and care providers subscribe.", taskParties...)
	sub := func(method, path string, h echo.HandlerFunc, op byte) {
		fhirRoute(method, "/Subscription"+path, h, s.requireScope("Subscription", op), subscribers, s.subscriptionsReady)
	}
	sub(http.MethodPost, "", s.createSubscription, 'c')
	sub(http.MethodGet, "", s.searchSubscriptions, 's')
	sub(http.MethodGet, "/:id", s.readSubscription, 'r')
	sub(http.MethodDelete, "/:id", s.deleteSubscription, 'd')
	sub(http.MethodGet, "/:id/$status", s.subscriptionStatus, 'r')
	sub(http.MethodPost, "/:id/$status", s.subscriptionStatus, 'r')
	sub(http.MethodGet, "/:id/$events", s.subscriptionEvents, 'r')
	sub(http.MethodPost, "/:id/$events", s.subscriptionEvents, 'r')
	fhirRoute(http.MethodGet, "/ServiceRequest/:id/$placement-options", s.placementOptions,
		s.requireScope("ServiceRequest", 'r'), s.requireScope("HealthcareService", 's'), s.audited("operation", "E"))
	fhirRoute(http.MethodPost, "/ServiceRequest/$placement-options", s.placementWhatIf,
		s.requireScope("HealthcareService", 's'), s.audited("operation", "E"))
	fhirRoute(http.MethodPost, "/ServiceRequest/:id/$placement-options", s.placementOptions,
		s.requireScope("ServiceRequest", 'r'), s.requireScope("HealthcareService", 's'), s.audited("operation", "E"))

	// Capacity as FHIR MeasureReports (see measurereport.go).
	fhirRoute(http.MethodPost, "/MeasureReport", s.createMeasureReport, s.requireScope("MeasureReport", 'c'), requireCaller(capacity.MayPost))
	fhirRoute(http.MethodGet, "/MeasureReport", s.searchMeasureReports, s.requireScope("MeasureReport", 's'))
	// The discharge sitrep (sitrep.go): MeasureReport?measure= of the
	// sitrep Measure is dispatched by searchMeasureReports, under
	// sitrep.MayRead; $evaluate-measure and the CSV declare it here.
	fhirRoute(http.MethodGet, "/Measure/:id/$evaluate-measure", s.evaluateMeasure, s.requireScope("MeasureReport", 's'), requireCaller(sitrep.MayRead))
	e.GET("/api/v1/sitrep.csv", s.sitrepCSV, s.authenticate, s.requireScope("MeasureReport", 's'), requireCaller(sitrep.MayRead))
	// Virtual-ward occupancy (virtualward.go): MeasureReport?measure= of
	// its Measure is dispatched by searchMeasureReports too.
	e.GET("/api/v1/virtual-wards.csv", s.virtualWardsCSV, s.authenticate, s.requireScope("MeasureReport", 's'), requireCaller(sitrep.MayReadVirtualWards))
	// Unmet demand by district (unmet.go): MeasureReport?measure= of the
	// unmet-demand Measure is dispatched by searchMeasureReports.
	e.GET("/api/v1/unmet-demand.csv", s.unmetCSV, s.authenticate, s.requireScope("MeasureReport", 's'), requireCaller(sitrep.MayReadAggregates))
	// The 14-day forecast (forecast.go): dispatched by measure as the sitrep.
	e.GET("/api/v1/forecast.csv", s.forecastCSV, s.authenticate, s.requireScope("MeasureReport", 's'), requireCaller(sitrep.MayRead))
	// The provider directory: not patient data, so not audited.
	for _, t := range directoryTypes {
		fhirRoute(http.MethodPost, "/"+t, s.create, s.requireScope(t, 'c'), requireWriter(t))
		fhirRoute(http.MethodGet, "/"+t, s.search, s.requireScope(t, 's'))
		fhirRoute(http.MethodGet, "/"+t+"/:id", s.read, s.requireScope(t, 'r'))
		fhirRoute(http.MethodPut, "/"+t+"/:id", s.update, s.requireScope(t, 'u'), requireWriter(t))
		fhirRoute(http.MethodGet, "/"+t+"/:id/_history/:vid", s.vread, s.requireScope(t, 'r'))
		fhirRoute(http.MethodGet, "/"+t+"/:id/_history", s.history, s.requireScope(t, 'r'))
		fhirRoute(http.MethodGet, "/"+t+"/_history", s.historyNotSupported, s.requireScope(t, 'r'))
	}

	// Capacity: care providers post for their own Locations (the JSON shape
	// of a MeasureReport); trusts and hubs read summaries.
	e.POST("/api/v1/capacity/import", s.importCapacity, s.negotiateJSON, s.authenticate, s.requireScope("MeasureReport", 'c'), requireCaller(capacity.MayPost))
	e.PUT("/api/v1/capacity/:locationId", s.putCapacity, s.negotiateJSON, s.authenticate, s.requireScope("MeasureReport", 'c'), requireCaller(capacity.MayPost))
	e.GET("/api/v1/capacity/:locationId", s.getCapacity, s.negotiateJSON, s.authenticate, s.requireScope("MeasureReport", 'r'))
	e.GET("/api/v1/capacity", s.capacitySummary, s.negotiateJSON, s.authenticate, s.requireScope("MeasureReport", 's'))

	e.POST("/api/v1/directory/import", s.importDirectory, s.negotiateJSON, s.authenticate,
		s.requireScope("Location", 'c'), s.requireScope("HealthcareService", 'c'), s.requireScope("Organization", 'c'), requireCaller(mayImportDirectory))

	e.GET("/api/v1/cases/:id", s.getCase, s.negotiateJSON, s.authenticate,
		s.requireScope("Encounter", 'r'), s.requireScope("ServiceRequest", 's'), s.auditedAs("Encounter", "read", "R"))
	// The same case as FHIR (casefhir.go): same scopes, same audit.
	for _, m := range []string{http.MethodGet, http.MethodPost} {
		fhirRoute(m, "/Encounter/:id/$discharge-case", s.dischargeCase,
			s.requireScope("Encounter", 'r'), s.requireScope("ServiceRequest", 's'), s.auditedAs("Encounter", "read", "R"))
	}
	// The worklist and the measures: trusts and hubs. Triage is the hub's
	// one write: a narrow decision, not an Encounter update, so it needs
	// the read scope and the role rule, and is audited as an update.
	e.GET("/api/v1/cases", s.worklist, s.negotiateJSON, s.authenticate,
		s.requireScope("Encounter", 's'), s.auditedAs("Encounter", "search-type", "E"))
	e.POST("/api/v1/cases/:id/triage", s.triage, s.negotiateJSON, s.authenticate,
		s.requireScope("Encounter", 'r'), s.auditedAs("Encounter", "update", "U"), requireCaller(cases.MayTriage))
	e.GET("/api/v1/measures", s.caseMeasures, s.negotiateJSON, s.authenticate,
		s.requireScope("Encounter", 's'), s.auditedAs("Encounter", "search-type", "E"))
}

// trimTrailingSlash routes "[base]/" and "[base]/Patient/" like "[base]" and
// "[base]/Patient": FHIR clients post transactions and batches to "[base]/"
// and some build every URL with a trailing slash. One slash is removed,
// from the path echo routes on (RawPath too, when the path has escapes);
// the route and its middleware are then exactly those of the bare path, so
// 404 and 405 stay OperationOutcomes.
func trimTrailingSlash(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		u := c.Request().URL
		if len(u.Path) > 1 && strings.HasSuffix(u.Path, "/") {
			u.Path = u.Path[:len(u.Path)-1]
			if len(u.RawPath) > 1 && strings.HasSuffix(u.RawPath, "/") {
				u.RawPath = u.RawPath[:len(u.RawPath)-1]
			}
			c.Request().RequestURI = u.RequestURI()
		}
		return next(c)
	}
}

// headAsGet routes HEAD as GET, so every GET route answers HEAD (RFC 9110
// §9.3.2: the same headers, no body): reads, vreads, metadata, searches.
// echo routes on the request's method, and net/http decides whether to
// send a body from the same request's method when the handler writes; so
// the method is GET only for routing, and restoreHead (the first
// middleware after routing) puts HEAD back before any handler runs. The
// handler then writes as for GET, and net/http sends the headers, with
// Content-Length, and no body.
func headAsGet(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if r := c.Request(); r.Method == http.MethodHead {
			r.Method = http.MethodGet
			c.Set(ctxHead, true)
		}
		return next(c)
	}
}

// restoreHead undoes headAsGet once the route is found.
func restoreHead(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if head, _ := c.Get(ctxHead).(bool); head {
			c.Request().Method = http.MethodHead
		}
		return next(c)
	}
}

const ctxHead = "dg.head"
