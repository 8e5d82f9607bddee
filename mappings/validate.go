package mappings

import (
	"strings"

	"github.com/dischargegateway/gateway/discharge"
)

// Origins records, per model field, the FHIRPath of the element it was
// mapped from. Keys are the model paths the discharge Validate methods name
// their issues by: "patient.nhsNumber", "pathway", "requirements[1]".
type Origins map[string]string

// Model is a shared-model value that checks itself: *discharge.Case,
// *discharge.CareNeed.
type Model interface {
	Validate() discharge.Issues
}

var (
	_ Model = (*discharge.Case)(nil)
	_ Model = (*discharge.CareNeed)(nil)
)

// Validate checks a model value mapped from FHIR by its own rules (the one
// way every shared-model value is validated, see discharge/validate.go)
// and points each issue at the FHIRPath that origins gives for its field,
// or at root when origins does not know the field.
func Validate(m Model, root string, origins Origins) discharge.Issues {
	is := m.Validate()
	for i := range is {
		is[i].Expression = origins.lookup(is[i].Expression, root)
	}
	return is
}

// lookup finds the element a model path came from: the path itself, else
// the list it is an item of (requirements[1] → requirements), else root.
func (o Origins) lookup(field, root string) string {
	if p, ok := o[field]; ok {
		return p
	}
	if i := strings.LastIndexByte(field, '['); i > 0 {
		if p, ok := o[field[:i]]; ok {
			return p
		}
	}
	return root
}
