package gateway

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/fhir"
	"github.com/dischargegateway/gateway/mappings"
)

// translate is ConceptMap/$translate (GET with query parameters, or POST with
// a Parameters resource): it answers which gateway concept a source code maps
// to, with the equivalence and the ConceptMap that says so
// (mappings.TranslateResponse).
func (s *Server) translate(c echo.Context) error {
	in, err := s.translateParams(c)
	if err != nil {
		return err
	}
	var issues discharge.Issues
	if in.Code == "" {
		issues.Add(discharge.KindRequired, "code", "$translate needs a code (and its system).")
	}
	if in.System == "" {
		issues.Add(discharge.KindRequired, "system", "$translate needs the code's system.")
	}
	if err := issues.Err(discharge.KindRequired, "$translate"); err != nil {
		return err
	}
	matches := s.tr.TranslateAll(in.System, in.Code, in.Target, in.URL)
	return respond(c, http.StatusOK, mappings.TranslateResponse(matches))
}

// translateParams reads the query of a GET, or the Parameters body of a
// POST (mappings.DecodeTranslateParameters).
func (s *Server) translateParams(c echo.Context) (mappings.TranslateRequest, error) {
	if c.Request().Method == http.MethodGet {
		q := c.QueryParams()
		for name := range q {
			switch name {
			case "url", "system", "code", "target", "targetsystem", "_format":
			default:
				return mappings.TranslateRequest{}, discharge.E(discharge.KindNotSupported, name, "Unsupported $translate parameter '"+name+"'.")
			}
		}
		in := mappings.TranslateRequest{URL: q.Get("url"), System: q.Get("system"), Code: q.Get("code"), Target: q.Get("targetsystem")}
		if in.Target == "" {
			in.Target = q.Get("target")
		}
		return in, nil
	}
	body, err := s.readBody(c, "Parameters")
	if err != nil {
		return mappings.TranslateRequest{}, err
	}
	if _, err := fhir.Validate(body, "Parameters", s.cfg.Limits); err != nil {
		return mappings.TranslateRequest{}, err
	}
	return mappings.DecodeTranslateParameters(body)
}
