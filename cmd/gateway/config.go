package main

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/internal/wiring"
	"github.com/dischargegateway/gateway/subscription"
)

// config is every setting of the gateway. Each is read from one environment
// variable; settingsTable is the single list of them, used both to load and
// to print the README's settings table (`gateway settings`).
type config struct {
	Addr              string
	DatabaseURL       string
	DataDir           string
	Migrate           string
	CacheCheck        time.Duration
	RedisURL          string
	RedisAddrs        []string
	RedisMaster       string
	RedisTimeout      time.Duration
	RedisWaitReplicas int
	RedisWaitTimeout  time.Duration
	BodyLimit         int64
	MaxDepth          int
	MaxBundleEntries  int
	RequestTimeout    time.Duration
	ShutdownTimeout   time.Duration
	RetryAfterSeconds int
	BaseURL           string
	ConceptMapsDir    string
	Env               string
	ClientsFile       string
	SigningKeysDir    string
	DemoDir           string
	TokenTTL          time.Duration
	RateLimit         int
	OutcodesCSV       string
	PostcodesCSV      string
	StaleAfter        time.Duration
	ExpireAfter       time.Duration
	Weights           discharge.Weights
	EscalationWait    time.Duration
	EscalationNCTR    int
	LogLevel          string
	OTLPEndpoint      string
	ServiceName       string
	MetricsAddr       string
	DemoWorld         string
	DemoWorldStores   string
	// Referral holds REFERRAL_DEADLINE, REFERRAL_HOLD_TTL and
	// REFERRAL_IDENTITY_BEFORE_ACCEPT.
	Referral wiring.ReferralSettings
	// Subscription holds the SUBSCRIPTION_* settings.
	Subscription wiring.SubscriptionSettings
	// Web is the dashboard's sign-in (GATEWAY_WEB_*, GATEWAY_OIDC_*).
	Web webSettings
}

// webSettings are the dashboard's settings (web/, docs/dashboard.md).
type webSettings struct {
	On                                   bool
	SessionTTL                           time.Duration
	OIDCIssuer, OIDCClientID, OIDCSecret string
	OIDCRedirectURL                      string
	OIDCOrgClaim, OIDCRoleClaim          string
}

type setting struct {
	env, def, doc string
	set           func(c *config, v string) error
	secret        bool
}

func durationSetting(dst func(*config) *time.Duration) func(*config, string) error {
	return func(c *config, v string) error {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			return fmt.Errorf("want a duration such as 2s or 500ms")
		}
		*dst(c) = d
		return nil
	}
}

// positiveDuration is durationSetting refusing zero.
func positiveDuration(dst func(*config) *time.Duration) func(*config, string) error {
	return func(c *config, v string) error {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return fmt.Errorf("want a positive duration such as 4h or 30m")
		}
		*dst(c) = d
		return nil
	}
}

func intSetting(dst func(*config) *int, min int) func(*config, string) error {
	return func(c *config, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil || n < min {
			return fmt.Errorf("want a whole number of at least %d", min)
		}
		*dst(c) = n
		return nil
	}
}

