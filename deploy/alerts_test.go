package deploy

import (
	"strings"
	"testing"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql/parser"
)

// TestAlertRules checks deploy/alerts.yaml the way `promtool check rules`
// does (it is the same code: rulefmt parses the groups strictly and
// validates every rule, PromQL expressions included), from a pinned Go
// module instead of the distribution's Prometheus package, so the test
// command installs nothing for it. Every alert must also link its runbook
// section.
func TestAlertRules(t *testing.T) {
	groups, errs := rulefmt.ParseFile("alerts.yaml", false, model.UTF8Validation, parser.NewParser(parser.Options{}), nil)
	for _, err := range errs {
		t.Error(err)
	}
	if groups == nil {
		t.Fatal("no rule groups parsed")
	}
	alerts := 0
	for _, g := range groups.Groups {
		for _, r := range g.Rules {
			if r.Alert == "" {
				continue
			}
			alerts++
			if !strings.HasPrefix(r.Annotations["runbook"], "deploy/README.md#") {
				t.Errorf("alert %s: runbook annotation %q does not point at a runbook section", r.Alert, r.Annotations["runbook"])
			}
		}
	}
	if alerts == 0 {
		t.Fatal("alerts.yaml holds no alerts")
	}
}

// TestAlertRulesCanary proves the parser rejects a broken expression, so
// TestAlertRules cannot pass vacuously.
func TestAlertRulesCanary(t *testing.T) {
	bad := []byte("groups:\n- name: g\n  rules:\n  - alert: A\n    expr: rate(x[5m]) >\n")
	if _, errs := rulefmt.Parse(bad, false, model.UTF8Validation, parser.NewParser(parser.Options{}), nil); len(errs) == 0 {
		t.Fatal("a broken PromQL expression parsed without error")
	}
	unknown := []byte("groups:\n- name: g\n  rules:\n  - alert: A\n    expresion: up == 0\n")
	if _, errs := rulefmt.Parse(unknown, false, model.UTF8Validation, parser.NewParser(parser.Options{}), nil); len(errs) == 0 {
		t.Fatal("a misspelt rule field parsed without error")
	}
}
