package web

import (
	"context"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/dischargegateway/gateway/auth"
	"github.com/dischargegateway/gateway/cases"
)

// Sitrep is what the sitrep page needs of the system view (issue 18, the
// sitrep/ package, wired by cmd/gateway when it exists). Every figure is
// an aggregate of the caller's trusts: no patient data.
type Sitrep interface {
	Sitrep(ctx context.Context, p *auth.Principal, day time.Time) (SitrepView, error)
}

// SitrepView is one day's system view.
type SitrepView struct {
	Day time.Time
	// Today are the day's headline figures, in order ("Patients with no
	// criteria to reside", 112).
	Today []Figure
	// Trend is the last 30 days of each headline series.
	Trend []Series
	// Unmet is the demand without a placement, by postcode district.
	Unmet []DistrictDemand
	// VirtualWards is each virtual ward's occupancy.
	VirtualWards []WardOccupancy
	// Forecast is the next 14 days' demand against the vacancies, by
	// day, care setting and district.
	Forecast []ForecastDay
}

// Figure is one headline number.
type Figure struct {
	Label string
	Value int
}

// Series is one daily series, oldest first.
type Series struct {
	Label  string
	Points []Point
}

// Point is one day's value.
type Point struct {
	Day   time.Time
	Value float64
}

// DistrictDemand is the unmet demand of one postcode district.
type DistrictDemand struct {
	District string
	Setting  string
	Waiting  int
	// TopFilter is the matching filter that excluded most providers for
	// this demand (a discharge filter code: "vacancy", "distance", ...);
	// empty when none is known.
	TopFilter string
}

// WardOccupancy is a virtual ward's occupied and available places; the
// page flags occupancy against the 80 % target.
type WardOccupancy struct {
	Name               string
	ICB, District      string
	Occupied, Capacity int
	// Trend is the ward's daily occupancy rate (0 to 1), oldest first.
	Trend []Point
}

// ForecastDay is one day's expected demand for a care setting in a
// district, against the vacancies posted and the beds held for accepted
// offers.
type ForecastDay struct {
	Day               time.Time
	Setting, District string
	Demand, Vacant    int
	Held              int
}

// Short is how many places the day's demand lacks: the demand less the
// bookable vacancies (vacant less held), 0 when it is covered.
func (f ForecastDay) Short() int { return max(0, f.Demand-max(0, f.Vacant-f.Held)) }

// Rate is the occupancy, 0 when the ward has no places.
func (w WardOccupancy) Rate() float64 {
	if w.Capacity <= 0 {
		return 0
	}
	return float64(w.Occupied) / float64(w.Capacity)
}

// OverTarget says the ward is above 80 % occupied.
func (w WardOccupancy) OverTarget() bool { return w.Rate() > wardTarget }

// wardTarget is the virtual-ward occupancy target (NHS England's 80 %).
const wardTarget = 0.8

type sitrepData struct {
	View      *SitrepView
	Charts    []template.HTML
	Measures  cases.Measures
	Available bool
}

// sitrep is today's figures and 30-day trends, unmet demand by district
// and virtual-ward occupancy (from the system view when wired), and the
// case measures per trust and provider (cases.Service.Measures) always.
func (s *Server) sitrep(c echo.Context) error {
	ctx := c.Request().Context()
	m, err := s.d.Cases.Measures(ctx, principal(c), url.Values{})
	s.audit(c, "search-type", "E", "Encounter", "", err)
	if err != nil {
		return err
	}
	d := sitrepData{Measures: m}
	if s.d.Sitrep != nil {
		v, err := s.d.Sitrep.Sitrep(ctx, principal(c), s.now())
		if err != nil {
			return err
		}
		d.View, d.Available = &v, true
		for _, sr := range v.Trend {
			d.Charts = append(d.Charts, lineChart(sr))
		}
	}
	return s.render(c, http.StatusOK, "sitrep", view{Title: "Sitrep", Nav: "sitrep", Data: d})
}

