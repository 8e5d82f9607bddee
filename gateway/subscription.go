package gateway

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/fhir"
	"github.com/dischargegateway/gateway/mappings"
)

// The Subscription interactions (docs/subscriptions.md): each handler hands
// the body and the caller to one method of subscription.Service, which
// owns the rules (topics by role, filters, endpoint safety, tenancy).

// secretHeader returns a new Subscription's signing secret, once, on the
// create's answer: the Subscription resource has no element for it and a
// read never shows it.
const secretHeader = "X-Subscription-Secret"

// createSubscription is POST /fhir/Subscription.
func (s *Server) createSubscription(c echo.Context) error {
	body, err := s.readBody(c, "Subscription")
	if err != nil {
		return err
	}
	r, err := s.subscriptions.Create(c.Request().Context(), principal(c), body)
	if err != nil {
		return err
	}
	c.Set(ctxCreatedID, r.Resource.ID)
	c.Response().Header().Set(secretHeader, r.Secret)
	c.Response().Header().Set("Cache-Control", "no-store")
	rs := r.Resource
	s.writeHeaders(c, rs.Type, rs.ID, rs.VersionID, rs.LastUpdated, true)
	return s.reply(c, http.StatusCreated, rs.JSON, nil)
}

// readSubscription is GET /fhir/Subscription/{id}.
func (s *Server) readSubscription(c echo.Context) error {
	r, err := s.subscriptions.Read(c.Request().Context(), principal(c), c.Param("id"))
	if err != nil {
		return err
	}
	return s.replyRead(c, r)
}

// searchSubscriptions is GET /fhir/Subscription: the caller's own.
func (s *Server) searchSubscriptions(c echo.Context) error {
	rs, err := s.subscriptions.Search(c.Request().Context(), principal(c), c.QueryParams())
	if err != nil {
		return err
	}
	base := s.baseURL(c)
	entries := make([]fhir.BundleEntryOut, len(rs))
	for i, r := range rs {
		entries[i] = fhir.BundleEntryOut{FullURL: base + "/Subscription/" + r.ID, Resource: r.JSON, SearchMode: "match"}
	}
	total := len(rs)
	self := []fhir.Link{{Relation: "self", URL: base + "/Subscription" + queryOf(c)}}
	return respond(c, http.StatusOK, fhir.MarshalBundle("searchset", &total, self, entries))
}

func queryOf(c echo.Context) string {
	if q := c.Request().URL.RawQuery; q != "" {
		return "?" + q
	}
	return ""
}

// deleteSubscription is DELETE /fhir/Subscription/{id}.
func (s *Server) deleteSubscription(c echo.Context) error {
	if err := s.subscriptions.Delete(c.Request().Context(), principal(c), c.Param("id")); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// subscriptionStatus is GET or POST /fhir/Subscription/{id}/$status.
func (s *Server) subscriptionStatus(c echo.Context) error {
	body, err := s.subscriptions.Status(c.Request().Context(), principal(c), c.Param("id"), s.baseURL(c))
	if err != nil {
		return err
	}
	return respond(c, http.StatusOK, body)
}

// subscriptionEvents is GET or POST /fhir/Subscription/{id}/$events, its
// parameters in the query or a Parameters body.
func (s *Server) subscriptionEvents(c echo.Context) error {
	params, err := s.operationParams(c)
	if err != nil {
		return err
	}
	body, err := s.subscriptions.Events(c.Request().Context(), principal(c), c.Param("id"), params, s.baseURL(c))
	if err != nil {
		return err
	}
	return respond(c, http.StatusOK, body)
}

// operationParams reads an operation's primitive parameters from the
// query (GET) or a Parameters body (POST), each at most once.
func (s *Server) operationParams(c echo.Context) (map[string]string, error) {
	out := map[string]string{}
	if c.Request().Method != http.MethodPost || c.Request().ContentLength == 0 {
		for name, vs := range c.QueryParams() {
			if name == "_format" {
				continue
			}
			if len(vs) != 1 {
				return nil, discharge.E(discharge.KindValue, name, "The parameter is given more than once.")
			}
			out[name] = vs[0]
		}
		return out, nil
	}
	body, err := s.readBody(c, "Parameters")
	if err != nil {
		return nil, err
	}
	ps, err := mappings.DecodeParameters(body, s.cfg.Limits)
	if err != nil {
		return nil, err
	}
	for _, p := range ps {
		if p.Err != nil {
			return nil, p.Err
		}
		if _, dup := out[p.Name]; dup {
			return nil, discharge.E(discharge.KindValue, p.At, "The parameter is given more than once.")
		}
		out[p.Name] = p.Value
	}
	return out, nil
}

// subscriptionsReady answers 503 when no subscription service is wired.
func (s *Server) subscriptionsReady(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if s.subscriptions == nil {
			return discharge.E(discharge.KindUnavailable, "", "Subscriptions are not configured on this gateway.")
		}
		return next(c)
	}
}

// subscriptionCapability is the CapabilityStatement's Subscription entry:
// the interactions and operations routed; the topics and their filters are
// mappings.SubscriptionCapability's.
func subscriptionCapability() capability {
	ext, doc := mappings.SubscriptionCapability()
	return capability{
		Interactions: []string{"create", "read", "delete", "search-type"},
		SearchParams: []fhir.SearchParam{{Name: "status", Type: fhir.ParamToken,
			Definition: "http://hl7.org/fhir/SearchParameter/Subscription-status", Doc: "requested, active, error or off"}},
		Operations: []operationRef{{Name: "status", Definition: mappings.SubscriptionStatusOperation},
			{Name: "events", Definition: mappings.SubscriptionEventsOperation}},
		Extension:     ext,
		Documentation: doc,
	}
}
