package gateway

import (
	"errors"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/dischargegateway/gateway/discharge"
)

const (
	fhirJSON  = "application/fhir+json; charset=utf-8"
	plainJSON = "application/json; charset=utf-8"
	ctxFormat = "dg.format"
)

func asMaxBytes(err error, target **http.MaxBytesError) bool { return errors.As(err, target) }

// negotiate enforces JSON-only content negotiation for /fhir: _format
// overrides Accept; an unsupported response format is 406, an unsupported
// request body type is 415. Both say that only JSON is supported.
func (s *Server) negotiate(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if err := s.negotiateResponse(c, true); err != nil {
			return err
		}
		if err := checkRequestType(c, endpointType(c)); err != nil {
			return err
		}
		return next(c)
	}
}

// negotiateJSON is negotiate for the plain-JSON API: no _format.
func (s *Server) negotiateJSON(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if err := s.negotiateResponse(c, false); err != nil {
			return err
		}
		if err := checkRequestType(c, ""); err != nil {
			return err
		}
		return next(c)
	}
}

func (s *Server) negotiateResponse(c echo.Context, fhirDefault bool) error {
	def := fhirJSON
	if !fhirDefault {
		def = plainJSON
	}
	c.Set(ctxFormat, def)
	if f := c.QueryParam("_format"); f != "" && fhirDefault {
		if _, params, err := mime.ParseMediaType(f); err == nil && !supportedVersion(params) {
			return discharge.E(discharge.KindNotAcceptable, "_format", versionText)
		}
		switch strings.ToLower(strings.TrimSpace(strings.SplitN(f, ";", 2)[0])) {
		case "json", "application/fhir+json":
			c.Set(ctxFormat, fhirJSON)
			return nil
		case "application/json":
			c.Set(ctxFormat, plainJSON)
			return nil
		}
		return discharge.E(discharge.KindNotAcceptable, "_format",
			"Only JSON is supported: _format must be json, application/fhir+json or application/json.")
	}
	accept := c.Request().Header.Get(echo.HeaderAccept)
	if strings.TrimSpace(accept) == "" {
		return nil
	}
	best, ok := pickJSON(accept, def)
	if !ok {
		msg := "Only JSON is supported: accept application/fhir+json or application/json."
		if versionRefused(accept) {
			msg = versionText
		}
		return discharge.E(discharge.KindNotAcceptable, "", msg)
	}
	c.Set(ctxFormat, best)
	return nil
}

// pickJSON chooses the JSON flavour the Accept header prefers, honouring q.
func pickJSON(accept, def string) (string, bool) {
	bestQ := 0.0
	best := ""
	for _, part := range strings.Split(accept, ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		q := 1.0
		if v, ok := params["q"]; ok {
			if f, err := strconv.ParseFloat(v, 64); err == nil {
				q = f
			}
		}
		if q <= 0 || !supportedVersion(params) {
			continue
		}
		var choice string
		switch mt {
		case "application/fhir+json":
			choice = fhirJSON
		case "application/json":
			choice = plainJSON
		case "*/*", "application/*":
			choice = def
		default:
			continue
		}
		if q > bestQ {
			bestQ, best = q, choice
		}
	}
	return best, best != ""
}

// checkRequestType answers 415 for a body that is not JSON.
func checkRequestType(c echo.Context, expression string) error {
	r := c.Request()
	if r.Method != http.MethodPost && r.Method != http.MethodPut && r.Method != http.MethodPatch {
		return nil
	}
	ct := r.Header.Get(echo.HeaderContentType)
	if ct == "" && r.ContentLength == 0 {
		return nil // an empty body is judged by the handler
	}
	mt, params, err := mime.ParseMediaType(ct)
	if err == nil {
		// The body is read as UTF-8 (RFC 8259 section 8.1 and FHIR's JSON
		// format require it): any other charset would be misread, not refused.
		if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") && !strings.EqualFold(cs, "utf8") {
			return discharge.E(discharge.KindUnsupportedMedia, expression,
				"The body must be UTF-8: send no charset, or charset=utf-8.")
		}
		if !supportedVersion(params) {
			return discharge.E(discharge.KindUnsupportedMedia, expression, versionText)
		}
	}
	if err == nil && (mt == "application/fhir+json" || mt == "application/json") {
		return nil
	}
	if err == nil && mt == "text/csv" && strings.HasSuffix(c.Path(), "/import") {
		return nil // bulk imports take CSV; the handler checks the rest
	}
	return discharge.E(discharge.KindUnsupportedMedia, expression,
		"Only JSON is supported: send Content-Type application/fhir+json or application/json.")
}

// versionText says which FHIR versions the gateway speaks.
const versionText = "This server speaks FHIR R4 only: the fhirVersion MIME parameter, when sent, must be 4.0 (or 4.0.1)."

// supportedVersion reports whether a media type's fhirVersion parameter
// (http://hl7.org/fhir/R4/http.html#version-parameter), if any, names R4.
// mime.ParseMediaType lower-cases parameter names, so fhirVersion arrives as
// fhirversion.
func supportedVersion(params map[string]string) bool {
	v, ok := params["fhirversion"]
	return !ok || v == "4.0" || v == "4.0.1"
}

// versionRefused reports whether some JSON range of an Accept header was
// passed over only for its fhirVersion, so the 406 can say why.
func versionRefused(accept string) bool {
	for _, part := range strings.Split(accept, ",") {
		if _, params, err := mime.ParseMediaType(strings.TrimSpace(part)); err == nil && !supportedVersion(params) {
			return true
		}
	}
	return false
}

// respond writes a FHIR JSON body in the negotiated flavour.
func respond(c echo.Context, status int, body []byte) error {
	ct, _ := c.Get(ctxFormat).(string)
	if ct == "" {
		ct = fhirJSON
	}
	return c.Blob(status, ct, body)
}

func asError(err error, target **discharge.Error) bool { return errors.As(err, target) }