var settingsTable = []setting{
	{env: "GATEWAY_ADDR", def: ":8080", doc: "Address the HTTP server listens on.",
		set: func(c *config, v string) error { c.Addr = v; return nil }},
	{env: "DATABASE_URL", def: "", secret: true, doc: "The system of record: PostgreSQL (`postgres://user:pass@host:5432/db`; several hosts, `postgres://…@pg1,pg2,pg3/db?target_session_attrs=read-write`, follow a promoted standby). It holds every resource and its history, capacity postings as asserted and the audit trail. Unset: an embedded SQLite file in GATEWAY_DATA_DIR (refused with GATEWAY_ENV=production).",
		set: func(c *config, v string) error {
			if v != "" && !strings.HasPrefix(v, "postgres://") && !strings.HasPrefix(v, "postgresql://") {
				return fmt.Errorf("want a postgres:// URL")
			}
			c.DatabaseURL = v
			return nil
		}},
	{env: "GATEWAY_DATA_DIR", def: "data", doc: "Directory of the embedded SQLite record (`gateway.db`) when DATABASE_URL is unset.",
		set: func(c *config, v string) error { c.DataDir = v; return nil }},
	{env: "GATEWAY_MIGRATE", def: "auto", doc: "`auto`: bring the record's schema up to date at start. `off`: never change it; start only if `gateway migrate` has run.",
		set: func(c *config, v string) error {
			if v != "auto" && v != "off" {
				return fmt.Errorf("want auto or off")
			}
			c.Migrate = v
			return nil
		}},
	{env: "GATEWAY_CACHE_CHECK", def: "1m", doc: "How often the gateway compares the capacity cache with the record and puts back what the cache lost (a flushed or failed-over Redis); it also does at start. 0 checks only at start (`gateway rebuild-cache` does it on demand).",
		set: durationSetting(func(c *config) *time.Duration { return &c.CacheCheck })},
	{env: "REDIS_URL", def: "", secret: true, doc: "Redis for what is derived or rebuildable: the capacity cache and geo shards, rate limits, the token replay cache (`redis://host:6379/0`, `rediss://…`). Unset: an embedded in-process Redis-compatible store, rebuilt from the record at each start.",
		set: func(c *config, v string) error { c.RedisURL = v; return nil }},
	{env: "REDIS_ADDRS", def: "", doc: "Comma-separated seed nodes of a Redis Cluster, or Sentinel addresses with REDIS_MASTER. Overrides REDIS_URL's host.",
		set: func(c *config, v string) error {
			for _, a := range strings.Split(v, ",") {
				if a = strings.TrimSpace(a); a != "" {
					c.RedisAddrs = append(c.RedisAddrs, a)
				}
			}
			return nil
		}},
	{env: "REDIS_MASTER", def: "", doc: "Sentinel master name; with REDIS_ADDRS naming the Sentinels.",
		set: func(c *config, v string) error { c.RedisMaster = v; return nil }},
	{env: "REDIS_TIMEOUT", def: "2s", doc: "Deadline of each Redis command; also bounds connection dials.",
		set: durationSetting(func(c *config) *time.Duration { return &c.RedisTimeout })},
	{env: "REDIS_WAIT_REPLICAS", def: "0", doc: "Replicas that must hold a capacity cache write before the gateway goes on (Redis `WAIT`). 0: once the master has it. The record is in DATABASE_URL's database; the cache is rebuilt from it, so 0 loses nothing acknowledged.",
		set: intSetting(func(c *config) *int { return &c.RedisWaitReplicas }, 0)},
	{env: "REDIS_WAIT_TIMEOUT", def: "1s", doc: "How long a cache write waits for REDIS_WAIT_REPLICAS.",
		set: durationSetting(func(c *config) *time.Duration { return &c.RedisWaitTimeout })},
	{env: "GATEWAY_BODY_LIMIT", def: "1048576", doc: "Largest request body in bytes; larger gets 413.",
		set: func(c *config, v string) error {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < 1024 {
				return fmt.Errorf("want a whole number of bytes, at least 1024")
			}
			c.BodyLimit = n
			return nil
		}},
	{env: "GATEWAY_MAX_JSON_DEPTH", def: "64", doc: "Deepest JSON nesting accepted; deeper gets 413.",
		set: intSetting(func(c *config) *int { return &c.MaxDepth }, 8)},
	{env: "GATEWAY_MAX_BUNDLE_ENTRIES", def: "1000", doc: "Most entries in one Bundle; more gets 413.",
		set: intSetting(func(c *config) *int { return &c.MaxBundleEntries }, 1)},
	{env: "GATEWAY_REQUEST_TIMEOUT", def: "10s", doc: "Deadline of each request's work; past it the caller gets 503 `timeout`.",
		set: durationSetting(func(c *config) *time.Duration { return &c.RequestTimeout })},
	{env: "GATEWAY_SHUTDOWN_TIMEOUT", def: "20s", doc: "How long SIGTERM waits for requests in flight before exiting.",
		set: durationSetting(func(c *config) *time.Duration { return &c.ShutdownTimeout })},
	{env: "GATEWAY_RETRY_AFTER", def: "5", doc: "Seconds in the Retry-After header of a 503.",
		set: intSetting(func(c *config) *int { return &c.RetryAfterSeconds }, 1)},
	{env: "GATEWAY_BASE_URL", def: "", doc: "Public base URL of the FHIR endpoint (e.g. `https://gw.example.nhs.uk/fhir`), used in fullUrl and Location. Unset: taken from each request's Host.",
		set: func(c *config, v string) error { c.BaseURL = strings.TrimRight(v, "/"); return nil }},
	{env: "GATEWAY_CONCEPTMAPS_DIR", def: "configs/conceptmaps", doc: "Directory of FHIR ConceptMap JSON files that translate trusts' codes.",
		set: func(c *config, v string) error { c.ConceptMapsDir = v; return nil }},
	{env: "GATEWAY_ENV", def: "development", doc: "`production` refuses to start with demo clients, demo signing keys or the embedded SQLite record (it requires DATABASE_URL).",
		set: func(c *config, v string) error { c.Env = v; return nil }},
	{env: "GATEWAY_CLIENTS", def: "", doc: "Client registry file (format: `configs/clients.example.json`). Unset: the DEMO registry in `configs/demo/`, with demo tokens printed at start.",
		set: func(c *config, v string) error { c.ClientsFile = v; return nil }},
	{env: "GATEWAY_SIGNING_KEYS_DIR", def: "", doc: "Directory of P-256 PEM keys that sign access tokens; the file whose name sorts last signs, the others still verify (rotation). Unset: the demo key, allowed only with the demo registry.",
		set: func(c *config, v string) error { c.SigningKeysDir = v; return nil }},
	{env: "GATEWAY_DEMO_DIR", def: "configs/demo", doc: "Where the demo registry and demo keys live.",
		set: func(c *config, v string) error { c.DemoDir = v; return nil }},
	{env: "GATEWAY_DEMO_WORLD", def: defaultDemoWorld, doc: "With neither DATABASE_URL nor REDIS_URL set only: the demo world loaded at start (555 real Greater Manchester care homes with synthetic vacancies, see configs/demo-world). `off` (or `serve --empty`) starts empty.",
		set: func(c *config, v string) error { c.DemoWorld = v; return nil }},
	{env: "GATEWAY_DEMO_WORLD_STORES", def: "embedded", doc: "Where the demo world may load: `embedded` (only with neither DATABASE_URL nor REDIS_URL set) or `any` (also into a real PostgreSQL and Redis, as `deploy/compose.yaml` does for a trial; refused with GATEWAY_ENV=production, whose directory is the operator's).",
		set: func(c *config, v string) error {
			if v != "embedded" && v != "any" {
				return fmt.Errorf("want embedded or any")
			}
			c.DemoWorldStores = v
			return nil
		}},
	{env: "GATEWAY_TOKEN_TTL", def: "5m", doc: "Lifetime of access tokens from /oauth2/token and `gateway token` (with the demo registry, `gateway token` and the tokens printed at start last 24 h).",
		set: durationSetting(func(c *config) *time.Duration { return &c.TokenTTL })},
	{env: "GATEWAY_RATE_LIMIT", def: "1200", doc: "Requests per minute per client; over it, 429 with Retry-After. 0 turns limits off.",
		set: intSetting(func(c *config) *int { return &c.RateLimit }, 0)},
	{env: "GATEWAY_LOG_LEVEL", def: "info", doc: "debug, info, warn or error. Logs are JSON on stderr and never carry patient data.",
		set: func(c *config, v string) error {
			switch v {
			case "debug", "info", "warn", "error":
				c.LogLevel = v
				return nil
			}
			return fmt.Errorf("want debug, info, warn or error")
		}},
	{env: "GATEWAY_OUTCODES_CSV", def: "configs/geo/uk-outcode-centroids.csv", doc: "Postcode-district centroid table used to geocode postcodes (OGL, see configs/geo).",
		set: func(c *config, v string) error { c.OutcodesCSV = v; return nil }},
	{env: "GATEWAY_POSTCODES_CSV", def: "", doc: "Optional full-postcode table (ONS Postcode Directory or Code-Point Open columns: pcds/pcd/postcode, lat, long) for exact positions.",
		set: func(c *config, v string) error { c.PostcodesCSV = v; return nil }},
	{env: "GATEWAY_CAPACITY_STALE_AFTER", def: "24h", doc: "Capacity older than this is shown as stale.",
		set: durationSetting(func(c *config) *time.Duration { return &c.StaleAfter })},
	{env: "GATEWAY_CAPACITY_EXPIRE_AFTER", def: "168h", doc: "Capacity older than this counts as unknown (no vacancy).",
		set: durationSetting(func(c *config) *time.Duration { return &c.ExpireAfter })},
	{env: "REFERRAL_DEADLINE", def: "4h", doc: "How long a provider has to answer an offer (Task) that names no `restriction.period.end`; unanswered past it, the Task becomes `failed` (`expired`).",
		set: positiveDuration(func(c *config) *time.Duration { return &c.Referral.Deadline })},
	{env: "REFERRAL_HOLD_TTL", def: "24h", doc: "How long an accepted offer holds its bed unconfirmed; then the hold lapses, the bed is released and the Task becomes `failed` (`hold-lapsed`).",
		set: positiveDuration(func(c *config) *time.Duration { return &c.Referral.HoldTTL })},
	{env: "REFERRAL_IDENTITY_BEFORE_ACCEPT", def: "false", doc: "`true` shows a provider the full Patient (name, NHS number, address) in the referral pack before it accepts. `false` (data minimisation): the postcode district and age band until it has accepted. Every pack read is audited either way.",
		set: func(c *config, v string) error {
			b, err := strconv.ParseBool(v)
			if err != nil {
				return fmt.Errorf("want true or false")
			}
			c.Referral.IdentityBeforeAccept = b
			return nil
		}},
	{env: "SUBSCRIPTION_ALLOW_HOSTS", def: "", doc: "Comma-separated hosts a Subscription endpoint may reach over plain `http` and at a loopback, private or link-local address (local testing only, e.g. `127.0.0.1,localhost`). Unset: `https` to public addresses only, checked on every connect.",
		set: func(c *config, v string) error {
			c.Subscription.AllowHosts = nil
			for _, h := range strings.Split(v, ",") {
				if h = strings.ToLower(strings.TrimSpace(h)); h != "" {
					c.Subscription.AllowHosts = append(c.Subscription.AllowHosts, h)
				}
			}
			return nil
		}},
	{env: "SUBSCRIPTION_TIMEOUT", def: "10s", doc: "How long one notification POST may take before it counts as failed.",
		set: positiveDuration(func(c *config) *time.Duration { return &c.Subscription.Timeout })},
	{env: "SUBSCRIPTION_MAX_FAILURES", def: "10", doc: "Failed deliveries in a row (retried with exponential backoff and jitter) after which a Subscription goes to `error`.",
		set: intSetting(func(c *config) *int { return &c.Subscription.MaxFailures }, 1)},
	{env: "SUBSCRIPTION_SECRET_KEY", def: "", secret: true, doc: "32 bytes, base64 (`openssl rand -base64 32`): seals each Subscription's signing secret in the record (AES-256-GCM), so a copy of the database cannot forge notifications. Every gateway needs the same key. Unset: secrets are stored in clear (a warning at start); secrets stored before the key was set stay readable.",
		set: func(c *config, v string) error {
			k, err := subscription.ParseSecretKey(v)
			if err != nil {
				return err
			}
			c.Subscription.SecretKey = k
			return nil
		}},
	{env: "SUBSCRIPTION_PER_ENDPOINT", def: "4", doc: "Concurrent deliveries to one endpoint host from one gateway, so a slow receiver holds up nobody else.",
		set: intSetting(func(c *config) *int { return &c.Subscription.PerEndpoint }, 1)},
	{env: "GATEWAY_ESCALATION_OFFER_WAIT", def: "4h", doc: "A case is escalated when no provider accepted this long after its first offer (0 turns the rule off).",
		set: durationSetting(func(c *config) *time.Duration { return &c.EscalationWait })},
	{env: "GATEWAY_ESCALATION_NCTR_DAYS", def: "7", doc: "A case is escalated when it has not met the criteria to reside for more than this many days.",
		set: intSetting(func(c *config) *int { return &c.EscalationNCTR }, 0)},
	{env: "GATEWAY_PLACEMENT_WEIGHTS", def: "distance=0.35,freshness=0.15,contract=0.15,quality=0.2,preference=0.1,acceptance=0.05",
		doc: "Weights of the placement score's components (normalised by their sum).",
		set: func(c *config, v string) error {
			w := discharge.Weights{}
			fields := map[string]*float64{"distance": &w.Distance, "freshness": &w.Freshness, "contract": &w.Contract,
				"quality": &w.Quality, "preference": &w.Preference, "acceptance": &w.Acceptance}
			for _, part := range strings.Split(v, ",") {
				k, val, ok := strings.Cut(strings.TrimSpace(part), "=")
				f, err := strconv.ParseFloat(val, 64)
				dst, known := fields[k]
				if !ok || !known || err != nil {
					return fmt.Errorf("want name=number pairs for distance, freshness, contract, quality, preference, acceptance")
				}
				*dst = f
			}
			if err := w.Validate(); err != nil {
				return err
			}
			c.Weights = w
			return nil
		}},
	{env: "OTEL_EXPORTER_OTLP_ENDPOINT", def: "", doc: "OTLP/HTTP collector (e.g. `http://otel-collector:4318`). Unset: traces and metrics are not exported. The other standard `OTEL_*` variables apply too.",
		set: func(c *config, v string) error { c.OTLPEndpoint = v; return nil }},
	{env: "GATEWAY_METRICS_ADDR", def: "", doc: "Address of a separate listener serving Prometheus metrics at `/metrics` (e.g. `:9464`). Unset: no scrape endpoint.",
		set: func(c *config, v string) error { c.MetricsAddr = v; return nil }},
	{env: "OTEL_SERVICE_NAME", def: "discharge-gateway", doc: "Service name on traces and metrics.",
		set: func(c *config, v string) error { c.ServiceName = v; return nil }},
	{env: "GATEWAY_WEB", def: "on", doc: "The dashboard for people at `/` (docs/dashboard.md): `on` or `off`. With the demo registry it offers a demo sign-in as each demo organisation.",
		set: func(c *config, v string) error {
			if v != "on" && v != "off" {
				return fmt.Errorf("want on or off")
			}
			c.Web.On = v == "on"
			return nil
		}},
	{env: "GATEWAY_WEB_SESSION_TTL", def: "8h", doc: "How long a dashboard sign-in lasts (sessions are in Redis).",
		set: positiveDuration(func(c *config) *time.Duration { return &c.Web.SessionTTL })},
	{env: "GATEWAY_OIDC_ISSUER", def: "", doc: "The dashboard's OpenID Connect provider (NHS CIS2 or a broker), discovered at `<issuer>/.well-known/openid-configuration`; unset: no IdP sign-in.",
		set: func(c *config, v string) error { c.Web.OIDCIssuer = v; return nil }},
	{env: "GATEWAY_OIDC_CLIENT_ID", def: "", doc: "The dashboard's client id at the OIDC provider.",
		set: func(c *config, v string) error { c.Web.OIDCClientID = v; return nil }},
	{env: "GATEWAY_OIDC_CLIENT_SECRET", def: "", secret: true, doc: "The dashboard's client secret at the OIDC provider (the code flow also uses PKCE).",
		set: func(c *config, v string) error { c.Web.OIDCSecret = v; return nil }},
	{env: "GATEWAY_OIDC_REDIRECT_URL", def: "", doc: "This gateway's `/sign-in/callback` URL as registered at the OIDC provider.",
		set: func(c *config, v string) error { c.Web.OIDCRedirectURL = v; return nil }},
	{env: "GATEWAY_OIDC_ORG_CLAIM", def: "org", doc: "The ID token claim naming the person's organisation (ODS code or CQC provider id, as in the client registry).",
		set: func(c *config, v string) error { c.Web.OIDCOrgClaim = v; return nil }},
	{env: "GATEWAY_OIDC_ROLE_CLAIM", def: "role", doc: "The ID token claim naming the person's role: trust, hub or care-provider.",
		set: func(c *config, v string) error { c.Web.OIDCRoleClaim = v; return nil }},
}

// loadConfig reads every setting, applying defaults; all errors are
// reported together.
func loadConfig(getenv func(string) string) (config, error) {
	var c config
	var problems []string
	for _, s := range settingsTable {
		v := getenv(s.env)
		if v == "" {
			v = s.def
		}
		if err := s.set(&c, v); err != nil {
			problems = append(problems, fmt.Sprintf("%s: %v", s.env, err))
		}
	}
	if c.DemoWorldStores == "any" && c.Env == "production" {
		problems = append(problems, "GATEWAY_DEMO_WORLD_STORES: `any` is refused with GATEWAY_ENV=production: synthetic vacancies must never join an operator's directory")
	}
	if len(problems) > 0 {
		return c, fmt.Errorf("configuration: %s", strings.Join(problems, "; "))
	}
	return c, nil
}

// printSettings writes the settings as a Markdown table.
func printSettings(w io.Writer) {
	fmt.Fprintln(w, "| variable | default | meaning |")
	fmt.Fprintln(w, "|---|---|---|")
	for _, s := range settingsTable {
		def := s.def
		if def == "" {
			def = "(unset)"
		}
		fmt.Fprintf(w, "| `%s` | `%s` | %s |\n", s.env, def, s.doc)
	}
}
