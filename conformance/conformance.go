// Package conformance keeps the resources the gateway publishes about
// itself: its own CodeSystems and the ConceptMaps loaded from
// configs/conceptmaps, readable by id and searchable by url, the
// OperationDefinitions of its operations with their canonical URLs and the
// CapabilityStatement's messaging section (operations.go), and the
// CapabilityStatement, rendered once. The HTTP layer (gateway/) parses the
// request and renders the searchset; the catalogue lives here, so the
// gateway's Server holds a service, not the lists.
package conformance

import (
	"encoding/json"
	"strings"
	"sync"

	"github.com/dischargegateway/gateway/discharge"
)

// Published resource types.
const (
	CodeSystem = "CodeSystem"
	ConceptMap = "ConceptMap"
	// Basic holds the SubscriptionTopics, published in R4 as Basic
	// resources (the Subscriptions Backport IG), each with its canonical.
	Basic = "Basic"
)

// Canonical is a published terminology resource with its id and url.
type Canonical struct {
	ID, URL string
	JSON    []byte
}

// Service is the catalogue. It is safe for concurrent use.
type Service struct {
	byType map[string][]Canonical
	// capability renders the CapabilityStatement, once (capOnce).
	capability func() []byte
	capOnce    sync.Once
	capJSON    []byte
}

// New publishes codeSystems and conceptMaps (their JSON), the gateway's
// OperationDefinitions (operations.go) and the CapabilityStatement that
// capability renders on first use.
func New(codeSystems, conceptMaps [][]byte, capability func() []byte) *Service {
	return &Service{byType: map[string][]Canonical{CodeSystem: index(codeSystems), ConceptMap: index(conceptMaps),
		OperationDefinition: index(operationDefinitions())}, capability: capability}
}

// index indexes terminology resources by id and url. A resource without an
// id is served under the last segment of its url; one without a url is not
// published.
func index(docs [][]byte) []Canonical {
	out := make([]Canonical, 0, len(docs))
	for _, d := range docs {
		var head struct{ ID, URL string }
		if json.Unmarshal(d, &head) != nil || head.URL == "" {
			continue
		}
		id := head.ID
		if id == "" {
			id = head.URL[strings.LastIndexByte(head.URL, '/')+1:]
		}
		out = append(out, Canonical{ID: id, URL: head.URL, JSON: d})
	}
	return out
}

// Publish adds resources of typ whose canonical URL is not a top-level
// url element (an R4 SubscriptionTopic is a Basic, its url an extension):
// ids, urls and docs are parallel. Call it before serving.
func (s *Service) Publish(typ string, ids, urls []string, docs [][]byte) {
	for i := range docs {
		s.byType[typ] = append(s.byType[typ], Canonical{ID: ids[i], URL: urls[i], JSON: docs[i]})
	}
}

// Read returns the published resource of typ with id; KindNotFound when
// there is none.
func (s *Service) Read(typ, id string) ([]byte, error) {
	for _, r := range s.byType[typ] {
		if r.ID == id {
			return r.JSON, nil
		}
	}
	return nil, discharge.E(discharge.KindNotFound, typ, "No "+typ+" with that id.")
}

// Search lists the published resources of typ whose url equals every one
// of urls (repeated parameters AND; an empty value, or none, matches
// every resource), in publication order.
func (s *Service) Search(typ string, urls []string) []Canonical {
	var out []Canonical
	for _, r := range s.byType[typ] {
		if matchesAll(r.URL, urls) {
			out = append(out, r)
		}
	}
	return out
}

func matchesAll(u string, want []string) bool {
	for _, w := range want {
		if w != "" && u != w {
			return false
		}
	}
	return true
}

// CapabilityStatement is the rendered CapabilityStatement.
func (s *Service) CapabilityStatement() []byte {
	s.capOnce.Do(func() { s.capJSON = s.capability() })
	return s.capJSON
}
