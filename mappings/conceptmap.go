package mappings

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"

	"github.com/dischargegateway/gateway/discharge"
)

// Match is one ConceptMap target for a source code, as $translate reports it.
type Match struct {
	// Equivalence is the R4 ConceptMap equivalence: equivalent, equal,
	// wider, subsumes, narrower, specializes, inexact, relatedto,
	// unmatched or disjoint.
	Equivalence string
	// System is the target code system (the group's target).
	System        string
	Target        discharge.Concept
	ConceptMapURL string
}

// Maps reports whether the match lets the source code stand for the target.
// relatedto and specializes are too loose for placement, and unmatched and
// disjoint say the opposite.
func (m Match) Maps() bool {
	switch m.Equivalence {
	case "equivalent", "equal", "wider", "subsumes", "narrower", "inexact":
		return true
	}
	return false
}

// Translator holds the ConceptMaps of configs/conceptmaps/ indexed for
// lookup. It is read-only after loading and safe for concurrent use.
type Translator struct {
	raw   map[string][]byte // by url, verbatim
	urls  []string          // sorted
	index map[string][]Match
}

// conceptMap is the part of an R4 ConceptMap the translator reads. It is not
// the samply model: that one turns a missing equivalence into "relatedto".
type conceptMap struct {
	ResourceType string `json:"resourceType"`
	URL          string `json:"url"`
	Group        []struct {
		Source  string `json:"source"`
		Target  string `json:"target"`
		Element []struct {
			Code   string `json:"code"`
			Target []struct {
				Code        string `json:"code"`
				Display     string `json:"display"`
				Equivalence string `json:"equivalence"`
				Comment     string `json:"comment"`
			} `json:"target"`
		} `json:"element"`
	} `json:"group"`
}

var equivalences = map[string]bool{
	"relatedto": true, "equivalent": true, "equal": true, "wider": true, "subsumes": true,
	"narrower": true, "specializes": true, "inexact": true, "unmatched": true, "disjoint": true,
}

// LoadTranslator reads every *.json file at the top of fsys as an R4
// ConceptMap, e.g. LoadTranslator(os.DirFS("configs/conceptmaps")). Any
// file that is not a usable ConceptMap fails the load with an error naming
// the file, so a bad trust map stops startup rather than silently dropping
// codes.
func LoadTranslator(fsys fs.FS) (*Translator, error) {
	names, err := fs.Glob(fsys, "*.json")
	if err != nil {
		return nil, fmt.Errorf("conceptmaps: %w", err)
	}
	files := make(map[string][]byte, len(names))
	for _, n := range names {
		b, err := fs.ReadFile(fsys, n)
		if err != nil {
			return nil, fmt.Errorf("conceptmaps: %w", err)
		}
		files[n] = b
	}
	return NewTranslator(files)
}

// NewTranslator builds a Translator from ConceptMap JSON keyed by file name.
func NewTranslator(files map[string][]byte) (*Translator, error) {
	t := &Translator{raw: map[string][]byte{}, index: map[string][]Match{}}
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		if err := t.add(name, files[name]); err != nil {
			return nil, fmt.Errorf("conceptmaps: %s: %w", path.Base(name), err)
		}
	}
	sort.Strings(t.urls)
	return t, nil
}

func (t *Translator) add(name string, b []byte) error {
	var cm conceptMap
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&cm); err != nil {
		return fmt.Errorf("not valid JSON: %w", err)
	}
	if cm.ResourceType != "ConceptMap" {
		return fmt.Errorf("resourceType is %q, want ConceptMap", cm.ResourceType)
	}
	if cm.URL == "" {
		return fmt.Errorf("ConceptMap.url is missing")
	}
	if _, dup := t.raw[cm.URL]; dup {
		return fmt.Errorf("ConceptMap.url %q is already used by another file", cm.URL)
	}
	for gi, g := range cm.Group {
		if g.Source == "" || g.Target == "" {
			return fmt.Errorf("ConceptMap.group[%d] needs both source and target systems", gi)
		}
		for ei, e := range g.Element {
			if e.Code == "" {
				return fmt.Errorf("ConceptMap.group[%d].element[%d].code is missing", gi, ei)
			}
			for ti, tg := range e.Target {
				if !equivalences[tg.Equivalence] {
					return fmt.Errorf("ConceptMap.group[%d].element[%d].target[%d].equivalence %q is not an R4 equivalence", gi, ei, ti, tg.Equivalence)
				}
				if (tg.Equivalence == "narrower" || tg.Equivalence == "inexact") && tg.Comment == "" {
					// R4 invariant cmd-1: the map is published as loaded.
					return fmt.Errorf("ConceptMap.group[%d].element[%d].target[%d] is %s and needs a comment (R4 invariant cmd-1)", gi, ei, ti, tg.Equivalence)
				}
				if tg.Code == "" && tg.Equivalence != "unmatched" {
					return fmt.Errorf("ConceptMap.group[%d].element[%d].target[%d].code is missing", gi, ei, ti)
				}
				k := key(g.Source, e.Code)
				t.index[k] = append(t.index[k], Match{
					Equivalence:   tg.Equivalence,
					System:        g.Target,
					Target:        discharge.Concept{Code: tg.Code, Display: tg.Display, Definition: tg.Comment},
					ConceptMapURL: cm.URL,
				})
			}
		}
	}
	t.raw[cm.URL] = append([]byte(nil), b...)
	t.urls = append(t.urls, cm.URL)
	return nil
}

func key(system, code string) string { return system + "|" + code }

// Translate returns the targets in targetSystem that code of system maps to
// with a usable equivalence (see Match.Maps), and whether there were any. A
// nil Translator knows no maps.
func (t *Translator) Translate(system, code, targetSystem string) ([]discharge.Concept, bool) {
	var out []discharge.Concept
	for _, m := range t.TranslateAll(system, code, targetSystem, "") {
		if m.Maps() {
			out = append(out, m.Target)
		}
	}
	return out, len(out) > 0
}

// TranslateAll returns every match for code of system, unmatched and
// disjoint ones included, for ConceptMap/$translate. Empty targetSystem or
// conceptMapURL match any.
func (t *Translator) TranslateAll(system, code, targetSystem, conceptMapURL string) []Match {
	if t == nil {
		return nil
	}
	var out []Match
	for _, m := range t.index[key(system, code)] {
		if (targetSystem == "" || m.System == targetSystem) && (conceptMapURL == "" || m.ConceptMapURL == conceptMapURL) {
			out = append(out, m)
		}
	}
	return out
}

// Maps returns the loaded ConceptMaps verbatim, ordered by url, for the
// gateway to publish.
func (t *Translator) Maps() [][]byte {
	if t == nil {
		return nil
	}
	out := make([][]byte, 0, len(t.urls))
	for _, u := range t.urls {
		out = append(out, t.raw[u])
	}
	return out
}

// Lookup returns the ConceptMap with canonical url (a "|version" suffix is
// ignored), verbatim.
func (t *Translator) Lookup(url string) ([]byte, bool) {
	if t == nil {
		return nil, false
	}
	url, _, _ = strings.Cut(url, "|")
	b, ok := t.raw[url]
	return b, ok
}
