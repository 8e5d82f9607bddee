package web

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/dischargegateway/gateway/capacity"
	"github.com/dischargegateway/gateway/cases"
	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/mappings"
	"github.com/dischargegateway/gateway/placement"
	"github.com/dischargegateway/gateway/referral"
)

// worklistParams are the worklist filters the page passes on to
// cases.Service.Worklist (which checks them: one rule set).
var worklistParams = []string{"state", "pathway", "escalated", "minNctrDays", "sort", "trust"}

// worklistQuery is the page's query as the service reads it, with the
// page size and offset.
func (s *Server) worklistQuery(c echo.Context) url.Values {
	vals := url.Values{}
	for _, k := range worklistParams {
		if v := c.QueryParam(k); v != "" {
			vals.Set(k, v)
		}
	}
	vals.Set("_count", strconv.Itoa(s.cfg.PageSize))
	if v := c.QueryParam("offset"); v != "" {
		vals.Set("_offset", v)
	}
	return vals
}

// worklistRow is one worklist row as the template prints it: flat and
// already formatted (the template reaching through embedded structs by
// reflection was half the page's render time).
type worklistRow struct {
	CaseID, Partition, State, Pathway, NCTRDays, DRD string
	Escalation                                       []string
}

type worklistData struct {
	Page         cases.WorklistPage
	Rows         []worklistRow
	Filters      url.Values
	States       []referral.CaseState
	Pathways     []discharge.Concept
	Prev, Next   string
	First, Last  int
	EscalatedNow int
}

// worklist is the hub's (or trust's) open cases by NCTR days, state and
// pathway, with filters and escalation flags.
func (s *Server) worklist(c echo.Context) error {
	vals := s.worklistQuery(c)
	page, err := s.d.Cases.Worklist(c.Request().Context(), principal(c), vals)
	s.audit(c, "search-type", "E", "Encounter", "", err)
	if err != nil {
		return err
	}
	d := worklistData{Page: page, Filters: vals, States: referral.CaseStates(), Pathways: discharge.Pathways(),
		First: page.Offset + 1, Last: page.Offset + len(page.Items)}
	link := func(off int) string {
		q := url.Values{}
		for _, k := range worklistParams {
			if v := vals.Get(k); v != "" {
				q.Set(k, v)
			}
		}
		q.Set("offset", strconv.Itoa(off))
		return "/worklist?" + q.Encode()
	}
	if page.Offset > 0 {
		d.Prev = link(max(0, page.Offset-s.cfg.PageSize))
	}
	if page.Offset+len(page.Items) < page.Total {
		d.Next = link(page.Offset + s.cfg.PageSize)
	}
	d.Rows = make([]worklistRow, len(page.Items))
	for i, it := range page.Items {
		if len(it.Escalation) > 0 {
			d.EscalatedNow++
		}
		r := worklistRow{CaseID: it.CaseID, Partition: it.Partition, State: label(it.State), Pathway: it.Pathway,
			NCTRDays: "–", Escalation: make([]string, len(it.Escalation))}
		if r.Pathway == "" {
			r.Pathway = "–"
		}
		if it.NCTRDays != nil {
			r.NCTRDays = strconv.Itoa(*it.NCTRDays)
		}
		if it.DRD != nil {
			r.DRD = it.DRD.String()
		}
		for j, x := range it.Escalation {
			r.Escalation[j] = label(x)
		}
		d.Rows[i] = r
	}
	return s.render(c, http.StatusOK, "worklist", view{Title: "Worklist", Nav: "worklist", Live: true, Data: d})
}

// worklistEvents is the worklist's live feed (server-sent events): one
// summary of the caller's worklist (open and escalated cases), then the
// stream ends with a retry interval, so the browser asks again every
// LiveEvery. One short request per interval keeps within the gateway's
// request deadline and holds no connection per open page.
func (s *Server) worklistEvents(c echo.Context) error {
	vals := url.Values{"_count": {"1"}}
	page, err := s.d.Cases.Worklist(c.Request().Context(), principal(c), vals)
	if err != nil {
		return err
	}
	esc, err := s.d.Cases.Worklist(c.Request().Context(), principal(c), url.Values{"_count": {"1"}, "escalated": {"true"}})
	if err != nil {
		return err
	}
	h := c.Response().Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	c.Response().WriteHeader(http.StatusOK)
	fmt.Fprintf(c.Response(), "retry: %d\nevent: worklist\ndata: {\"open\":%d,\"escalated\":%d,\"at\":%q}\n\n",
		s.cfg.LiveEvery.Milliseconds(), page.Total, esc.Total, s.now().UTC().Format(time.RFC3339))
	return nil
}

type caseData struct {
	ID   string
	View cases.View
	// Needs are the case's ServiceRequests (each has a shortlist).
	Needs []*discharge.CareNeed
}

