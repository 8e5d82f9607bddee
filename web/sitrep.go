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
}

// WardOccupancy is a virtual ward's occupied and available places; the
// page flags occupancy against the 80 % target.
type WardOccupancy struct {
	Name               string
	Occupied, Capacity int
}

// Rate is the occupancy, 0 when the ward has no places.
func (w WardOccupancy) Rate() float64 {
	if w.Capacity <= 0 {
		return 0
	}
	return float64(w.Occupied) / float64(w.Capacity)
}

// OverTarget says the ward is above 80 % occupied.
func (w WardOccupancy) OverTarget() bool { return w.Rate() > 0.8 }

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
