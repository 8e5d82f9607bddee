package gateway

import (
	"encoding/json"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/dischargegateway/gateway/discharge"
)

// translateInput holds the $translate parameters the gateway supports.
type translateInput struct {
	url, system, code, target string
}

// translate is ConceptMap/$translate (GET with query parameters, or POST with
// a Parameters resource): it answers which gateway concept a source code maps
// to, with the equivalence and the ConceptMap that says so.
func (s *Server) translate(c echo.Context) error {
	in, err := s.translateParams(c)
	if err != nil {
		return err
	}
	var issues discharge.Issues
	if in.code == "" {
		issues.Add(discharge.KindRequired, "code", "$translate needs a code (and its system).")
	}
	if in.system == "" {
		issues.Add(discharge.KindRequired, "system", "$translate needs the code's system.")
	}
	if err := issues.Err(discharge.KindRequired, "$translate"); err != nil {
		return err
	}
	matches := s.tr.TranslateAll(in.system, in.code, in.target, in.url)
	// result is true only when some match lets the code stand for its
	// target: unmatched and disjoint answers are reported, but are no.
	ok := false
	for _, m := range matches {
		ok = ok || m.Maps()
	}
	params := []map[string]any{{"name": "result", "valueBoolean": ok}}
	if !ok {
		params = append(params, map[string]any{"name": "message", "valueString": "No loaded ConceptMap translates this code."})
	}
	for _, m := range matches {
		params = append(params, map[string]any{"name": "match", "part": []map[string]any{
			{"name": "equivalence", "valueCode": m.Equivalence},
			{"name": "concept", "valueCoding": map[string]any{"system": m.System, "code": m.Target.Code, "display": m.Target.Display}},
			{"name": "source", "valueUri": m.ConceptMapURL},
		}})
	}
	body, _ := json.Marshal(map[string]any{"resourceType": "Parameters", "parameter": params})
	return respond(c, http.StatusOK, body)
}

func (s *Server) translateParams(c echo.Context) (translateInput, error) {
	var in translateInput
	if c.Request().Method == http.MethodGet {
		q := c.QueryParams()
		for name := range q {
			switch name {
			case "url", "system", "code", "target", "targetsystem", "_format":
			default:
				return in, discharge.E(discharge.KindNotSupported, name, "Unsupported $translate parameter '"+name+"'.")
			}
		}
		in = translateInput{url: q.Get("url"), system: q.Get("system"), code: q.Get("code"), target: q.Get("targetsystem")}
		if in.target == "" {
			in.target = q.Get("target")
		}
		return in, nil
	}
	body, err := s.readBody(c, "Parameters")
	if err != nil {
		return in, err
	}
	doc, err := s.validate(body, "Parameters")
	if err != nil {
		return in, err
	}
	ps, _ := doc["parameter"].([]any)
	for i, p := range ps {
		pm, _ := p.(map[string]any)
		name, _ := pm["name"].(string)
		val := ""
		for _, k := range []string{"valueUri", "valueCode", "valueString", "valueCanonical"} {
			if v, ok := pm[k].(string); ok {
				val = v
			}
		}
		if cd, ok := pm["valueCoding"].(map[string]any); ok && name == "coding" {
			in.system, _ = cd["system"].(string)
			in.code, _ = cd["code"].(string)
			continue
		}
		switch name {
		case "url":
			in.url = val
		case "system":
			in.system = val
		case "code":
			in.code = val
		case "target", "targetsystem":
			in.target = val
		default:
			return in, discharge.E(discharge.KindNotSupported, "Parameters.parameter["+itoa(i)+"].name",
				"Unsupported $translate parameter '"+name+"'.")
		}
	}
	return in, nil
}
