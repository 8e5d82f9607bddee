package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/dischargegateway/gateway/auth"
	"github.com/dischargegateway/gateway/discharge"
)

// Homes is what the capacity form needs of the provider directory: the
// Locations the caller's organisation manages (Location.managingOrganization
// is an Organization carrying its identifier), each with the bed types of
// the services delivered there. cmd/gateway reads them from the directory.
type Homes interface {
	Locations(ctx context.Context, p *auth.Principal) ([]HomeLocation, error)
}

// HomeLocation is one of a care provider's own Locations as the capacity
// form lists it.
type HomeLocation struct {
	ID string
	// Name is what the manager knows the home by (its directory service's
	// name); Postcode tells two homes of the same name apart.
	Name, Postcode string
	// BedTypes are the bed types its services offer (by care setting and
	// specialism, discharge.BedTypesForNeed); empty when the directory
	// names no bed-based service there.
	BedTypes []discharge.BedType
}

// Label is the Location as a person knows it: its name, else its id, with
// its postcode.
func (l HomeLocation) Label() string {
	n := l.Name
	if n == "" {
		n = "Location " + l.ID
	}
	if l.Postcode != "" {
		n += ", " + l.Postcode
	}
	return n
}

// bedRow is one bed type's line of the capacity form, prefilled with the
// Location's last posting so an unchanged day is one click.
type bedRow struct {
	Code, Display                      string
	Max, Occupied, Reserved, Accepting string
	Closed                             bool
	// Errors are this line's mistakes by field prefix ("occupied"), when
	// the form comes back refused.
	Errors map[string]string
}

// figureField is one of a bed type's four figures as the form shows it.
type figureField struct{ ID, Name, Label, Value, Error string }

// Fields are the line's four figures, in the mandate's order.
func (r bedRow) Fields() []figureField {
	labels := []string{"Beds in total", "Occupied", "Reserved", "Accepting admissions"}
	values := []string{r.Max, r.Occupied, r.Reserved, r.Accepting}
	out := make([]figureField, len(capacityFields))
	for i, f := range capacityFields {
		out[i] = figureField{ID: f.prefix + "-" + r.Code, Name: f.prefix + "." + r.Code, Label: labels[i], Value: values[i], Error: r.Errors[f.prefix]}
	}
	return out
}

type capacityFormData struct {
	Locations []HomeLocation
	// Chosen is the Location the form posts for; nil: choose one first.
	Chosen *HomeLocation
	// ChooseError says why the choice was refused (a Location that is
	// not the home's own).
	ChooseError string
	Rows        []bedRow
	// AllTypes says the directory names no bed type for the Location, so
	// the form offers every one.
	AllTypes  bool
	LastAsOf  time.Time
	Freshness discharge.Freshness
	// Errors are a refused posting's mistakes, for the error summary:
	// each links to its field.
	Errors []fieldError
}

// fieldError is one mistake on a form: the id of the field it is about
// ("" when it is about the whole form) and what to do.
type fieldError struct{ ID, Message string }

// capacityForm is the care home's form to post today's vacancies: it
// lists the home's own Locations (no ids to know), and for the chosen one
// a line per bed type it offers, prefilled with the last posting. Without
// JavaScript: choosing a Location is a GET form.
func (s *Server) capacityForm(c echo.Context) error {
	ctx := c.Request().Context()
	locs, err := s.d.Homes.Locations(ctx, principal(c))
	if err != nil {
		return err
	}
	d := capacityFormData{Locations: locs}
	want := c.QueryParam("location")
	switch {
	case want != "":
		if i := slices.IndexFunc(locs, func(l HomeLocation) bool { return l.ID == want }); i >= 0 {
			d.Chosen = &locs[i]
		} else {
			d.ChooseError = "Choose one of your organisation's Locations."
		}
	case len(locs) == 1:
		d.Chosen = &locs[0]
	}
	status := http.StatusOK
	if d.ChooseError != "" {
		status = http.StatusNotFound
	}
	if d.Chosen != nil {
		if err := s.fillRows(ctx, &d); err != nil {
			return err
		}
	}
	return s.render(c, status, "capacity-form", view{Title: "Post today's capacity", Nav: "capacity-today", Data: d})
}

