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

// Codes retired from the sitrep list (discharge.RetiredDelayReasons: the
// gateway's first list, replaced by the 2024 one) are still accepted, in
// DelayReasonSystem as a client of the first list sends them or in
// RetiredDelayReasonSystem, and stand for the current reason that
// replaces them. The stored Encounter files such a code under
// RetiredDelayReasonSystem and carries the current one beside it
// (AddDelayReasonTranslations), so that every count sees the current list.

// delayReason resolves a delay-reason extension's value to a sitrep delay
// reason: its coding in DelayReasonSystem when that is a current reason,
// else the reason that replaces a retired code, else the translation of
// its first translatable coding.
func delayReason(cc *r4.CodeableConcept, tr *Translator) (string, bool) {
	if cc != nil {
		for _, cd := range cc.Coding {
			if str(cd.System) == DelayReasonSystem && discharge.ValidDelayReason(str(cd.Code)) {
				return *cd.Code, true
			}
		}
		for _, cd := range cc.Coding {
			if cur, ok := retiredReplacement(str(cd.System), str(cd.Code)); ok {
				return cur, true
			}
		}
	}
	return resolve(cc, DelayReasonSystem, discharge.ValidDelayReason, tr)
}

// retiredReplacement returns the current reason replacing a retired code
// sent in DelayReasonSystem or RetiredDelayReasonSystem.
func retiredReplacement(system, code string) (string, bool) {
	if system != DelayReasonSystem && system != RetiredDelayReasonSystem {
		return "", false
	}
	cur := discharge.CurrentDelayReason(code)
	return cur, cur != code
}

// delayReasonCoding is the coding of a current sitrep delay reason.
func delayReasonCoding(code string) map[string]any {
	c := map[string]any{"system": DelayReasonSystem, "code": code}
	for _, r := range discharge.DelayReasons() {
		if r.Code == code {
			c["display"] = r.Display
		}
	}
	return c
}

// AddDelayReasonTranslations adds, to each delay-reason extension of an
// Encounter document whose codings include no current sitrep reason, the
// sitrep coding its other codings stand for, after the codings sent:
//   - a code retired from the sitrep list: the reason that replaces it. A
//     retired code sent in DelayReasonSystem (as the first list's clients
//     send it) is filed under RetiredDelayReasonSystem, where it is now
//     defined, so the extension holds one coding in DelayReasonSystem;
//   - else a local code: the target (system, code and display) of the
//     loaded ConceptMap that translates it, a FHIR translation, the sent
//     coding kept as it was.
//
// The search index and the sitrep's counters read the stored document, so
// they count the current reason. It reports how many codings it added.
// The mapping (EncounterToCase) has already refused a reason that
// translates to nothing; such an extension is left as it is.
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
		current := false
		var retired map[string]any
		for _, c := range codings {
			cd, _ := c.(map[string]any)
			sys, _ := cd["system"].(string)
			code, _ := cd["code"].(string)
			if sys == DelayReasonSystem && discharge.ValidDelayReason(code) {
				current = true
				break
			}
			if _, ok := retiredReplacement(sys, code); ok && retired == nil {
				retired = cd
			}
		}
		if current {
			continue
		}
		var add map[string]any
		if retired != nil {
			code, _ := retired["code"].(string)
			cur, _ := retiredReplacement(RetiredDelayReasonSystem, code)
			for _, c := range codings {
				// Every retired code in DelayReasonSystem moves, so that
				// the extension keeps one coding there.
				cd, _ := c.(map[string]any)
				code, _ := cd["code"].(string)
				if _, ok := retiredReplacement(DelayReasonSystem, code); ok && cd["system"] == DelayReasonSystem {
					cd["system"] = RetiredDelayReasonSystem
				}
			}
			add = delayReasonCoding(cur)
		} else {
			for _, c := range codings {
				cd, _ := c.(map[string]any)
				sys, _ := cd["system"].(string)
				code, _ := cd["code"].(string)
				if sys == DelayReasonSystem || sys == "" || code == "" {
					continue
				}
				if ts, ok := tr.Translate(sys, code, DelayReasonSystem); ok && discharge.ValidDelayReason(ts[0].Code) {
					add = map[string]any{"system": DelayReasonSystem, "code": ts[0].Code}
					if ts[0].Display != "" {
						add["display"] = ts[0].Display
					}
					break
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
