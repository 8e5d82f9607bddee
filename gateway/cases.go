package gateway

import (
	"encoding/json"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/dischargegateway/gateway/discharge"
)

// caseView is the JSON body of GET /api/v1/cases/{id}: the discharge case
// mapped from the Encounter (and its Patient), the care needs mapped from its
// ServiceRequests, and every mapping warning with the resource it concerns.
type caseView struct {
	ID        string          `json:"id"`
	Encounter string          `json:"encounter"`
	Version   int64           `json:"encounterVersion"`
	Case      *wireCase       `json:"case"`
	CareNeeds []*wireCareNeed `json:"careNeeds"`
	Warnings  []caseWarning   `json:"warnings"`
}

type caseWarning struct {
	Resource   string `json:"resource"`
	Expression string `json:"expression,omitempty"`
	Message    string `json:"message"`
}

// getCase answers GET /api/v1/cases/{id} (records.Service.Case): the
// case mapped on demand from the current records.
func (s *Server) getCase(c echo.Context) error {
	id := c.Param("id")
	rc, err := s.records.Case(c.Request().Context(), principal(c), id)
	if err != nil {
		return err
	}
	view := caseView{ID: id, Encounter: rc.Encounter, Version: rc.Version, Case: toWireCase(rc.Case),
		CareNeeds: make([]*wireCareNeed, len(rc.CareNeeds)), Warnings: make([]caseWarning, len(rc.Warnings))}
	for i, n := range rc.CareNeeds {
		view.CareNeeds[i] = toWireCareNeed(n)
	}
	for i, w := range rc.Warnings {
		view.Warnings[i] = caseWarning{Resource: w.Resource, Expression: w.Expression, Message: w.Message}
	}
	body, err := json.Marshal(view)
	if err != nil {
		return discharge.Wrap(discharge.KindInternal, "case json", err)
	}
	return c.Blob(http.StatusOK, plainJSON, body)
}
