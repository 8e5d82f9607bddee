package gateway

import (
	"net/http"
	"slices"

	"github.com/labstack/echo/v4"

	"github.com/dischargegateway/gateway/auth"
	"github.com/dischargegateway/gateway/conformance"
	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/fhir"
	"github.com/dischargegateway/gateway/mappings"
	"github.com/dischargegateway/gateway/records"
	"github.com/dischargegateway/gateway/referral"
)

// The referral loop's Task interactions (docs/referrals.md). Each handler
// decodes nothing itself: it hands the body and the caller to one method of
// referral.Service, which owns the rules (who may move which offer where,
// the hold, the minimised pack), and encodes the answer.

// Who may use the Task routes, by role: the route table's first wall. The
// referral service then checks the caller against the offer itself (its
// owner, its requester, a hub's member trusts).
var (
	// taskSenders send and confirm offers: a trust for its own cases, a hub
	// for its member trusts'.
	taskSenders = []auth.Role{auth.RoleTrust, auth.RoleHub}
	// taskParties see and answer offers: the senders, and the care
	// providers they were sent to. Admins never see patient data.
	taskParties = []auth.Role{auth.RoleTrust, auth.RoleHub, auth.RoleCareProvider}
)

// requireRoles admits only callers of one of the roles.
func requireRoles(why string, roles ...auth.Role) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if p := principal(c); p == nil || !slices.Contains(roles, p.Role) {
				return discharge.E(discharge.KindForbidden, "", why)
			}
			return next(c)
		}
	}
}

// sendTask is POST /fhir/Task: one offer of a ServiceRequest to one
// provider (referral.Service.Send).
func (s *Server) sendTask(c echo.Context) error {
	body, err := s.readBody(c, "Task")
	if err != nil {
		return err
	}
	r, err := s.referrals.Send(c.Request().Context(), principal(c), body)
	if err != nil {
		return err
	}
	c.Set(ctxCreatedID, r.Resource.ID)
	return s.replyTask(c, r)
}

// updateTask is PUT /fhir/Task/{id} with If-Match: the owner's answer
// (received, accepted with a hold, rejected) or the requester's withdrawal
// (referral.Service.Update).
func (s *Server) updateTask(c echo.Context) error {
	body, err := s.readBody(c, "Task")
	if err != nil {
		return err
	}
	r, err := s.referrals.Update(c.Request().Context(), principal(c), c.Param("id"), body, c.Request().Header.Get("If-Match"))
	if err != nil {
		return err
	}
	return s.replyTask(c, r)
}

// confirmTask is POST /fhir/Task/{id}/$confirm: the requester confirms
// one accepted offer (referral.Service.Confirm). It takes no parameters;
// a body, if any, is ignored unread.
func (s *Server) confirmTask(c echo.Context) error {
	r, err := s.referrals.Confirm(c.Request().Context(), principal(c), c.Param("id"))
	if err != nil {
		return err
	}
	return s.replyTask(c, r)
}

// replyTask answers a Task written: its version's ETag and Last-Modified
// (and Location when created), then the Task, honouring Prefer: return=.
func (s *Server) replyTask(c echo.Context, r referral.Result) error {
	rs := r.Resource
	s.writeHeaders(c, rs.Type, rs.ID, rs.VersionID, rs.LastUpdated, r.Status == http.StatusCreated)
	return s.reply(c, r.Status, rs.JSON, r.Warnings)
}

// readTask is GET /fhir/Task/{id}, with the conditional headers of read.
func (s *Server) readTask(c echo.Context) error {
	r, err := s.referrals.Read(c.Request().Context(), principal(c), c.Param("id"))
	if err != nil {
		return err
	}
	return s.replyRead(c, r)
}

// vreadTask is GET /fhir/Task/{id}/_history/{vid}.
func (s *Server) vreadTask(c echo.Context) error {
	r, err := s.referrals.VRead(c.Request().Context(), principal(c), c.Param("id"), c.Param("vid"))
	if err != nil {
		return err
	}
	return s.replyRead(c, r)
}

// taskHistory is GET /fhir/Task/{id}/_history: every version, newest first.
func (s *Server) taskHistory(c echo.Context) error {
	body, err := s.referrals.History(c.Request().Context(), principal(c), c.Param("id"), c.QueryParams(), s.baseURL(c))
	if err != nil {
		return err
	}
	return respond(c, http.StatusOK, body)
}

// searchTasks is GET /fhir/Task: the Tasks the caller may see, as a
// searchset with every match counted and paging links.
func (s *Server) searchTasks(c echo.Context) error {
	ss, err := s.referrals.Search(c.Request().Context(), principal(c), c.QueryParams(), preferStrict(c), s.baseURL(c))
	if err != nil {
		return err
	}
	entries := ss.Entries
	if len(ss.Warnings) > 0 {
		entries = append(entries, warningsEntry(ss.Warnings))
	}
	return respond(c, http.StatusOK, fhir.MarshalBundle("searchset", &ss.Total, ss.Links, entries))
}