// fillRows lays out the chosen Location's bed types, each prefilled from
// its last posting; a bed type posted before but not (or no longer) in
// the directory keeps its line.
func (s *Server) fillRows(ctx context.Context, d *capacityFormData) error {
	types := slices.Clone(d.Chosen.BedTypes)
	last := map[discharge.BedType]discharge.BedCapacity{}
	v, err := s.d.Capacity.Get(ctx, d.Chosen.ID)
	switch {
	case err == nil:
		d.LastAsOf, d.Freshness = v.AsOf, v.Freshness
		for _, b := range v.Beds {
			last[b.Type] = b
			if !slices.Contains(types, b.Type) {
				types = append(types, b.Type)
			}
		}
	case discharge.ErrorKind(err) != discharge.KindNotFound:
		return err
	}
	if len(types) == 0 {
		d.AllTypes = true
	}
	for _, bt := range discharge.BedTypes() {
		t := discharge.BedType(bt.Code)
		if !d.AllTypes && !slices.Contains(types, t) {
			continue
		}
		r := bedRow{Code: bt.Code, Display: bt.Display}
		if b, ok := last[t]; ok {
			r.Max, r.Occupied, r.Reserved, r.Accepting = strconv.Itoa(b.MaxCapacity), strconv.Itoa(b.Occupied),
				strconv.Itoa(b.Reserved), strconv.Itoa(b.AcceptingAdmissions)
			r.Closed = b.ClosedToAdmissions
		}
		d.Rows = append(d.Rows, r)
	}
	return nil
}

// capacityFields are the form's four figures of a bed type, by the
// prefix of their field names ("max.nursing"), as the mandate names them.
var capacityFields = []struct{ prefix, words string }{
	{"max", "beds in total"}, {"occupied", "occupied beds"}, {"reserved", "reserved beds"}, {"accepting", "beds accepting admissions"},
}

// postCapacity posts the form's vacancies, every bed type filled in, as
// of now, for one of the home's own Locations (capacity.Service checks
// the ownership and the rules again), and audits the change.
func (s *Server) postCapacity(c echo.Context) error {
	ctx := c.Request().Context()
	loc := c.FormValue("location")
	locs, err := s.d.Homes.Locations(ctx, principal(c))
	if err != nil {
		return err
	}
	if !slices.ContainsFunc(locs, func(l HomeLocation) bool { return l.ID == loc }) {
		return discharge.E(discharge.KindValue, "location", "Choose one of your organisation's Locations.")
	}
	form, err := c.FormParams()
	if err != nil {
		return discharge.E(discharge.KindStructure, "", "The form could not be read.")
	}
	beds, err := bedsOf(form)
	if err == nil {
		_, err = s.d.Capacity.Post(ctx, principal(c), discharge.Capacity{LocationID: loc, AsOf: s.now().UTC(), Beds: beds}, formPaths(beds))
		s.audit(c, "update", "U", "Location", loc, err)
	}
	if err != nil {
		if status := s.d.Status(err); status >= 400 && status < 500 && status != http.StatusForbidden && status != http.StatusNotFound {
			return s.refusedCapacity(c, locs, loc, form, err, status)
		}
		return err
	}
	return s.flash(c, "/capacity/today?location="+url.QueryEscape(loc), "Capacity posted.")
}

