package gateway

import (
	"log/slog"
	"math"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/dischargegateway/gateway/auth"
	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/records"
)

// Security holds what the gateway needs to authenticate and authorise.
type Security struct {
	Verifier *auth.Verifier   // client assertions at /oauth2/token
	Issuer   *auth.Issuer     // the gateway's access tokens
	Audit    auth.AuditLog    // who touched which patient data
	Limiter  auth.RateLimiter // per-client request limits; nil for none
}

const ctxPrincipal = "dg.principal"

// principal returns the authenticated caller.
func principal(c echo.Context) *auth.Principal {
	p, _ := c.Get(ctxPrincipal).(*auth.Principal)
	return p
}

// authenticate requires a valid bearer token, then applies the caller's
// rate limit. Unauthenticated requests never reach a handler or the store.
func (s *Server) authenticate(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		token, err := auth.ParseBearer(c.Request().Header.Get(echo.HeaderAuthorization))
		if err != nil {
			return err
		}
		p, err := s.access.Verify(token)
		if err != nil {
			return err
		}
		c.Set(ctxPrincipal, p)
		c.SetRequest(c.Request().WithContext(auth.WithPrincipal(c.Request().Context(), p)))
		if s.sec.Limiter != nil {
			ok, wait, err := s.sec.Limiter.Allow(c.Request().Context(), p.ClientID)
			if err != nil {
				return err
			}
			if !ok {
				c.Response().Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
				return discharge.E(discharge.KindThrottled, "", "Too many requests for this client: retry after the time in Retry-After.")
			}
		}
		return next(c)
	}
}

// requireScope checks the token's SMART scopes for op (c r u d s) on the
// route's resource type.
func (s *Server) requireScope(typ string, op byte) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if err := s.allow(c, typ, op); err != nil {
				return err
			}
			return next(c)
		}
	}
}

// requireWriter admits only the role that writes typ (records.CheckWriter):
// the route table declares it on every create and update route.
func requireWriter(typ string) echo.MiddlewareFunc {
	return requireCaller(func(p *auth.Principal) error { return records.CheckWriter(p, typ) })
}

// requireCaller admits only callers a service's role rule allows (e.g.
// capacity.MayPost), so the route table, not the handler, declares who
// may use a route.
func requireCaller(rule func(*auth.Principal) error) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if err := rule(principal(c)); err != nil {
				return err
			}
			return next(c)
		}
	}
}

// requireRole admits only callers of the given role.
func requireRole(role auth.Role, why string) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if p := principal(c); p == nil || p.Role != role {
				return discharge.E(discharge.KindForbidden, "", why)
			}
			return next(c)
		}
	}
}

func (s *Server) allow(c echo.Context, typ string, op byte) error {
	return records.Allow(principal(c), typ, op)
}

// audited records an AuditEvent for a patient-data interaction once the
// handler has answered, whatever the outcome, and only then lets the answer
// leave (audithold.go). The entry names the FHIR resource the route serves:
// its type from the /fhir path, and the :id (or the id a create assigned);
// a type-level call names the type alone.
func (s *Server) audited(interaction, action string) echo.MiddlewareFunc {
	return s.auditedAs("", interaction, action)
}

// auditedAs is audited for a route whose path is not a FHIR one, naming the
// resource type its :id belongs to: /api/v1/cases/{id} shows the Encounter
// {id} (the case is the Encounter), so an audit search by Encounter/{id}
// finds who read the case and the NHS number in it.
func (s *Server) auditedAs(typ, interaction, action string) echo.MiddlewareFunc {
	// Reads, searches and operations disclose; their answer is refused
	// when the access cannot be recorded (audithold.go).
	discloses := action == "R" || action == "E"
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			res := c.Response()
			conn := res.Writer
			held := holdResponse(conn)
			res.Writer = held
			defer func() {
				res.Writer = conn
				if held.body != nil && held.wrote() {
					// An answer never released (its access could not be
					// recorded, or the handler panicked after answering)
					// is dropped, so the error's OperationOutcome can go out.
					res.Committed, res.Status, res.Size = false, 0, 0
				}
				held.discard()
			}()
			err := next(c)
			status := res.Status
			if err != nil {
				status = statusOf(toError(err).Kind)
			}
			id := c.Param("id")
			if id == "" {
				if v, ok := c.Get(ctxCreatedID).(string); ok {
					id = v
				}
			}
			t := typ
			if t == "" {
				t = endpointType(c)
			}
			if aerr := s.audit(c, interaction, action, t, id, status); aerr != nil && discloses && held.wrote() && held.status < 400 {
				return auditRefusal(aerr)
			}
			held.release()
			return err
		}
	}
}

const ctxCreatedID = "dg.created_id"

// auditRefusal is the error that replaces a disclosure whose access could
// not be recorded: 503 either way, timeout when the request's deadline
// passed first, transient otherwise.
func auditRefusal(aerr error) error {
	kind := discharge.KindUnavailable
	if discharge.ErrorKind(aerr) == discharge.KindTimeout {
		kind = discharge.KindTimeout
	}
	return &discharge.Error{Kind: kind, Op: "audit", Err: aerr, Issues: []discharge.Issue{{
		Kind: kind, Message: "The access could not be recorded in the audit trail, so nothing was disclosed. Retry later."}}}
}

// audit records one entry. A failure to audit is logged and returned: the
// audit middleware refuses a disclosure it could not record; where the
// caller's answer is a change already made, it is only logged.
func (s *Server) audit(c echo.Context, interaction, action, typ, id string, status int) error {
	if s.sec.Audit == nil {
		return nil
	}
	p := principal(c)
	e := auth.AuditEntry{Time: s.now().UTC(), Action: action, Interaction: interaction, ResourceType: typ,
		ResourceID: id, Status: status, RequestID: requestID(c)}
	if p != nil {
		e.ClientID, e.Org, e.Role = p.ClientID, p.Org, p.Role
	}
	err := s.sec.Audit.Record(c.Request().Context(), e)
	if err != nil {
		s.log.Error("audit record failed", slog.String("error", err.Error()), slog.String("request_id", requestID(c)))
	}
	return err
}

// wwwAuthenticate is the challenge sent with every 401.
func wwwAuthenticate(de *discharge.Error) string {
	h := `Bearer realm="discharge-gateway"`
	if len(de.Issues) > 0 && de.Issues[0].Detail == "invalid_token" {
		h += `, error="invalid_token"`
	}
	return h
}