// lineChart draws a series as an inline SVG line chart, server-side: no
// script, and the figures are in the SVG's title and a visually hidden
// table beside it for screen readers.
func lineChart(sr Series) template.HTML {
	const w, h, pad = 600.0, 160.0, 24.0
	if len(sr.Points) == 0 {
		return ""
	}
	hi := 0.0
	for _, p := range sr.Points {
		hi = max(hi, p.Value)
	}
	if hi == 0 {
		hi = 1
	}
	var pts []string
	step := (w - 2*pad) / float64(max(1, len(sr.Points)-1))
	for i, p := range sr.Points {
		x := pad + float64(i)*step
		y := h - pad - (p.Value/hi)*(h-2*pad)
		pts = append(pts, fmt.Sprintf("%.1f,%.1f", x, y))
	}
	title := template.HTMLEscapeString(sr.Label)
	return template.HTML(fmt.Sprintf(`<svg class="dg-chart" viewBox="0 0 %.0f %.0f" role="img" aria-label="%s, last %d days" focusable="false">`+
		`<title>%s</title><line x1="%.0f" y1="%.0f" x2="%.0f" y2="%.0f" class="dg-chart__axis"/>`+
		`<polyline fill="none" class="dg-chart__line" points="%s"/><text x="%.0f" y="%.0f" class="dg-chart__label">%.0f</text></svg>`,
		w, h, title, len(sr.Points), title, pad, h-pad, w-pad, h-pad, strings.Join(pts, " "), pad, pad-6, hi))
}

// occupancyBar draws a ward's occupancy as a horizontal bar against the
// 80 % target line, server-side SVG. Its accessible name says the
// figures, which the table row beside it also prints.
func occupancyBar(w WardOccupancy) template.HTML {
	const width, height = 200.0, 20.0
	rate := w.Rate()
	fill := min(rate, 1) * width
	cls := "dg-bar__fill"
	if w.OverTarget() {
		cls += " dg-bar__fill--over"
	}
	name := template.HTMLEscapeString(fmt.Sprintf("%s: %.0f%% occupied, target 80%%", w.Name, rate*100))
	return template.HTML(fmt.Sprintf(`<svg class="dg-bar" viewBox="0 0 %.0f %.0f" width="%.0f" height="%.0f" role="img" aria-label="%s" focusable="false">`+
		`<rect class="dg-bar__track" x="0" y="2" width="%.0f" height="%.0f"/><rect class="%s" x="0" y="2" width="%.1f" height="%.0f"/>`+
		`<line class="dg-bar__target" x1="%.0f" y1="0" x2="%.0f" y2="%.0f"/></svg>`,
		width, height, width, height, name, width, height-4, cls, fill, height-4, wardTarget*width, wardTarget*width, height))
}

// sparkline draws a ward's daily occupancy rate as a small line with the
// 80 % target, server-side SVG, named by its first and last values.
func sparkline(w WardOccupancy) template.HTML {
	const width, height, pad = 120.0, 24.0, 2.0
	if len(w.Trend) < 2 {
		return ""
	}
	hi := 1.0
	for _, p := range w.Trend {
		hi = max(hi, p.Value)
	}
	y := func(v float64) float64 { return height - pad - (v/hi)*(height-2*pad) }
	step := (width - 2*pad) / float64(len(w.Trend)-1)
	pts := make([]string, len(w.Trend))
	for i, p := range w.Trend {
		pts[i] = fmt.Sprintf("%.1f,%.1f", pad+float64(i)*step, y(p.Value))
	}
	first, last := w.Trend[0], w.Trend[len(w.Trend)-1]
	name := template.HTMLEscapeString(fmt.Sprintf("%s occupancy over %d days: %.0f%% on %s, %.0f%% on %s", w.Name, len(w.Trend),
		first.Value*100, first.Day.Format("2 Jan"), last.Value*100, last.Day.Format("2 Jan")))
	return template.HTML(fmt.Sprintf(`<svg class="dg-spark" viewBox="0 0 %.0f %.0f" width="%.0f" height="%.0f" role="img" aria-label="%s" focusable="false">`+
		`<line class="dg-bar__target" x1="0" y1="%.1f" x2="%.0f" y2="%.1f"/><polyline fill="none" class="dg-chart__line dg-spark__line" points="%s"/></svg>`,
		width, height, width, height, name, y(wardTarget), width, y(wardTarget), strings.Join(pts, " ")))
}
