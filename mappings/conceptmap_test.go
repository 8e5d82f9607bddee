package mappings_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/mappings"
)

func TestTranslate(t *testing.T) {
	tr := translator(t)
	const rxx = "https://fhir.rxx-trust.example/CodeSystem/local-care-codes"
	for _, tc := range []struct {
		system, code, target string
		want                 string // "" = no usable match
	}{
		{mappings.SNOMEDSystem, "306694006", mappings.CareSettingSystem, "nursing"},
		{mappings.SNOMEDSystem, "52448006", mappings.RequirementSystem, "dementia"},
		{mappings.SNOMEDSystem, "52448006", mappings.CareSettingSystem, ""}, // wrong target
		{mappings.SNOMEDSystem, "169069000", mappings.CareSettingSystem, ""},
		{rxx, "NH-DEM", mappings.CareSettingSystem, "nursing-dementia"},
		{rxx, "DBL-UP", mappings.RequirementSystem, "two-carers"},
		{mappings.HL7DischargeDispositionSystem, "home", mappings.UKCoreDischargeDestinationSystem, "19"},
		{mappings.HL7DischargeDispositionSystem, "exp", mappings.UKCoreDischargeDestinationSystem, ""}, // unmatched
	} {
		t.Run(tc.code, func(t *testing.T) {
			got, ok := tr.Translate(tc.system, tc.code, tc.target)
			if tc.want == "" {
				if ok {
					t.Errorf("got %+v, want no match", got)
				}
				return
			}
			if !ok || got[0].Code != tc.want {
				t.Errorf("got %+v %v, want %s", got, ok, tc.want)
			}
		})
	}
	all := tr.TranslateAll(mappings.HL7DischargeDispositionSystem, "exp", "", "")
	if len(all) != 1 || all[0].Equivalence != "unmatched" || all[0].Maps() || !strings.HasSuffix(all[0].ConceptMapURL, "/discharge-destination") {
		t.Errorf("TranslateAll(exp) = %+v", all)
	}
	if got := tr.TranslateAll(mappings.SNOMEDSystem, "306694006", "", "https://other.example/ConceptMap/x"); len(got) != 0 {
		t.Errorf("url filter ignored: %+v", got)
	}
	var nilTr *mappings.Translator
	if _, ok := nilTr.Translate("a", "b", "c"); ok {
		t.Error("nil translator matched")
	}
}

func TestMapsAndLookup(t *testing.T) {
	tr := translator(t)
	maps := tr.Maps()
	files, err := filepath.Glob(filepath.Join("..", "configs", "conceptmaps", "*.json"))
	if err != nil || len(maps) != len(files) || len(maps) < 7 {
		t.Fatalf("%d maps from %d files (%v)", len(maps), len(files), err)
	}
	for _, b := range maps {
		var cm struct{ URL, Version string }
		if err := json.Unmarshal(b, &cm); err != nil {
			t.Fatal(err)
		}
		got, ok := tr.Lookup(cm.URL + "|" + cm.Version)
		if !ok || string(got) != string(b) {
			t.Errorf("Lookup(%s) did not return the map verbatim", cm.URL)
		}
	}
	if _, ok := tr.Lookup("https://nowhere.example/ConceptMap/x"); ok {
		t.Error("unknown url found")
	}
}

func TestLoadErrorsNameTheFile(t *testing.T) {
	good := `{"resourceType":"ConceptMap","url":"https://x.example/ConceptMap/a","group":[{"source":"s","target":"t","element":[{"code":"c","target":[{"code":"d","equivalence":"equivalent"}]}]}]}`
	for name, body := range map[string]string{
		"bad-json.json":    `{"resourceType":`,
		"no-url.json":      `{"resourceType":"ConceptMap","group":[]}`,
		"not-a-map.json":   `{"resourceType":"ValueSet","url":"u"}`,
		"no-target.json":   `{"resourceType":"ConceptMap","url":"u","group":[{"source":"s"}]}`,
		"bad-equiv.json":   strings.Replace(good, "equivalent", "same-ish", 1),
		"uncommented.json": strings.Replace(good, "equivalent", "inexact", 1),
		"duplicate-2.json": good,
	} {
		t.Run(name, func(t *testing.T) {
			fsys := fstest.MapFS{name: {Data: []byte(body)}}
			if name == "duplicate-2.json" {
				fsys["duplicate-1.json"] = &fstest.MapFile{Data: []byte(good)}
			}
			_, err := mappings.LoadTranslator(fsys)
			if err == nil || !strings.Contains(err.Error(), name) {
				t.Errorf("err = %v, want one naming %s", err, name)
			}
		})
	}
}