// casePage is one case: its state, timeline, offers (an accepted one can
// be confirmed) and a link to each need's shortlist.
func (s *Server) casePage(c echo.Context) error {
	id := c.Param("id")
	v, err := s.d.Cases.Case(c.Request().Context(), principal(c), id)
	s.audit(c, "read", "R", "Encounter", id, err)
	if err != nil {
		return err
	}
	return s.render(c, http.StatusOK, "case", view{Title: "Case " + id, Nav: "worklist", Data: caseData{ID: id, View: v, Needs: v.CareNeeds}})
}

type shortlistData struct {
	CaseID, ServiceRequestID string
	Answer                   placement.Answer
	Names                    map[string]string
}

// shortlist is a need's ranked, explained placement options, each with a
// box to tick: the form sends an offer to every provider ticked.
func (s *Server) shortlist(c echo.Context) error {
	caseID, sr := c.Param("id"), c.QueryParam("need")
	if sr == "" {
		v, err := s.d.Cases.Case(c.Request().Context(), principal(c), caseID)
		s.audit(c, "read", "R", "Encounter", caseID, err)
		if err != nil {
			return err
		}
		if len(v.CareNeeds) == 0 {
			return discharge.E(discharge.KindBusinessRule, "need", "This case has no care need to place yet.")
		}
		sr = v.CareNeeds[0].ID
	}
	a, err := s.d.Placement.Options(c.Request().Context(), placement.Request{Principal: principal(c), ServiceRequestID: sr,
		Query: url.Values{"_count": {"10"}, "explain": {"true"}}})
	s.audit(c, "operation", "E", "ServiceRequest", sr, err)
	if err != nil {
		return err
	}
	return s.render(c, http.StatusOK, "shortlist", view{Title: "Shortlist", Nav: "worklist",
		Data: shortlistData{CaseID: caseID, ServiceRequestID: sr, Answer: a}})
}

// sendOffers sends one offer per provider ticked, all or none (one
// transaction); each value is "organization|service|location".
func (s *Server) sendOffers(c echo.Context) error {
	caseID, sr := c.Param("id"), c.FormValue("need")
	form, err := c.FormParams()
	if err != nil {
		return discharge.E(discharge.KindStructure, "", "The form could not be read.")
	}
	picked := form["provider"]
	if len(picked) == 0 {
		return discharge.E(discharge.KindRequired, "provider", "Choose at least one provider to send the offer to.")
	}
	var bodies [][]byte
	for _, v := range picked {
		org, hcs, loc, ok := splitProvider(v)
		if !ok {
			return discharge.E(discharge.KindValue, "provider", "A provider choice is not one the shortlist offered.")
		}
		b, err := mappings.RequestToTask(mappings.TaskRequest{Status: discharge.OfferRequested, ServiceRequestID: sr,
			Owner: org, HealthcareServiceID: hcs, LocationID: loc})
		if err != nil {
			return err
		}
		bodies = append(bodies, b)
	}
	_, err = s.d.Referrals.SendAll(c.Request().Context(), principal(c), bodies)
	s.audit(c, "create", "C", "Task", "", err)
	if err != nil {
		return err
	}
	return s.flash(c, "/cases/"+url.PathEscape(caseID), fmt.Sprintf("Offer sent to %d provider(s).", len(bodies)))
}

func splitProvider(v string) (org, hcs, loc string, ok bool) {
	var parts [3]string
	n := 0
	start := 0
	for i := 0; i <= len(v); i++ {
		if i == len(v) || v[i] == '|' {
			if n == 3 {
				return "", "", "", false
			}
			parts[n] = v[start:i]
			n++
			start = i + 1
		}
	}
	if n != 3 || parts[0] == "" || parts[1] == "" {
		return "", "", "", false
	}
	return parts[0], parts[1], parts[2], true
}

// confirmOffer confirms an accepted offer (the other open offers of the
// case are cancelled and their holds released).
func (s *Server) confirmOffer(c echo.Context) error {
	id := c.Param("id")
	_, err := s.d.Referrals.Confirm(c.Request().Context(), principal(c), id)
	s.audit(c, "operation", "U", "Task", id, err)
	if err != nil {
		return err
	}
	return s.flash(c, "/cases/"+url.PathEscape(c.FormValue("case")), "Placement confirmed.")
}

// referralRow is one offer as the care home's page lists it.
type referralRow struct {
	ID string
	mappings.TaskRequest
	// BedTypes are the bed types the offered Location has (every bed
	// type when the directory names none), to choose the one to hold.
	BedTypes []discharge.Concept
	// Home names the offered Location as the home knows it (its name and
	// postcode), "" when it is not in the home's directory list.
	Home string
}

type referralsData struct {
	Open, Held []referralRow
	Reasons    []discharge.Concept
}

