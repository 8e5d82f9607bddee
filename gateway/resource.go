package gateway

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/fhir"
)

// baseURL is the absolute base of the FHIR endpoint, for fullUrl and Location.
func (s *Server) baseURL(c echo.Context) string {
	if s.cfg.BaseURL != "" {
		return strings.TrimRight(s.cfg.BaseURL, "/")
	}
	return c.Scheme() + "://" + c.Request().Host + "/fhir"
}

// writeHeaders sets the ETag, Location and Last-Modified of a stored version.
func (s *Server) writeHeaders(c echo.Context, typ, id string, version int64, lastUpdated time.Time, location bool) {
	h := c.Response().Header()
	h.Set("ETag", fhir.ETag(version))
	h.Set("Last-Modified", lastUpdated.UTC().Format(http.TimeFormat))
	if location {
		h.Set("Location", fmt.Sprintf("%s/%s/%s/_history/%d", s.baseURL(c), typ, id, version))
	}
}

// reply writes a stored resource honouring Prefer: return=.
func (s *Server) reply(c echo.Context, status int, body []byte, warnings discharge.Issues) error {
	if len(warnings) > 0 {
		c.Response().Header().Set("Warning", warningHeader(warnings))
	}
	switch preferReturn(c) {
	case "minimal":
		return c.NoContent(status)
	case "OperationOutcome":
		issues := issuesToOutcome(warnings, discharge.KindInternal)
		if len(issues) == 0 {
			issues = []fhir.OutcomeIssue{{Severity: "information", Code: fhir.IssueInformational, Diagnostics: "All OK"}}
		}
		return respond(c, status, fhir.OperationOutcome(issues))
	}
	return respond(c, status, body)
}

func preferReturn(c echo.Context) string {
	for _, p := range strings.Split(c.Request().Header.Get("Prefer"), ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
		if strings.EqualFold(k, "return") {
			return strings.Trim(v, `"`)
		}
	}
	return ""
}

func preferStrict(c echo.Context) bool { return preferHandling(c) == "strict" }

// preferHandling is the Prefer header's handling preference in lower case
// ("strict", "lenient"), or "" when the request states none.
func preferHandling(c echo.Context) string {
	for _, p := range strings.Split(c.Request().Header.Get("Prefer"), ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
		if strings.EqualFold(k, "handling") {
			return strings.ToLower(strings.Trim(v, `"`))
		}
	}
	return ""
}

// warningHeader summarises warnings in an RFC 7234 Warning header, for
// clients that did not ask for an OperationOutcome.
func warningHeader(ws discharge.Issues) string {
	parts := make([]string, 0, len(ws))
	for _, w := range ws {
		msg := strings.ReplaceAll(w.Message, `"`, "'")
		parts = append(parts, `199 discharge-gateway "`+w.Expression+": "+msg+`"`)
	}
	return strings.Join(parts, ", ")
}

func itoa(i int) string { return strconv.Itoa(i) }
