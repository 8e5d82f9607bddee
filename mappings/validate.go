package mappings

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"time"

	"github.com/dischargegateway/gateway/discharge"
	"github.com/go-playground/validator/v10"
)

// Validate checks a shared-model value (*discharge.Case, *discharge.CareNeed,
// discharge.Capacity) against the validate tags on its discharge types and
// the rules registered here, and returns one error issue per failing field
// (each failing list item counts as one), in field order, at the field's
// model path: "patient.nhsNumber", "requirements[1]", "beds[0].occupied".
// It is the one way every shared-model value is validated. Whoever built the
// value renames the paths to where it came from: Origins.Rename for FHIR,
// capacity.Service.Post for a MeasureReport, a CSV row or the JSON API.
// now is the time rules such as "asOf is not in the future" are judged at.
// Messages say what is wrong in the sender's terms and never repeat patient
// data.
func Validate(v any, now time.Time) discharge.Issues {
	err := modelValidator().StructCtx(context.WithValue(context.Background(), nowKey{}, now), v)
	if err == nil {
		return nil
	}
	var verrs validator.ValidationErrors
	if !errors.As(err, &verrs) {
		// InvalidValidationError: v is not a struct. A caller bug, reported
		// as an internal issue rather than a panic.
		return discharge.Issues{{Kind: discharge.KindInternal, Message: "model could not be validated"}}
	}
	issue := modelIssue
	switch v.(type) {
	case discharge.Capacity, *discharge.Capacity:
		issue = postingIssue
	}
	out := make(discharge.Issues, 0, len(verrs))
	for _, fe := range verrs {
		out = append(out, issue(modelPath(fe), fe))
	}
	return out
}

// Origins records, per model field, the FHIRPath of the element it was
// mapped from. Keys are the model paths Validate names its issues by:
// "patient.nhsNumber", "pathway", "requirements[1]".
type Origins map[string]string

