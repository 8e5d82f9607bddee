package mappings

import (
	"github.com/dischargegateway/gateway/discharge"
	r4 "github.com/samply/golang-fhir-models/fhir-models/fhir"
)

// Delay reasons in a trust's local codes (docs/sitrep.md, "Delay
// reasons"): a delay-reason extension's valueCodeableConcept may carry the
// sitrep code (DelayReasonSystem) or a local code that a loaded ConceptMap
// (configs/conceptmaps, e.g. example-trust-rxx-dtoc-delay-reasons.json)
// translates to one. Anything else is refused at intake (code-invalid at
// the extension's valueCodeableConcept), so that no reason the sitrep
// cannot count is stored as if it were one.

// delayReason resolves a delay-reason extension's value to a sitrep delay
// reason: its coding in DelayReasonSystem when that is a known reason,
// else the translation of its first translatable coding.
func delayReason(cc *r4.CodeableConcept, tr *Translator) (string, bool) {
	return resolve(cc, DelayReasonSystem, discharge.ValidDelayReason, tr)
}

// AddDelayReasonTranslations adds, to each delay-reason extension of an
// Encounter document whose codings do not include the sitrep's system, the
// sitrep coding its local code translates to (system, code and display of
// the ConceptMap's target), after the codings sent: a FHIR translation,
// the sent coding kept as it was. The search index and the sitrep's
// counters read the stored document, so they count the translated reason.
// It reports how many codings it added. The mapping (EncounterToCase) has
// already refused a reason that translates to nothing; such an extension
// is left as it is.
func AddDelayReasonTranslations(doc map[string]any, tr *Translator) int {
	exts, _ := doc["extension"].([]any)
	added := 0
	for _, x := range exts {
		ext, ok := x.(map[string]any)
		if !ok || ext["url"] != DelayReasonURL {
			continue
		}
		cc, ok := ext["valueCodeableConcept"].(map[string]any)
		if !ok {
			continue
		}
		codings, _ := cc["coding"].([]any)
		var add map[string]any
		for _, c := range codings {
			cd, _ := c.(map[string]any)
			sys, _ := cd["system"].(string)
			code, _ := cd["code"].(string)
			if sys == DelayReasonSystem {
				add = nil
				break
			}
			if add != nil || sys == "" || code == "" {
				continue
			}
			if ts, ok := tr.Translate(sys, code, DelayReasonSystem); ok && discharge.ValidDelayReason(ts[0].Code) {
				add = map[string]any{"system": DelayReasonSystem, "code": ts[0].Code}
				if ts[0].Display != "" {
					add["display"] = ts[0].Display
				}
			}
		}
		if add != nil {
			cc["coding"] = append(codings, add)
			added++
		}
	}
	return added
}
