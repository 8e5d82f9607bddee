package mappings_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/fhir"
	"github.com/dischargegateway/gateway/mappings"
)

// The FHIRPath invariants below are not in the HL7 JSON Schema the gateway
// validates with, so these tests state them for the conformance resources
// the gateway publishes. scripts/validate-outputs.sh checks every invariant
// with an independent validator; these catch the known ones in go test.

// TestShippedMapsCommentLooseTargets checks R4 invariant cmd-1 on every
// shipped ConceptMap: "If the map is narrower or inexact, there SHALL be some
// comments" (comment.exists() or equivalence.empty() or (equivalence !=
// 'narrower' and equivalence != 'inexact')).
func TestShippedMapsCommentLooseTargets(t *testing.T) {
	for _, b := range translator(t).Maps() {
		var cm struct {
			URL   string
			Group []struct {
				Element []struct {
					Code   string
					Target []struct{ Code, Equivalence, Comment string }
				}
			}
		}
		if err := json.Unmarshal(b, &cm); err != nil {
			t.Fatal(err)
		}
		t.Run(cm.URL, func(t *testing.T) {
			for gi, g := range cm.Group {
				for ei, e := range g.Element {
					for ti, tg := range e.Target {
						if (tg.Equivalence == "narrower" || tg.Equivalence == "inexact") && tg.Comment == "" {
							t.Errorf("group[%d].element[%d].target[%d] (%s -> %s, %s): cmd-1 needs a comment",
								gi, ei, ti, e.Code, tg.Code, tg.Equivalence)
						}
					}
				}
			}
		})
	}
}

// expressionLanguages are the R4 ExpressionLanguage codes, the only ones
// HL7's R4 JSON Schema accepts in Expression.language.
var expressionLanguages = map[string]bool{"text/cql": true, "text/fhirpath": true, "application/x-fhir-query": true}

// TestCapacityMeasurePopulationCriteria checks that every population of the
// published Measure has its required criteria (Measure.group.population
// .criteria 1..1), an Expression with its required language and, by
// invariant exp-1, an expression or a reference.
func TestCapacityMeasurePopulationCriteria(t *testing.T) {
	var m struct {
		Group []struct {
			Population []struct {
				Criteria *struct{ Language, Expression, Reference string }
			}
		}
	}
	if err := json.Unmarshal(mappings.CapacityMeasure(), &m); err != nil {
		t.Fatal(err)
	}
	if _, err := fhir.Validate(mappings.CapacityMeasure(), "Measure", fhir.DefaultLimits); err != nil {
		t.Errorf("the Measure fails the R4 JSON Schema: %v", err)
	}
	if len(m.Group) == 0 {
		t.Fatal("Measure without groups")
	}
	for gi, g := range m.Group {
		for pi, p := range g.Population {
			switch c := p.Criteria; {
			case c == nil:
				t.Errorf("group[%d].population[%d].criteria is missing", gi, pi)
			case !expressionLanguages[c.Language]:
				t.Errorf("group[%d].population[%d].criteria.language %q is not an R4 ExpressionLanguage code", gi, pi, c.Language)
			case c.Expression == "" && c.Reference == "":
				t.Errorf("group[%d].population[%d].criteria breaks exp-1: no expression or reference", gi, pi)
			}
		}
	}
}

// TestGatewaySystemsArePublished checks that every code system under the
// gateway's own base that a rendered resource names is published at
// /fhir/CodeSystem, so a validator or client can resolve its codes.
func TestGatewaySystemsArePublished(t *testing.T) {
	published := map[string]bool{}
	for _, b := range mappings.CodeSystems() {
		var cs struct{ URL string }
		if err := json.Unmarshal(b, &cs); err != nil {
			t.Fatal(err)
		}
		published[cs.URL] = true
	}
	rendered := map[string][]byte{
		"Measure": mappings.CapacityMeasure(),
		"MeasureReport": mappings.CapacityToMeasureReport(discharge.Capacity{LocationID: "l1", Version: 1,
			Beds: []discharge.BedCapacity{{Type: "nursing", MaxCapacity: 2, Occupied: 1, AcceptingAdmissions: 1}}}, discharge.Fresh),
	}
	for name, b := range rendered {
		t.Run(name, func(t *testing.T) {
			var v any
			if err := json.Unmarshal(b, &v); err != nil {
				t.Fatal(err)
			}
			for _, sys := range systems(v) {
				if strings.HasPrefix(sys, mappings.CodeSystemBase) && !published[sys] {
					t.Errorf("%s names %s, which is not published", name, sys)
				}
			}
		})
	}
}

// systems returns every "system" string in a JSON value.
func systems(v any) []string {
	var out []string
	switch x := v.(type) {
	case map[string]any:
		if s, ok := x["system"].(string); ok {
			out = append(out, s)
		}
		for _, e := range x {
			out = append(out, systems(e)...)
		}
	case []any:
		for _, e := range x {
			out = append(out, systems(e)...)
		}
	}
	return out
}