func TestCodeSystems(t *testing.T) {
	if len(mappings.CodeSystems()) != len(mappings.CodeSystemNames()) {
		t.Fatal("CodeSystems and CodeSystemNames disagree")
	}
	lists := map[string][]discharge.Concept{
		"care-setting": discharge.CareSettings(), "requirement": discharge.Requirements(),
		"funding": discharge.Fundings(), "discharge-pathway": discharge.Pathways(),
		"bed-type": discharge.BedTypes(), "capacity-population": mappings.CapacityPopulations(),
		"capacity-freshness":         mappings.CapacityFreshnesses(),
		"placement-exclusion-reason": discharge.ExclusionReasons(),
		"offer-reject-reason":        discharge.RejectReasons(),
		"offer-business-status":      mappings.OfferBusinessStatuses(),
		"offer-parameter":            mappings.OfferParameters(),
		"offer-rule":                 mappings.OfferRules(),
		"case-event-kind":            mappings.CaseEventKinds(),
		"case-state":                 mappings.CaseStates(),
		"case-measure":               mappings.CaseMeasures(),
		"delay-reason":               discharge.DelayReasons(),
		"delay-reason-2023":          retiredConcepts(),
		"sitrep":                     mappings.SitrepConcepts(),
		"virtual-ward":               mappings.VirtualWardConcepts(),
		"unmet-demand":               mappings.UnmetConcepts(),
		"forecast":                   mappings.ForecastConcepts(),
	}
	for _, name := range mappings.CodeSystemNames() {
		t.Run(name, func(t *testing.T) {
			var cs struct {
				ResourceType, URL, Status, Content string
				Count                              int
				Concept                            []discharge.Concept
			}
			if err := json.Unmarshal(mappings.CodeSystemJSON(name), &cs); err != nil {
				t.Fatal(err)
			}
			status := "active"
			if name == "delay-reason-2023" {
				status = "retired"
			}
			if cs.ResourceType != "CodeSystem" || cs.URL != mappings.CodeSystemBase+name || cs.Status != status || cs.Content != "complete" {
				t.Errorf("header = %+v", cs)
			}
			if cs.Count != len(lists[name]) || len(cs.Concept) != len(lists[name]) {
				t.Fatalf("count %d, concepts %d, want %d", cs.Count, len(cs.Concept), len(lists[name]))
			}
			for i, c := range cs.Concept {
				if c != lists[name][i] {
					t.Errorf("concept %d = %+v, want %+v", i, c, lists[name][i])
				}
			}
		})
	}
	if mappings.CodeSystemJSON("nope") != nil {
		t.Error("unknown code system rendered")
	}
}

// Every target of the shipped maps into a gateway system is a real gateway code.
func TestShippedMapTargetsAreGatewayCodes(t *testing.T) {
	tr := translator(t)
	valid := map[string]func(string) bool{
		mappings.CareSettingSystem: func(s string) bool { return discharge.CareSetting(s).Valid() },
		mappings.RequirementSystem: func(s string) bool { return discharge.Requirement(s).Valid() },
		mappings.FundingSystem:     func(s string) bool { return discharge.Funding(s).Valid() },
		mappings.DelayReasonSystem: discharge.ValidDelayReason,
	}
	for _, b := range tr.Maps() {
		var cm struct {
			Group []struct {
				Target  string
				Element []struct {
					Target []struct{ Code, Equivalence string }
				}
			}
		}
		if err := json.Unmarshal(b, &cm); err != nil {
			t.Fatal(err)
		}
		for _, g := range cm.Group {
			ok := valid[g.Target]
			if ok == nil {
				continue
			}
			for _, e := range g.Element {
				for _, tg := range e.Target {
					if tg.Equivalence != "unmatched" && !ok(tg.Code) {
						t.Errorf("%s: %q is not a gateway code", g.Target, tg.Code)
					}
				}
			}
		}
	}
}

func retiredConcepts() []discharge.Concept {
	var out []discharge.Concept
	for _, r := range discharge.RetiredDelayReasons() {
		out = append(out, r.Concept)
	}
	return out
}

// The published map of retired delay reasons is the table intake applies:
// every retired code, to the code that replaces it, equivalent exactly
// when the table says so, and nothing else.
func TestRetiredDelayReasonMapIsTheTable(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "configs", "conceptmaps", "delay-reason-2023-to-2024.json"))
	if err != nil {
		t.Fatal(err)
	}
	var cm struct {
		Group []struct {
			Source, Target string
			Element        []struct {
				Code   string
				Target []struct{ Code, Equivalence string }
			}
		}
	}
	if err := json.Unmarshal(b, &cm); err != nil {
		t.Fatal(err)
	}
	if len(cm.Group) != 1 || cm.Group[0].Source != mappings.RetiredDelayReasonSystem || cm.Group[0].Target != mappings.DelayReasonSystem {
		t.Fatalf("groups %+v", cm.Group)
	}
	table := discharge.RetiredDelayReasons()
	if len(cm.Group[0].Element) != len(table) {
		t.Fatalf("%d elements, the table has %d", len(cm.Group[0].Element), len(table))
	}
	for i, e := range cm.Group[0].Element {
		r := table[i]
		want := "inexact"
		if r.Exact {
			want = "equivalent"
		}
		if e.Code != r.Code || len(e.Target) != 1 || e.Target[0].Code != r.ReplacedBy || e.Target[0].Equivalence != want {
			t.Errorf("element %d = %+v, table %s -> %s", i, e, r.Code, r.ReplacedBy)
		}
	}
}
