package gateway_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/dischargegateway/gateway/gateway"
)

// TestPostmanCoversEveryEndpoint fails when a route the gateway serves (and
// so every interaction, operation and JSON path the CapabilityStatement and
// the OpenAPI file list) has no request in the Postman collection.
func TestPostmanCoversEveryEndpoint(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "postman", "discharge-gateway.postman_collection.json"))
	if err != nil {
		t.Fatal(err)
	}
	var coll struct {
		Item []struct {
			Item []struct {
				Name    string
				Request struct {
					Method string
					URL    string `json:"url"`
				}
				Event []struct {
					Listen string
					Script struct{ Exec []string }
				}
			}
		}
	}
	if err := json.Unmarshal(raw, &coll); err != nil {
		t.Fatal(err)
	}
	vars := regexp.MustCompile(`\{\{[^}]+\}\}`)
	var calls []string
	for _, f := range coll.Item {
		for _, it := range f.Item {
			hasTest := false
			for _, ev := range it.Event {
				if ev.Listen == "test" && strings.Contains(strings.Join(ev.Script.Exec, "\n"), "pm.test(") {
					hasTest = true
				}
			}
			if !hasTest {
				t.Errorf("request %q has no pm.test assertion", it.Name)
			}
			u := strings.TrimPrefix(it.Request.URL, "{{baseUrl}}")
			u, _, _ = strings.Cut(u, "?")
			// {{encounterRef}} stands for Encounter/id, and so on.
			for v, typ := range refVars {
				u = strings.ReplaceAll(u, "{{"+v+"}}", typ+"/x")
			}
			calls = append(calls, it.Request.Method+" "+vars.ReplaceAllString(u, "x"))
		}
	}
	g := gateway.New(gateway.DefaultConfig(), gateway.Deps{})
	var missing []string
	for _, rt := range g.Echo().Routes() {
		if rt.Method == "echo_route_not_found" {
			continue
		}
		pat := "^" + rt.Method + " " + regexp.MustCompile(`:[a-zA-Z]+`).ReplaceAllString(regexp.QuoteMeta(rt.Path), `[^/]+`) + "$"
		re := regexp.MustCompile(pat)
		found := false
		for _, c := range calls {
			// A Ref placeholder matches any resource type.
			if re.MatchString(c) {
				found = true
				break
			}
		}
		if !found {
			missing = append(missing, rt.Method+" "+rt.Path)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Fatalf("%d endpoints have no request in the Postman collection:\n%s", len(missing), strings.Join(missing, "\n"))
	}
}

// refVars are the collection's reference variables and the type each holds.
var refVars = map[string]string{"patientRef": "Patient", "encounterRef": "Encounter", "serviceRequestRef": "ServiceRequest",
	"locationRef": "Location", "serviceRef": "HealthcareService", "organizationRef": "Organization"}