// referralPack is GET /fhir/Task/{id}/$referral-pack: what the provider
// needs to decide, minimised until it has accepted. referral.Service.Pack
// audits every pack it serves (interaction operation-identified when it
// disclosed the patient's identity).
func (s *Server) referralPack(c echo.Context) error {
	body, err := s.referrals.Pack(c.Request().Context(), principal(c), c.Param("id"), s.baseURL(c))
	if err != nil {
		return err
	}
	return respond(c, http.StatusOK, body)
}

// sendTasks answers a transaction Bundle whose every entry creates a Task
// (mappings.TaskTransaction, whose verdict on the Bundle is invalid): all
// the offers are sent in one transaction by referral.Service.SendAll, not
// by the record's transaction path, and the answer is the same
// transaction-response a records transaction gives. POST /fhir carries no
// Task guard of its own, so the Task create scope is checked here, as
// records checks each entry's. Each entry is audited as a Task create,
// those of a refused Bundle too.
func (s *Server) sendTasks(c echo.Context, bodies [][]byte, invalid error) error {
	err := invalid
	if err == nil {
		err = records.AtExpression(s.allow(c, "Task", 'c'), "Bundle.entry[0].request")
	}
	if err == nil && s.referrals == nil {
		err = discharge.E(discharge.KindUnavailable, "", "The referral service is not configured on this gateway.")
	}
	var rs []referral.Result
	if err == nil {
		rs, err = s.referrals.SendAll(c.Request().Context(), principal(c), bodies)
	}
	if err != nil {
		status := statusOf(toError(err).Kind)
		for range bodies {
			s.audit(c, "transaction", "C", "Task", "", status)
		}
		return err
	}
	res := records.BundleResult{Interaction: "transaction", Entries: make([]records.EntryResult, len(rs))}
	for i, r := range rs {
		res.Entries[i] = records.EntryResult{Outcome: records.Outcome{Status: r.Status, Resource: r.Resource, Warnings: r.Warnings}}
		s.audit(c, "transaction", "C", "Task", r.Resource.ID, r.Status)
	}
	return respond(c, http.StatusOK, s.responseBundle(c, res))
}

// taskCapability is the CapabilityStatement's Task entry: what the routes
// above serve, the search parameters referral.Service.Search takes, and
// the two operations.
func taskCapability() capability {
	def := func(name string) string { return "http://hl7.org/fhir/SearchParameter/" + name }
	return capability{
		Interactions: []string{"create", "read", "vread", "update", "history-instance", "search-type"},
		SearchParams: []fhir.SearchParam{
			{Name: "owner", Type: fhir.ParamReference, Definition: def("Task-owner"),
				Doc: "Organization/{id}: the provider the offer was sent to. A care provider sees only the Tasks it owns, whatever it asks."},
			{Name: "status", Type: fhir.ParamToken, Definition: def("Task-status"),
				Doc: "requested, received, accepted, rejected, cancelled, failed, in-progress, completed (comma for any of them)"},
			{Name: "focus", Type: fhir.ParamReference, Definition: def("Task-focus"), Doc: "ServiceRequest/{id}: the offers of one request"},
			{Name: "patient", Type: fhir.ParamReference, Definition: def("Task-patient"), Doc: "Patient/{id}: the offers for one patient"},
			{Name: "_lastUpdated", Type: fhir.ParamDate, Definition: def("Resource-lastUpdated"),
				Doc: "When the Task last changed (eq, ge, gt, le, lt): a provider's worklist polls with ge"},
		},
		Operations: []operationRef{{Name: "confirm", Definition: conformance.TaskConfirmURL}, {Name: "referral-pack", Definition: conformance.ReferralPackURL}},
		Versioned:  true, NoUpdateCreate: true, Profile: mappings.TaskProfileURL,
	}
}

// referralsReady answers 503 on the Task routes of a gateway built
// without a referral service (Deps.Referrals), after the route's guards.
func (s *Server) referralsReady(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if s.referrals == nil {
			return discharge.E(discharge.KindUnavailable, "", "The referral service is not configured on this gateway.")
		}
		return next(c)
	}
}

// ruleSystems names the CodeSystem of each Issue.Detail code that is not
// NHS Spine's: the referral loop's rules (mappings.OfferRules publishes
// them; TestOfferRulesPublished checks every rule is, and the loop test
// that a refusal carries this system).
var ruleSystems = map[string]string{
	referral.RuleTaskMove:     mappings.OfferRuleSystem,
	referral.RuleHoldBookable: mappings.OfferRuleSystem,
	referral.RuleTaskContent:  mappings.OfferRuleSystem,
}

// detailSystem is the system of an issue's detail code
// (OperationOutcome.issue.details.coding.system): a referral rule's, or
// Spine's error codes (NHS number checks, OAuth errors).
func detailSystem(code string) string {
	if sys, ok := ruleSystems[code]; ok {
		return sys
	}
	return fhir.SpineErrorSystem
}
