package mappings

import (
	"errors"
	"reflect"
	"strings"
	"sync"

	"github.com/dischargegateway/gateway/discharge"
	"github.com/go-playground/validator/v10"
)

// Origins records, per model field, the FHIRPath of the element it was
// mapped from. Keys are the field's JSON path in the model, as the validator
// names it: "patient.nhsNumber", "pathway", "requirements[1]".
type Origins map[string]string

// Validator checks discharge model values against their validate tags and
// the gateway's custom rules:
//
//	nhsnumber    discharge.ValidNHSNumber (modulus 11)
//	pathway      0 to 3
//	outcode      discharge.ValidOutcode
//	caresetting  a code of discharge.CareSettings
//	requirement  a code of discharge.Requirements
//	funding      a code of discharge.Fundings
//
// The code rules read the discharge lists, so the tags cannot drift from
// the published CodeSystems.
type Validator struct{ v *validator.Validate }

// NewValidator returns a Validator with the custom rules registered and
// fields named by their JSON names.
func NewValidator() *Validator {
	v := validator.New(validator.WithRequiredStructEnabled())
	v.RegisterTagNameFunc(func(f reflect.StructField) string {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			return ""
		}
		if name == "" {
			return f.Name
		}
		return name
	})
	rules := map[string]func(validator.FieldLevel) bool{
		"nhsnumber":   func(fl validator.FieldLevel) bool { return discharge.ValidNHSNumber(fl.Field().String()) },
		"pathway":     func(fl validator.FieldLevel) bool { return discharge.Pathway(fl.Field().Int()).Valid() },
		"outcode":     func(fl validator.FieldLevel) bool { return discharge.ValidOutcode(fl.Field().String()) },
		"caresetting": func(fl validator.FieldLevel) bool { return discharge.CareSetting(fl.Field().String()).Valid() },
		"requirement": func(fl validator.FieldLevel) bool { return discharge.Requirement(fl.Field().String()).Valid() },
		"funding":     func(fl validator.FieldLevel) bool { return discharge.Funding(fl.Field().String()).Valid() },
	}
	for tag, fn := range rules {
		if err := v.RegisterValidation(tag, fn); err != nil {
			panic(err) // a programming error in the table above
		}
	}
	return &Validator{v: v}
}

var (
	defaultValidatorOnce sync.Once
	defaultValidator     *Validator
)

func modelValidator() *Validator {
	defaultValidatorOnce.Do(func() { defaultValidator = NewValidator() })
	return defaultValidator
}

// Validate checks s (a *discharge.Case, *discharge.CareNeed or any struct
// with validate tags) and returns one KindValue error issue per failing
// field, at the FHIRPath that origins gives for it, or at root when origins
// does not know the field. Messages name the rule, never the value.
func (v *Validator) Validate(s any, root string, origins Origins) discharge.Issues {
	err := v.v.Struct(s)
	if err == nil {
		return nil
	}
	var verrs validator.ValidationErrors
	if !errors.As(err, &verrs) {
		// InvalidValidationError: s is not a struct. A caller bug, reported
		// as an internal issue rather than a panic.
		return discharge.Issues{{Kind: discharge.KindInternal, Expression: root, Message: "model could not be validated"}}
	}
	var out discharge.Issues
	for _, fe := range verrs {
		field := fe.Namespace()
		if _, rest, ok := strings.Cut(field, "."); ok {
			field = rest // drop the Go type name
		}
		out = append(out, discharge.Issue{
			Kind:       discharge.KindValue,
			Expression: origins.lookup(field, root),
			Detail:     detailFor(fe.Tag()),
			Message:    messageFor(fe.Tag(), fe.Param()),
		})
	}
	return out
}

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

func detailFor(tag string) string {
	if tag == "nhsnumber" {
		return "INVALID_CHECK_DIGIT"
	}
	return ""
}

// messageFor says what is wrong in the sender's terms. It never names the
// model field (patient.homeOutcode, searchArea.outcode): the issue's
// expression names the FHIR element, and the model is internal.
func messageFor(tag, param string) string {
	switch tag {
	case "nhsnumber":
		return "the NHS number is not 10 digits with a valid modulus-11 check digit"
	case "pathway":
		return "the discharge pathway must be 0, 1, 2 or 3"
	case "outcode":
		return "the value is not a UK postcode or postcode district (outward code, e.g. M14)"
	case "caresetting", "requirement", "funding":
		return "the code is not in the gateway " + tag + " code system"
	case "required":
		return "a value is required"
	case "oneof":
		return "the value must be one of: " + param
	case "gt", "gte", "lt", "lte":
		return "the value must be " + map[string]string{"gt": "above", "gte": "at least", "lt": "below", "lte": "at most"}[tag] + " " + param
	case "latitude", "longitude":
		return "the " + tag + " is out of range"
	case "alphanum", "max":
		return "the value is not a valid code"
	}
	return "the value is not valid (" + tag + ")"
}
