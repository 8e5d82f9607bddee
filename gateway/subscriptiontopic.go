package gateway

import (
	"net/http"
	"net/url"
	"sort"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/dischargegateway/gateway/conformance"
	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/fhir"
	"github.com/dischargegateway/gateway/mappings"
)

// The published SubscriptionTopics (docs/subscriptions.md, "Topics"): R4
// has no SubscriptionTopic resource, so the Backport IG's Basic
// representation is served as Basic/{topic}. Like the CapabilityStatement
// that lists them and the OperationDefinitions, they need no token: they
// are the gateway's description of itself, with no data in them.

// readSubscriptionTopic is GET /fhir/Basic/{id}.
func (s *Server) readSubscriptionTopic(c echo.Context) error {
	return s.readCanonical(c, conformance.Basic)
}

// searchSubscriptionTopics is GET /fhir/Basic: code (token; every
// published Basic is a SubscriptionTopic), _id and url (the topic's
// canonical, which R4's Basic has no parameter for: the IG's R5 topic
// search parameter, offered for convenience). Paging and unknown
// parameters as in searchCanonical.
func (s *Server) searchSubscriptionTopics(c echo.Context) error {
	vals := c.QueryParams()
	page, err := fhir.ParsePaging(vals, defaultCount, maxCount)
	if err != nil {
		return err
	}
	var warns discharge.Issues
	names := make([]string, 0, len(vals))
	for name := range vals {
		names = append(names, name)
	}
	sort.Strings(names)
	used := url.Values{}
	for _, name := range names {
		switch name {
		case "code", "_id", "url":
			used[name] = vals[name]
		case "_format", "_count", "_offset", "_total":
		default:
			msg := "Unknown or unsupported search parameter '" + name + "' for Basic"
			if preferStrict(c) {
				return discharge.E(discharge.KindNotSupported, name, msg+".")
			}
			warns.Warn(discharge.KindNotSupported, name, msg+"; it was not applied.")
		}
	}
	var matches []conformance.Canonical
	for _, r := range s.conformance.Search(conformance.Basic, vals["url"]) {
		if allMatch(vals["_id"], func(v string) bool { return v == r.ID }) && allMatch(vals["code"], topicCodeMatches) {
			matches = append(matches, r)
		}
	}
	base := s.baseURL(c)
	total := len(matches)
	var entries []fhir.BundleEntryOut
	if page.Offset < total {
		for _, r := range matches[page.Offset:min(addSat(page.Offset, page.Count), total)] {
			entries = append(entries, fhir.BundleEntryOut{FullURL: base + "/Basic/" + r.ID, Resource: r.JSON, SearchMode: "match"})
		}
	}
	if len(warns) > 0 {
		entries = append(entries, warningsEntry(warns))
	}
	links := fhir.PageLinks(base+"/Basic", used, page, total)
	return respond(c, http.StatusOK, fhir.MarshalBundle("searchset", &total, links, entries))
}

// allMatch says whether every repeated parameter (AND) has a
// comma-separated value (OR) that ok accepts; no parameter matches all.
func allMatch(params []string, ok func(string) bool) bool {
	for _, p := range params {
		any := false
		for _, v := range strings.Split(p, ",") {
			if ok(v) {
				any = true
			}
		}
		if !any {
			return false
		}
	}
	return true
}

// topicCodeMatches is the code token against Basic.code: SubscriptionTopic,
// with or without its system.
func topicCodeMatches(v string) bool {
	sys, code, hasSys := strings.Cut(v, "|")
	if !hasSys {
		return v == mappings.TopicCode
	}
	return code == mappings.TopicCode && (sys == "" || sys == mappings.TopicCodeSystem)
}

// topicCapability is the CapabilityStatement's Basic entry.
func topicCapability() capability {
	return capability{Interactions: []string{"read", "search-type"}, SearchParams: []fhir.SearchParam{
		{Name: "code", Type: fhir.ParamToken, Definition: "http://hl7.org/fhir/SearchParameter/Basic-code",
			Doc: mappings.TopicCodeSystem + "|" + mappings.TopicCode + ": every published Basic is a SubscriptionTopic (Subscriptions Backport IG, topics in R4)"},
		{Name: "url", Type: fhir.ParamURI, Doc: "The topic's canonical URL (its artifact-url extension)"},
	}}
}