// referrals is a care home's open referrals (to accept or decline, with a
// reason) and its holds (accepted offers awaiting confirmation).
func (s *Server) referrals(c echo.Context) error {
	ctx := c.Request().Context()
	open, err := s.d.Referrals.Search(ctx, principal(c), url.Values{"status": {"requested,received"}, "_count": {"100"}}, false, "")
	s.audit(c, "search-type", "E", "Task", "", err)
	if err != nil {
		return err
	}
	held, err := s.d.Referrals.Search(ctx, principal(c), url.Values{"status": {"accepted,in-progress"}, "_count": {"100"}}, false, "")
	if err != nil {
		return err
	}
	homes, err := s.d.Homes.Locations(ctx, principal(c))
	if err != nil {
		return err
	}
	d := referralsData{Reasons: discharge.RejectReasons()}
	if d.Open, err = referralRows(open, homes); err != nil {
		return err
	}
	if d.Held, err = referralRows(held, homes); err != nil {
		return err
	}
	return s.render(c, http.StatusOK, "referrals", view{Title: "Referrals", Nav: "referrals", Data: d})
}

func referralRows(ss referral.Searchset, homes []HomeLocation) ([]referralRow, error) {
	all := discharge.BedTypes()
	typesAt := func(loc string) ([]discharge.Concept, string) {
		i := slices.IndexFunc(homes, func(h HomeLocation) bool { return h.ID == loc })
		if i < 0 {
			return all, ""
		}
		if len(homes[i].BedTypes) == 0 {
			return all, homes[i].Label()
		}
		var out []discharge.Concept
		for _, bt := range all {
			if slices.Contains(homes[i].BedTypes, discharge.BedType(bt.Code)) {
				out = append(out, bt)
			}
		}
		return out, homes[i].Label()
	}
	out := make([]referralRow, 0, len(ss.Entries))
	for _, e := range ss.Entries {
		r, err := mappings.TaskToRequest(e.Resource)
		if err != nil {
			return nil, err
		}
		var id struct {
			ID string `json:"id"`
		}
		_ = json.Unmarshal(e.Resource, &id)
		row := referralRow{ID: id.ID, TaskRequest: r}
		row.BedTypes, row.Home = typesAt(r.LocationID)
		out = append(out, row)
	}
	return out, nil
}

// acceptReferral accepts an offer, holding a bed of the chosen type at
// the offered Location (the referral loop takes the hold atomically).
func (s *Server) acceptReferral(c echo.Context) error {
	id := c.Param("id")
	b, err := mappings.RequestToTask(mappings.TaskRequest{Status: discharge.OfferAccepted,
		HeldLocationID: c.FormValue("location"), BedType: discharge.BedType(c.FormValue("bedType"))})
	if err != nil {
		return err
	}
	_, err = s.d.Referrals.Update(c.Request().Context(), principal(c), id, b, "")
	s.audit(c, "update", "U", "Task", id, err)
	if err != nil {
		return err
	}
	return s.flash(c, "/referrals", "Referral accepted: the bed is held until the trust confirms.")
}

// declineReferral declines an offer with a reason.
func (s *Server) declineReferral(c echo.Context) error {
	id := c.Param("id")
	reason := c.FormValue("reason")
	if reason == "" {
		return discharge.E(discharge.KindRequired, "reason", "Choose a reason for declining.")
	}
	b, err := mappings.RequestToTask(mappings.TaskRequest{Status: discharge.OfferRejected,
		Reason: discharge.RejectReason(reason), ReasonText: c.FormValue("reasonText")})
	if err != nil {
		return err
	}
	_, err = s.d.Referrals.Update(c.Request().Context(), principal(c), id, b, "")
	s.audit(c, "update", "U", "Task", id, err)
	if err != nil {
		return err
	}
	return s.flash(c, "/referrals", "Referral declined.")
}

type capacityData struct {
	Postcode, Setting string
	Settings          []discharge.Concept
	Summary           *capacity.BedSummary
}

// capacityPage is the capacity near a postcode district by care setting,
// each home with its freshness. Not patient data: not audited.
func (s *Server) capacityPage(c echo.Context) error {
	d := capacityData{Postcode: c.QueryParam("district"), Setting: c.QueryParam("setting"), Settings: discharge.CareSettings()}
	if d.Postcode != "" {
		q := url.Values{"postcode": {d.Postcode}, "radiusKm": {"10"}}
		if d.Setting != "" {
			q.Set("setting", d.Setting)
		}
		sq, err := capacity.ParseSummaryQuery(q)
		if err != nil {
			return err
		}
		sum, err := s.d.Capacity.Summarise(c.Request().Context(), sq)
		if err != nil {
			return err
		}
		d.Summary = sum.Beds
	}
	return s.render(c, http.StatusOK, "capacity", view{Title: "Capacity", Nav: "capacity", Data: d})
}