// Rename points each issue at the FHIRPath that o gives for its model path,
// or at root when o does not know the field.
func (o Origins) Rename(is discharge.Issues, root string) discharge.Issues {
	for i := range is {
		is[i].Expression = o.lookup(is[i].Expression, root)
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

// nowKey carries Validate's now to the rules that read it.
type nowKey struct{}

// The validator's custom rules, on top of its own (required, gt, lte,
// oneof, latitude, alphanum, ...):
//
//	nhsnumber      discharge.ValidNHSNumber (modulus 11)
//	pathway        0 to 3
//	outcode        discharge.ValidOutcode
//	caresetting    a code of discharge.CareSettings
//	requirement    a code of discharge.Requirements
//	funding        a code of discharge.Fundings
//	bedtype        a code of discharge.BedTypes
//	firstoftype    no earlier bed of the posting has this bed type
//	instant        a time that is set (time.Time.IsZero is false)
//	notfuture      a time at most discharge.MaxFutureSkew after now
//	nonempty_or=F  this list or its sibling list F has an item
//
// and the struct-level rules of a posting (postingRules). The code rules
// read the discharge lists, so the tags cannot drift from the published
// CodeSystems.
var rules = map[string]validator.FuncCtx{
	"nhsnumber":   plain(func(fl validator.FieldLevel) bool { return discharge.ValidNHSNumber(fl.Field().String()) }),
	"pathway":     plain(func(fl validator.FieldLevel) bool { return discharge.Pathway(fl.Field().Int()).Valid() }),
	"outcode":     plain(func(fl validator.FieldLevel) bool { return discharge.ValidOutcode(fl.Field().String()) }),
	"caresetting": plain(func(fl validator.FieldLevel) bool { return discharge.CareSetting(fl.Field().String()).Valid() }),
	"requirement": plain(func(fl validator.FieldLevel) bool { return discharge.Requirement(fl.Field().String()).Valid() }),
	"funding":     plain(func(fl validator.FieldLevel) bool { return discharge.Funding(fl.Field().String()).Valid() }),
	"bedtype":     plain(func(fl validator.FieldLevel) bool { return discharge.BedType(fl.Field().String()).Valid() }),
	"firstoftype": plain(firstOfType),
	"instant": plain(func(fl validator.FieldLevel) bool {
		t, ok := fl.Field().Interface().(time.Time)
		return ok && !t.IsZero() // time's own zero, whatever the location
	}),
	"notfuture": func(ctx context.Context, fl validator.FieldLevel) bool {
		t, ok := fl.Field().Interface().(time.Time)
		now, _ := ctx.Value(nowKey{}).(time.Time)
		return ok && !t.After(now.Add(discharge.MaxFutureSkew))
	},
	"nonempty_or": plain(func(fl validator.FieldLevel) bool {
		// Length, not nil: an empty JSON list posts nothing either.
		other := reflect.Indirect(fl.Parent()).FieldByName(fl.Param())
		return fl.Field().Len() > 0 || other.IsValid() && other.Len() > 0
	}),
}

func plain(fn validator.Func) validator.FuncCtx {
	return func(_ context.Context, fl validator.FieldLevel) bool { return fn(fl) }
}

// firstOfType is the duplicate rule of a posting's beds: a bed type appears
// once. The bed is found among the posting's beds by address (both are the
// same slice item), so only beds before it count and the second of two is
// the one reported.
func firstOfType(fl validator.FieldLevel) bool {
	c, ok := reflect.Indirect(fl.Top()).Interface().(discharge.Capacity)
	bed := fl.Parent()
	if !ok || !bed.CanAddr() {
		return true
	}
	p, _ := bed.Addr().Interface().(*discharge.BedCapacity)
	for i := range c.Beds {
		if &c.Beds[i] == p {
			for _, earlier := range c.Beds[:i] {
				if earlier.Type == p.Type {
					return false
				}
			}
			return true
		}
	}
	return true
}

// postingRules are the rules of a posting that span fields. Struct-level
// rules run after the fields' own, which is where their issues belong:
// a bed's total after its four counts, and an offer's size after its
// districts. earliestStart is checked here, after the size, rather than by
// a tag, so an offer's issues keep the order they have always come in.
func postingRules(sl validator.StructLevel) {
	switch x := sl.Current().Interface().(type) {
	case discharge.BedCapacity:
		if x.Occupied+x.Reserved+x.AcceptingAdmissions > x.MaxCapacity {
			sl.ReportError(x, "", "", "withincapacity", "")
		}
	case discharge.HomeCareOffer:
		if !(x.HoursPerWeek >= 0) || x.Packages < 0 { // NaN hours fail too
			sl.ReportError(x, "", "", "offersize", "")
		}
		if x.EarliestStart.IsZero() {
			sl.ReportError(x.EarliestStart, "earliestStart", "EarliestStart", "required", "")
		}
	}
}

var modelValidator = sync.OnceValue(func() *validator.Validate {
	v := validator.New(validator.WithRequiredStructEnabled())
	v.RegisterTagNameFunc(func(f reflect.StructField) string { return lowerCamel(f.Name) })
	for tag, fn := range rules {
		if err := v.RegisterValidationCtx(tag, fn); err != nil {
			panic(err) // a programming error in the table above
		}
	}
	v.RegisterStructValidation(postingRules, discharge.BedCapacity{}, discharge.HomeCareOffer{})
	return v
})

// lowerCamel names a field as the model's paths do: its Go name with the
// leading word in lower case (NHSNumber → nhsNumber, AsOf → asOf, ID → id).
func lowerCamel(name string) string {
	n := 0
	for n < len(name) && 'A' <= name[n] && name[n] <= 'Z' {
		n++
	}
	switch {
	case n == len(name):
		return strings.ToLower(name)
	case n > 1:
		n-- // the last capital starts the next word: NHS|Number
	}
	return strings.ToLower(name[:n]) + name[n:]
}

// modelPath is a failure's model path: its namespace without the Go type
// name in front, and without the dot a struct-level rule leaves at the end
// when it reports the struct itself ("beds[0].").
func modelPath(fe validator.FieldError) string {
	ns := fe.Namespace()
	if _, rest, ok := strings.Cut(ns, "."); ok {
		ns = rest
	}
	return strings.TrimSuffix(ns, ".")
}

// modelIssue is the issue for a failing field of a case or a need, mapped
// from FHIR. The message never names the model field (patient.homeOutcode,
// searchArea.outcode): the issue's expression names the FHIR element, and
// the model is internal.
func modelIssue(path string, fe validator.FieldError) discharge.Issue {
	is := discharge.Issue{Kind: discharge.KindValue, Expression: path}
	switch tag, param := fe.Tag(), fe.Param(); tag {
	case "nhsnumber":
		is.Detail = "INVALID_CHECK_DIGIT"
		is.Message = "the NHS number is not 10 digits with a valid modulus-11 check digit"
	case "pathway":
		is.Message = "the discharge pathway must be 0, 1, 2 or 3"
	case "outcode":
		is.Message = "the value is not a UK postcode or postcode district (outward code, e.g. M14)"
	case "caresetting", "requirement", "funding":
		is.Message = "the code is not in the gateway " + tag + " code system"
	case "required":
		is.Message = "a value is required"
	case "oneof":
		is.Message = "the value must be one of: " + param
	case "gt", "gte", "lt", "lte":
		is.Message = "the value must be " + map[string]string{"gt": "above", "gte": "at least", "lt": "below", "lte": "at most"}[tag] + " " + param
	case "latitude", "longitude":
		is.Message = "the " + tag + " is out of range"
	case "alphanum", "max":
		is.Message = "the value is not a valid code"
	default:
		is.Message = "the value is not valid (" + tag + ")"
	}
	return is
}

// postingIssue is the issue for a failing field of a capacity posting. Its
// paths are the JSON API's own names, so messages name the fields; each
// rule appears once in the posting's tags, so the rule says which.
func postingIssue(path string, fe validator.FieldError) discharge.Issue {
	kind, msg := discharge.KindValue, ""
	switch fe.Tag() {
	case "instant":
		kind, msg = discharge.KindRequired, "asOf, the time the figures were true, is required."
	case "notfuture":
		msg = "asOf is more than 5 minutes in the future."
	case "nonempty_or":
		kind, msg = discharge.KindRequired, "A posting needs beds or homeCare."
	case "bedtype":
		kind, msg = discharge.KindCodeInvalid, fmt.Sprintf("Unknown bed type %q: use the gateway's bed-type code system.", fe.Value())
	case "firstoftype":
		msg = fmt.Sprintf("Bed type %q appears twice.", fe.Value())
	case "gte":
		msg = fe.Field() + " must be 0 or more."
	case "withincapacity":
		msg = "occupied + reserved + acceptingAdmissions exceeds maxCapacity."
	case "min":
		kind, msg = discharge.KindRequired, "Home care is posted for the districts it serves."
	case "outcode":
		msg = "Not a postcode district (outcode)."
	case "offersize":
		msg = "hoursPerWeek and packages must be 0 or more."
	case "required":
		kind, msg = discharge.KindRequired, fe.Field()+" is required."
	default:
		msg = "The value is not valid (" + fe.Tag() + ")."
	}
	return discharge.Issue{Kind: kind, Expression: path, Message: msg}
}
