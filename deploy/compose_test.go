package deploy

import (
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// The parts of the Compose specification compose.yaml uses. Decoding is
// strict, so a field outside them (a typo such as depends_om, or a key
// Compose does not know) fails the test, as `docker compose config -q`
// would; where Docker is installed scripts/deploy-check.sh runs that too.
type composeFile struct {
	Name     string                    `json:"name"`
	Services map[string]composeService `json:"services"`
	Volumes  map[string]struct{}       `json:"volumes"`
	Configs  map[string]struct {
		Content string `json:"content"`
	} `json:"configs"`
}

type composeService struct {
	Image string `json:"image"`
	Build *struct {
		Context    string `json:"context"`
		Dockerfile string `json:"dockerfile"`
	} `json:"build"`
	Command     []string          `json:"command"`
	Environment map[string]string `json:"environment"`
	Volumes     []string          `json:"volumes"`
	Ports       []string          `json:"ports"`
	Configs     []struct {
		Source string `json:"source"`
		Target string `json:"target"`
	} `json:"configs"`
	DependsOn map[string]struct {
		Condition string `json:"condition"`
	} `json:"depends_on"`
	Healthcheck *struct {
		Test     []string `json:"test"`
		Interval string   `json:"interval"`
		Timeout  string   `json:"timeout"`
		Retries  int      `json:"retries"`
	} `json:"healthcheck"`
	Restart string `json:"restart"`
}

func loadCompose(t *testing.T, raw []byte) (composeFile, error) {
	t.Helper()
	var c composeFile
	err := yaml.UnmarshalStrict(raw, &c)
	return c, err
}

// interpolation matches Compose's ${VAR}, ${VAR:-default}, ${VAR:?error}.
var interpolation = regexp.MustCompile(`\$\{([A-Z_][A-Z0-9_]*)(:?[-?][^}]*)?\}`)

// pinned is an image reference with a version tag: not latest, not bare.
var pinned = regexp.MustCompile(`^[a-z0-9./_-]+:[A-Za-z0-9._-]+$`)

func TestCompose(t *testing.T) {
	raw, err := os.ReadFile("compose.yaml")
	if err != nil {
		t.Fatal(err)
	}
	c, err := loadCompose(t, raw)
	if err != nil {
		t.Fatalf("compose.yaml: %v", err)
	}

	// The canary: strict decoding must refuse an unknown key, or a green
	// run would mean nothing.
	if _, err := loadCompose(t, []byte(strings.Replace(string(raw), "depends_on:", "depends_om:", 1))); err == nil {
		t.Fatal("strict decoding accepted depends_om")
	}

	for _, want := range []string{"gateway", "redis", "postgres", "otel-collector", "prometheus"} {
		if _, ok := c.Services[want]; !ok {
			t.Errorf("no %s service", want)
		}
	}
	hostPorts := map[string]string{}
	for name, s := range c.Services {
		t.Run(name, func(t *testing.T) {
			switch {
			case s.Build != nil:
				if _, err := os.Stat(filepath.Join(s.Build.Context, s.Build.Dockerfile)); err != nil {
					t.Errorf("build: %v", err)
				}
			case s.Image == "":
				t.Error("neither image nor build")
			case !pinned.MatchString(s.Image) || strings.HasSuffix(s.Image, ":latest"):
				t.Errorf("image %q is not pinned to a version tag", s.Image)
			}
			for dep, d := range s.DependsOn {
				target, ok := c.Services[dep]
				if !ok {
					t.Errorf("depends_on %s: no such service", dep)
					continue
				}
				switch d.Condition {
				case "service_started", "service_completed_successfully":
				case "service_healthy":
					if target.Healthcheck == nil {
						t.Errorf("depends_on %s: service_healthy, but %s has no healthcheck", dep, dep)
					}
				default:
					t.Errorf("depends_on %s: condition %q", dep, d.Condition)
				}
			}
			for _, p := range s.Ports {
				// host_ip:host:container; published on loopback only.
				parts := strings.Split(p, ":")
				if len(parts) != 3 || net.ParseIP(parts[0]) == nil || !net.ParseIP(parts[0]).IsLoopback() {
					t.Errorf("port %q: want 127.0.0.1:HOST:CONTAINER", p)
					continue
				}
				if other, dup := hostPorts[parts[1]]; dup {
					t.Errorf("host port %s also published by %s", parts[1], other)
				}
				hostPorts[parts[1]] = name
			}
			for _, v := range s.Volumes {
				src, _, _ := strings.Cut(v, ":")
				if strings.HasPrefix(src, ".") || strings.HasPrefix(src, "/") {
					if _, err := os.Stat(src); err != nil {
						t.Errorf("bind mount %s: %v", src, err)
					}
				} else if _, ok := c.Volumes[src]; !ok {
					t.Errorf("volume %s is not declared", src)
				}
			}
			for _, cf := range s.Configs {
				if _, ok := c.Configs[cf.Source]; !ok || cf.Target == "" {
					t.Errorf("config %s is not declared or has no target", cf.Source)
				}
			}
			// Every host an environment URL names is a service here, and
			// every variable it interpolates is one Compose will demand.
			for k, v := range s.Environment {
				for _, m := range interpolation.FindAllStringSubmatch(v, -1) {
					if !strings.HasPrefix(m[2], ":?") && !strings.HasPrefix(m[2], ":-") {
						t.Errorf("%s interpolates ${%s} with neither a default nor an error", k, m[1])
					}
				}
				u, err := url.Parse(interpolation.ReplaceAllString(v, "x"))
				if err != nil || u.Host == "" {
					continue
				}
				if h := u.Hostname(); h != "localhost" && c.Services[h].Image == "" && c.Services[h].Build == nil {
					t.Errorf("%s names host %s, which is not a service", k, h)
				}
			}
		})
	}

	gw := c.Services["gateway"]
	t.Run("gateway settings", func(t *testing.T) {
		readme, err := os.ReadFile(filepath.Join("..", "README.md"))
		if err != nil {
			t.Fatal(err)
		}
		for k := range gw.Environment {
			// Every variable must be a documented setting.
			if !strings.Contains(string(readme), "| `"+k+"` |") {
				t.Errorf("%s is not a gateway setting (README, Settings)", k)
			}
		}
		for _, k := range []string{"REDIS_URL", "DATABASE_URL", "GATEWAY_METRICS_ADDR", "OTEL_EXPORTER_OTLP_ENDPOINT"} {
			if gw.Environment[k] == "" {
				t.Errorf("%s is not set", k)
			}
		}
		if u, _ := url.Parse(interpolation.ReplaceAllString(gw.Environment["DATABASE_URL"], "x")); u == nil || u.Hostname() != "postgres" {
			t.Errorf("DATABASE_URL does not name the postgres service")
		}
		if u, _ := url.Parse(gw.Environment["REDIS_URL"]); u == nil || u.Hostname() != "redis" {
			t.Errorf("REDIS_URL does not name the redis service")
		}
	})

	t.Run("versions and durability", func(t *testing.T) {
		if img := c.Services["postgres"].Image; !strings.HasPrefix(img, "postgres:15.") {
			t.Errorf("postgres image %s, want PostgreSQL 15", img)
		}
		r := c.Services["redis"]
		if !strings.HasPrefix(r.Image, "redis:7.") {
			t.Errorf("redis image %s, want Redis 7", r.Image)
		}
		cmd := strings.Join(r.Command, " ")
		if !strings.Contains(cmd, "--appendonly yes") || !strings.Contains(cmd, "--appendfsync always") {
			t.Errorf("redis command %q: want AOF with appendfsync always", cmd)
		}
	})

	t.Run("prometheus scrapes the gateway's metrics port", func(t *testing.T) {
		var prom struct {
			Global struct {
				ScrapeInterval string `json:"scrape_interval"`
			} `json:"global"`
			ScrapeConfigs []struct {
				JobName       string `json:"job_name"`
				StaticConfigs []struct {
					Targets []string `json:"targets"`
				} `json:"static_configs"`
			} `json:"scrape_configs"`
		}
		if err := yaml.UnmarshalStrict([]byte(c.Configs["prometheus"].Content), &prom); err != nil {
			t.Fatalf("prometheus config: %v", err)
		}
		_, port, _ := net.SplitHostPort(gw.Environment["GATEWAY_METRICS_ADDR"])
		var targets []string
		for _, sc := range prom.ScrapeConfigs {
			for _, st := range sc.StaticConfigs {
				targets = append(targets, st.Targets...)
			}
		}
		if !slices.Contains(targets, "gateway:"+port) {
			t.Errorf("scrape targets %v lack gateway:%s (GATEWAY_METRICS_ADDR)", targets, port)
		}
	})

	t.Run("collector pipelines", func(t *testing.T) {
		var col struct {
			Receivers  map[string]any `json:"receivers"`
			Processors map[string]any `json:"processors"`
			Exporters  map[string]any `json:"exporters"`
			Service    struct {
				Pipelines map[string]struct {
					Receivers  []string `json:"receivers"`
					Processors []string `json:"processors"`
					Exporters  []string `json:"exporters"`
				} `json:"pipelines"`
			} `json:"service"`
		}
		if err := yaml.UnmarshalStrict([]byte(c.Configs["otel-collector"].Content), &col); err != nil {
			t.Fatalf("collector config: %v", err)
		}
		for name, p := range col.Service.Pipelines {
			for _, ref := range []struct {
				names   []string
				defined map[string]any
			}{{p.Receivers, col.Receivers}, {p.Processors, col.Processors}, {p.Exporters, col.Exporters}} {
				for _, n := range ref.names {
					if _, ok := ref.defined[n]; !ok {
						t.Errorf("pipeline %s names %s, which is not defined", name, n)
					}
				}
			}
			if len(p.Processors) == 0 || p.Processors[0] != "memory_limiter" {
				t.Errorf("pipeline %s does not limit memory first", name)
			}
		}
		u, err := url.Parse(gw.Environment["OTEL_EXPORTER_OTLP_ENDPOINT"])
		if err != nil || u.Hostname() != "otel-collector" || u.Port() != "4318" {
			t.Errorf("OTEL_EXPORTER_OTLP_ENDPOINT %q is not the collector's OTLP/HTTP port", gw.Environment["OTEL_EXPORTER_OTLP_ENDPOINT"])
		}
	})
}
