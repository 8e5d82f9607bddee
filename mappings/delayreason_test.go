package mappings_test

import (
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/mappings"
)

const rxxDTOC = "https://fhir.rxx-trust.example/CodeSystem/dtoc-delay-reason"

// withDelayReason is the inpatient Encounter fixture with its delay-reason
// extension's codings replaced, and the extension's index.
func withDelayReason(t *testing.T, codings ...any) (map[string]any, int) {
	t.Helper()
	var doc map[string]any
	if err := json.Unmarshal(read(t, "encounter-inpatient.json"), &doc); err != nil {
		t.Fatal(err)
	}
	for i, x := range doc["extension"].([]any) {
		if ext := x.(map[string]any); ext["url"] == mappings.DelayReasonURL {
			ext["valueCodeableConcept"] = map[string]any{"coding": codings}
			return doc, i
		}
	}
	t.Fatal("the fixture has no delay-reason extension")
	return nil, 0
}

func coding(system, code string) map[string]any {
	return map[string]any{"system": system, "code": code}
}

// A delay reason arrives as the sitrep code or as a local code the
// shipped ConceptMap translates; a code that is neither is refused at the
// extension; a reason with no code at all is ignored with a warning.
func TestDelayReasonAtIntake(t *testing.T) {
	tr := translator(t)
	for _, c := range []struct {
		name    string
		codings []any
		want    string // the case's reason; "" when refused or ignored
		refused bool
	}{
		{"sitrep code", []any{coding(mappings.DelayReasonSystem, "transport")}, "transport", false},
		{"local DTOC code C", []any{coding(rxxDTOC, "C")}, "capacity-rehab-bed", false},
		{"local DTOC code Dii", []any{coding(rxxDTOC, "Dii")}, "capacity-care-home", false},
		{"the sitrep coding wins over a local one", []any{coding(rxxDTOC, "C"), coding(mappings.DelayReasonSystem, "transport")}, "transport", false},
		{"unknown local code", []any{coding(rxxDTOC, "Z")}, "", true},
		{"local code of an unmapped system", []any{coding("https://example.org/other", "C")}, "", true},
		{"not a sitrep reason", []any{coding(mappings.DelayReasonSystem, "awaiting-godot")}, "", true},
		{"a retired code, in the sitrep system as the first list sent it", []any{coding(mappings.DelayReasonSystem, "medicines-tta")}, "medicines-documentation", false},
		{"a retired code in its own system", []any{coding(mappings.RetiredDelayReasonSystem, "chc-assessment")}, "funding-eligibility", false},
		{"a current code wins over a retired one", []any{coding(mappings.DelayReasonSystem, "no-plan"), coding(mappings.DelayReasonSystem, "transport")}, "transport", false},
		{"a current code is not retired in the retired system", []any{coding(mappings.RetiredDelayReasonSystem, "transport")}, "", true},
		{"no code", []any{map[string]any{"system": rxxDTOC}}, "", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			doc, i := withDelayReason(t, c.codings...)
			raw, _ := json.Marshal(doc)
			cs, is, err := mappings.EncounterToCase(raw, read(t, "patient.json"), mappings.Options{Translator: tr, AsOf: asOf})
			at := "Encounter.extension[" + strconv.Itoa(i) + "].valueCodeableConcept"
			if c.refused {
				var de *discharge.Error
				if !errors.As(err, &de) || de.Kind != discharge.KindCodeInvalid || len(de.Issues) != 1 || de.Issues[0].Expression != at {
					t.Fatalf("want code-invalid at %s, got %v", at, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := strings.Join(cs.DelayReasons, ",")
			if got != c.want {
				t.Fatalf("reasons %q, want %q", got, c.want)
			}
			if c.want == "" && !hasIssue(is, discharge.KindRequired, at) {
				t.Fatalf("no warning at %s: %+v", at, is)
			}
		})
	}
}

// The stored document gets the sitrep coding beside a translated local
// one, so the index counts it; nothing is added when the sitrep coding is
// there or nothing translates.
func TestAddDelayReasonTranslations(t *testing.T) {
	tr := translator(t)
	doc, i := withDelayReason(t, coding(rxxDTOC, "F"))
	if n := mappings.AddDelayReasonTranslations(doc, tr); n != 1 {
		t.Fatalf("added %d", n)
	}
	cds := doc["extension"].([]any)[i].(map[string]any)["valueCodeableConcept"].(map[string]any)["coding"].([]any)
	if len(cds) != 2 || cds[0].(map[string]any)["code"] != "F" || cds[1].(map[string]any)["system"] != mappings.DelayReasonSystem ||
		cds[1].(map[string]any)["code"] != "capacity-equipment" || cds[1].(map[string]any)["display"] == "" {
		t.Fatalf("codings %v", cds)
	}
	// Again: the sitrep coding is there now.
	if n := mappings.AddDelayReasonTranslations(doc, tr); n != 0 {
		t.Fatalf("added %d the second time", n)
	}
	for _, cds := range [][]any{{coding(mappings.DelayReasonSystem, "transport")}, {coding(rxxDTOC, "Z")}} {
		doc, _ := withDelayReason(t, cds...)
		if n := mappings.AddDelayReasonTranslations(doc, tr); n != 0 {
			t.Fatalf("added %d to %v", n, cds)
		}
	}
}

// A retired code sent in the sitrep system is filed under the retired
// list's system and the current reason added beside it, so that the
// extension holds exactly one coding in the sitrep system (the index and
// the sitrep's counters read it); once done, nothing more is added.
func TestRetiredDelayReasonAtIntake(t *testing.T) {
	tr := translator(t)
	for _, r := range discharge.RetiredDelayReasons() {
		for _, sys := range []string{mappings.DelayReasonSystem, mappings.RetiredDelayReasonSystem} {
			doc, i := withDelayReason(t, coding(sys, r.Code))
			if n := mappings.AddDelayReasonTranslations(doc, tr); n != 1 {
				t.Fatalf("%s|%s: added %d", sys, r.Code, n)
			}
			cds := doc["extension"].([]any)[i].(map[string]any)["valueCodeableConcept"].(map[string]any)["coding"].([]any)
			if len(cds) != 2 {
				t.Fatalf("%s|%s: codings %v", sys, r.Code, cds)
			}
			first, second := cds[0].(map[string]any), cds[1].(map[string]any)
			if first["system"] != mappings.RetiredDelayReasonSystem || first["code"] != r.Code {
				t.Errorf("%s|%s: the sent coding became %v", sys, r.Code, first)
			}
			if second["system"] != mappings.DelayReasonSystem || second["code"] != r.ReplacedBy || second["display"] == "" {
				t.Errorf("%s|%s: added %v, want %s", sys, r.Code, second, r.ReplacedBy)
			}
			if n := mappings.AddDelayReasonTranslations(doc, tr); n != 0 {
				t.Errorf("%s|%s: added %d the second time", sys, r.Code, n)
			}
			// The mapping reads the same reason from the stored document.
			raw, _ := json.Marshal(doc)
			cs, _, err := mappings.EncounterToCase(raw, read(t, "patient.json"), mappings.Options{Translator: tr})
			if err != nil || strings.Join(cs.DelayReasons, ",") != r.ReplacedBy {
				t.Errorf("%s|%s: case reasons %v (%v), want %s", sys, r.Code, cs, err, r.ReplacedBy)
			}
		}
	}
}
