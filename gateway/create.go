package gateway

import (
	"context"
	"net/http"
	"net/url"

	"github.com/labstack/echo/v4"

	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/fhir"
)

// outcome is the result of one create or update: the stored candidate, or
// the existing resource a conditional create matched.
type outcome struct {
	status   int
	cd       *candidate
	existing *fhir.Resource
}

func (o outcome) resource() (typ, id string, version int64, json []byte) {
	if o.existing != nil {
		return o.existing.Type, o.existing.ID, o.existing.VersionID, o.existing.JSON
	}
	return o.cd.typ, o.cd.id, o.cd.version, o.cd.json
}

// create is the FHIR create interaction, with conditional create when the
// request carries If-None-Exist.
func (s *Server) create(c echo.Context) error {
	typ, doc, part, err := s.incoming(c)
	if err != nil {
		return err
	}
	o, err := s.doCreate(c.Request().Context(), part, typ, doc, c.Request().Header.Get("If-None-Exist"), typ)
	if err != nil {
		return err
	}
	_, id, _, _ := o.resource()
	c.Set(ctxCreatedID, id)
	if o.existing != nil {
		s.writeHeaders(c, typ, o.existing.ID, o.existing.VersionID, o.existing.LastUpdated, true)
		return respond(c, o.status, o.existing.JSON)
	}
	s.writeHeaders(c, typ, o.cd.id, o.cd.version, o.cd.now, true)
	return s.reply(c, o.status, o.cd)
}

// doCreate creates one resource, or returns the one an If-None-Exist query
// matches. Racing identical conditional creates leave exactly one resource:
// the loser's guarded commit fails and it finds the winner's on retry.
func (s *Server) doCreate(ctx context.Context, part, typ string, doc map[string]any, cond, path string) (outcome, error) {
	for attempt := 0; ; attempt++ {
		var guards []fhir.Guard
		if cond != "" {
			existing, g, err := s.conditionalMatch(ctx, part, typ, cond)
			if err != nil {
				return outcome{}, err
			}
			if existing != nil {
				return outcome{status: http.StatusOK, existing: existing}, nil
			}
			guards = g
		}
		cd := &candidate{typ: typ, id: newID(), doc: doc, version: 1, path: path, now: s.now()}
		if err := s.intake(ctx, part, cd, nil); err != nil {
			return outcome{}, err
		}
		if err := cd.finish(); err != nil {
			return outcome{}, err
		}
		err := s.commit(ctx, part, []*candidate{cd}, guards)
		if discharge.ErrorKind(err) == discharge.KindRetry && attempt < maxRetries {
			continue
		}
		if err != nil {
			return outcome{}, err
		}
		return outcome{status: http.StatusCreated, cd: cd}, nil
	}
}

// conditionalMatch evaluates an If-None-Exist query. It returns the one
// existing match, or the guards that make creating safe against a
// concurrent identical request, or 412 for several matches.
func (s *Server) conditionalMatch(ctx context.Context, part, typ, cond string) (*fhir.Resource, []fhir.Guard, error) {
	vals, err := url.ParseQuery(cond)
	if err != nil || len(vals) == 0 {
		return nil, nil, discharge.E(discharge.KindInvalid, "", "If-None-Exist must be a search query such as identifier=system|value.")
	}
	// A condition is search parameters only: a result parameter (_count,
	// _offset, _include...) would leave a query with no filter, which
	// matches any resource of the type and so "finds" an unrelated one.
	for name := range vals {
		if resultParams[name] {
			return nil, nil, discharge.E(discharge.KindInvalid, "",
				"If-None-Exist takes search parameters only, not "+name+".")
		}
	}
	q, _, err := s.buildQuery(ctx, part, typ, vals, true)
	if err != nil {
		return nil, nil, err
	}
	q.Count = 2
	var found []fhir.Resource
	total := 0
	if !q.empty {
		found, total, err = s.store.Search(ctx, part, q.Query)
		if err != nil {
			return nil, nil, err
		}
	}
	switch {
	case total > 1:
		return nil, nil, discharge.E(discharge.KindMultipleMatches, "",
			"If-None-Exist matched more than one resource.")
	case total == 1 && len(found) == 1:
		return &found[0], nil, nil
	}
	// Guard every single-valued token filter: its index entry must still be
	// empty when the create commits, so only one of many racing requests wins.
	var guards []fhir.Guard
	for _, f := range q.Filters {
		if f.Range == nil && len(f.AnyOf) == 1 {
			guards = append(guards, fhir.Guard{Type: typ, Param: f.Param, Token: f.AnyOf[0]})
		}
	}
	return nil, guards, nil
}