// refusedCapacity shows the form again as it was posted, with the
// mistakes listed at the top and beside their fields (the NHS error
// summary pattern), rather than an error page that loses the figures.
func (s *Server) refusedCapacity(c echo.Context, locs []HomeLocation, loc string, form url.Values, err error, status int) error {
	i := slices.IndexFunc(locs, func(l HomeLocation) bool { return l.ID == loc })
	d := capacityFormData{Locations: locs, Chosen: &locs[i]}
	if ferr := s.fillRows(c.Request().Context(), &d); ferr != nil {
		return ferr
	}
	// A mistake links to its field when the form has that field (an
	// issue about the whole posting, or a bed type not on the form, is
	// listed without a link).
	onForm := map[string]bool{}
	for _, r := range d.Rows {
		for _, f := range r.Fields() {
			onForm[f.Name] = true
		}
	}
	byField := map[string]string{}
	var de *discharge.Error
	if errors.As(err, &de) {
		for _, is := range de.Issues {
			id := ""
			if onForm[is.Expression] {
				if _, dup := byField[is.Expression]; dup {
					continue
				}
				byField[is.Expression] = is.Message
				id = strings.ReplaceAll(is.Expression, ".", "-")
			}
			d.Errors = append(d.Errors, fieldError{ID: id, Message: is.Message})
		}
	}
	if len(d.Errors) == 0 {
		d.Errors = []fieldError{{Message: "Check the figures and try again."}}
	}
	posted := map[string]bool{}
	for _, code := range form["bedType"] {
		posted[code] = true
	}
	for j := range d.Rows {
		r := &d.Rows[j]
		if !posted[r.Code] {
			continue
		}
		r.Max, r.Occupied = form.Get("max."+r.Code), form.Get("occupied."+r.Code)
		r.Reserved, r.Accepting = form.Get("reserved."+r.Code), form.Get("accepting."+r.Code)
		r.Closed = form.Get("closed."+r.Code) == "yes"
		for _, f := range capacityFields {
			if m, ok := byField[f.prefix+"."+r.Code]; ok {
				if r.Errors == nil {
					r.Errors = map[string]string{}
				}
				r.Errors[f.prefix] = m
			}
		}
	}
	return s.render(c, status, "capacity-form", view{Title: "Error: Post today's capacity", Nav: "capacity-today", Data: d})
}

// modelFields are the capacity model's field names (the validator's
// paths, "beds[0].occupied") as the form names them ("occupied.nursing").
var modelFields = map[string]string{"maxCapacity": "max", "occupied": "occupied", "reserved": "reserved",
	"acceptingAdmissions": "accepting", "closedToAdmissions": "closed"}

// formPaths renames the capacity rules' issues to the form's fields, so
// a refused figure is marked where it was typed: "beds[1].occupied" is
// "occupied.nursing" when nursing was the second line posted, and a rule
// on a whole line ("beds[1]": more beds used than there are) marks its
// total.
func formPaths(beds []discharge.BedCapacity) func(string) string {
	return func(path string) string {
		m := bedPath.FindStringSubmatch(path)
		if m == nil {
			return path
		}
		i, err := strconv.Atoi(m[1])
		if err != nil || i >= len(beds) {
			return path
		}
		f, ok := modelFields[m[2]]
		if m[2] == "" {
			f, ok = "max", true
		}
		if !ok {
			return path
		}
		return f + "." + string(beds[i].Type)
	}
}

var bedPath = regexp.MustCompile(`^beds\[(\d+)\](?:\.(\w+))?$`)

// bedsOf reads the form's lines: a bed type with none of its figures
// filled in is not posted; one with some is an error naming the missing
// figure, never a silent zero.
func bedsOf(form url.Values) ([]discharge.BedCapacity, error) {
	names := map[string]string{}
	for _, bt := range discharge.BedTypes() {
		names[bt.Code] = bt.Display
	}
	var beds []discharge.BedCapacity
	seen := map[string]bool{}
	for _, code := range form["bedType"] {
		display, ok := names[code]
		if !ok {
			return nil, discharge.E(discharge.KindValue, "bedType", "A bed type is not one the form offered.")
		}
		if seen[code] {
			continue
		}
		seen[code] = true
		b := discharge.BedCapacity{Type: discharge.BedType(code), ClosedToAdmissions: form.Get("closed."+code) == "yes"}
		dst := []*int{&b.MaxCapacity, &b.Occupied, &b.Reserved, &b.AcceptingAdmissions}
		filled := 0
		for _, f := range capacityFields {
			if form.Get(f.prefix+"."+code) != "" {
				filled++
			}
		}
		if filled == 0 && !b.ClosedToAdmissions {
			continue
		}
		for i, f := range capacityFields {
			name := f.prefix + "." + code
			v := form.Get(name)
			if v == "" {
				return nil, discharge.E(discharge.KindRequired, name, fmt.Sprintf("Enter the %s for %s.", f.words, display))
			}
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 || n > 100000 {
				return nil, discharge.E(discharge.KindValue, name, fmt.Sprintf("Enter the %s for %s as a whole number from 0.", f.words, display))
			}
			*dst[i] = n
		}
		beds = append(beds, b)
	}
	if len(beds) == 0 {
		return nil, discharge.E(discharge.KindRequired, "bedType", "Enter the figures for at least one bed type.")
	}
	return beds, nil
}
