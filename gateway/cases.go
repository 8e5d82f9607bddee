package gateway

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/dischargegateway/gateway/cases"
	"github.com/dischargegateway/gateway/discharge"
)

// getCase answers GET /api/v1/cases/{id} (cases.Service.Case): the case
// mapped on demand from the current records, with its state, timeline,
// offers, measures, escalation and triage decision.
func (s *Server) getCase(c echo.Context) error {
	v, err := s.cases.Case(c.Request().Context(), principal(c), c.Param("id"))
	if err != nil {
		return err
	}
	out := toCaseView(c.Param("id"), v)
	// The delay history, under the same tenancy (the sitrep's rule: a
	// caller that sees the trust's patients); none without a sitrep.
	var hist []discharge.DelaySpell
	if s.sitrep != nil {
		if hist, err = s.sitrep.DelayHistory(c.Request().Context(), principal(c), v.Partition, c.Param("id")); err != nil {
			return err
		}
	}
	out.DelayHistory = toWireDelayHistory(hist)
	return writeJSON(c, http.StatusOK, out)
}

// worklist answers GET /api/v1/cases (cases.Service.Worklist): the open
// cases of the caller's trust, or of a hub's member trusts, filtered,
// sorted and paged.
func (s *Server) worklist(c echo.Context) error {
	page, err := s.cases.Worklist(c.Request().Context(), principal(c), c.QueryParams())
	if err != nil {
		return err
	}
	return writeJSON(c, http.StatusOK, toWireWorklist(page))
}

// caseMeasures answers GET /api/v1/measures (cases.Service.Measures).
func (s *Server) caseMeasures(c echo.Context) error {
	m, err := s.cases.Measures(c.Request().Context(), principal(c), c.QueryParams())
	if err != nil {
		return err
	}
	return writeJSON(c, http.StatusOK, toWireMeasuresReport(m))
}

// triage answers POST /api/v1/cases/{id}/triage (cases.Service.Triage):
// a hub's (or the trust's) triage decision, answered with the case.
func (s *Server) triage(c echo.Context) error {
	body, err := s.readBody(c, "")
	if err != nil {
		return err
	}
	d, err := decodeTriage(body)
	if err != nil {
		return err
	}
	v, err := s.cases.Triage(c.Request().Context(), principal(c), c.Param("id"), d)
	if err != nil {
		return err
	}
	return writeJSON(c, http.StatusOK, toCaseView(c.Param("id"), v))
}

// decodeTriage reads a triage body: exactly pathway, destination and
// levelOfCare, nothing else.
func decodeTriage(body []byte) (cases.TriageDecision, error) {
	var in wireTriageDecision
	if err := decodeWire(body, &in); err != nil {
		return cases.TriageDecision{}, err
	}
	return fromWireTriage(in), nil
}
