package gateway_test

import (
	"encoding/json"
	"net/http"
	"sort"
	"strings"
	"testing"

	"github.com/dischargegateway/gateway/gateway"
)

// TestOpenAPIListsEveryJSONRoute compares the OpenAPI paths and methods with
// the routes echo serves under /api/v1.
func TestOpenAPIListsEveryJSONRoute(t *testing.T) {
	e := newEnv(t)
	r := e.do("GET", "/api/v1/openapi.json", nil, "Authorization", "").mustStatus(t, http.StatusOK)
	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(r.body, &doc); err != nil || !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Fatalf("%v %s", err, doc.OpenAPI)
	}
	var documented, served []string
	for path, ops := range doc.Paths {
		for m := range ops {
			if m != "parameters" {
				documented = append(documented, strings.ToUpper(m)+" "+path)
			}
		}
	}
	g := gateway.New(gateway.DefaultConfig(), gateway.Deps{})
	for _, rt := range g.Echo().Routes() {
		if strings.HasPrefix(rt.Path, "/api/v1/") {
			p := rt.Path
			for _, seg := range strings.Split(p, "/") {
				if strings.HasPrefix(seg, ":") {
					p = strings.Replace(p, seg, "{"+seg[1:]+"}", 1)
				}
			}
			served = append(served, rt.Method+" "+p)
		}
	}
	sort.Strings(documented)
	sort.Strings(served)
	if strings.Join(documented, "\n") != strings.Join(served, "\n") {
		t.Fatalf("OpenAPI and routes differ:\ndocumented:\n%s\nserved:\n%s", strings.Join(documented, "\n"), strings.Join(served, "\n"))
	}
}
