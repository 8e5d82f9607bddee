package gateway

import (
	"encoding/json"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/fhir"
	"github.com/dischargegateway/gateway/mappings"
)

// maxNeedsPerCase bounds the ServiceRequests read for one case.
const maxNeedsPerCase = 100

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

// getCase maps the stored Encounter and its ServiceRequests on demand, so
// the case always reflects the current versions and the current ConceptMaps.
func (s *Server) getCase(c echo.Context) error {
	ctx, id := c.Request().Context(), c.Param("id")
	enc, part, err := s.readAcross(c, "Encounter", id)
	if err != nil {
		if discharge.ErrorKind(err) == discharge.KindNotFound {
			return discharge.E(discharge.KindNotFound, "id", "No discharge case with that id.")
		}
		return err
	}
	encDoc, err := decodeDoc(enc.JSON)
	if err != nil {
		return err
	}
	opt := s.mapOptions(part)
	view := caseView{ID: id, Encounter: "Encounter/" + id, Version: enc.VersionID,
		CareNeeds: []*wireCareNeed{}, Warnings: []caseWarning{}}
	pat, err := s.subjectPatient(ctx, part, encDoc, nil)
	if err != nil {
		return err
	}
	cs, issues, err := mappings.EncounterToCase(enc.JSON, pat, opt)
	if err != nil {
		de := toError(err)
		if statusOf(de.Kind) >= 500 {
			return err
		}
		// Stored before a rule tightened (a serviceProvider naming another
		// trust was once accepted): the Encounter is readable, so the case
		// read says why there is no case rather than failing.
		for _, is := range de.Issues {
			view.Warnings = append(view.Warnings, caseWarning{Resource: view.Encounter, Expression: is.Expression, Message: is.Message})
		}
	}
	view.Case = toWireCase(cs)
	for _, w := range issues.Warnings() {
		view.Warnings = append(view.Warnings, caseWarning{Resource: view.Encounter, Expression: w.Expression, Message: w.Message})
	}
	srs, _, err := s.store.Search(ctx, part, fhir.Query{Type: "ServiceRequest", Count: maxNeedsPerCase,
		Filters: []fhir.Filter{{Param: "encounter", AnyOf: []string{"Encounter/" + id}}}})
	if err != nil {
		return err
	}
	for _, r := range srs {
		need, issues, err := mappings.ServiceRequestToNeed(r.JSON, pat, opt)
		ref := "ServiceRequest/" + r.ID
		if err != nil {
			// Stored before a ConceptMap changed: report, don't fail the case.
			for _, is := range toError(err).Issues {
				view.Warnings = append(view.Warnings, caseWarning{Resource: ref, Expression: is.Expression, Message: is.Message})
			}
			continue
		}
		if need != nil {
			view.CareNeeds = append(view.CareNeeds, toWireCareNeed(need))
		}
		for _, w := range issues.Warnings() {
			view.Warnings = append(view.Warnings, caseWarning{Resource: ref, Expression: w.Expression, Message: w.Message})
		}
	}
	body, err := json.Marshal(view)
	if err != nil {
		return discharge.Wrap(discharge.KindInternal, "case json", err)
	}
	return c.Blob(http.StatusOK, plainJSON, body)
}
