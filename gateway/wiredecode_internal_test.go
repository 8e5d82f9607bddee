package gateway

import (
	"errors"
	"reflect"
	"regexp"
	"testing"

	json "github.com/go-json-experiment/json"

	"github.com/dischargegateway/gateway/discharge"
)

// TestWirePath: a JSON Pointer becomes the API's path, with indexes in
// brackets and odd names as FHIRPath delimited identifiers.
func TestWirePath(t *testing.T) {
	for ptr, want := range map[string]string{
		"":                        "",
		"/asOf":                   "asOf",
		"/beds/1/occupied":        "beds[1].occupied",
		"/homeCare/0/outcodes/12": "homeCare[0].outcodes[12]",
		"/a~1b":                   "`a/b`",
		"/a~0b":                   "`a~b`",
		"/beds/0/two words":       "beds[0].`two words`",
		"/back`tick":              "`back\\`tick`",
		"/_x9":                    "_x9",
		"/9x":                     "`9x`",
		"/":                       "``",
	} {
		if got := wirePath(ptr); got != want {
			t.Errorf("wirePath(%q) = %q, want %q", ptr, got, want)
		}
	}
}

// wirePathShape is what wirePath writes: names (plain or delimited), dots
// between them, bracketed indexes.
var wirePathShape = regexp.MustCompile("^(?:[A-Za-z_][A-Za-z0-9_]*|`(?:[^`\\\\]|\\\\.)*`|\\[[0-9]+\\])(?:\\.(?:[A-Za-z_][A-Za-z0-9_]*|`(?:[^`\\\\]|\\\\.)*`)|\\[[0-9]+\\])*$")

// FuzzDecodePosting: no body panics the /api/v1 decoder; a refusal is
// one structure or value issue whose path is empty (the body as a whole)
// or well formed; an accepted body decodes to a posting that survives
// encoding and decoding again unchanged (one with a home-care offer
// lacking its earliestStart aside: validation refuses it next).
func FuzzDecodePosting(f *testing.F) {
	for _, s := range []string{
		`{"asOf":"2026-11-24T10:00:00Z","beds":[{"type":"nursing","maxCapacity":30,"occupied":20,"reserved":1,"acceptingAdmissions":9,"closedToAdmissions":false}]}`,
		`{"asOf":"2026-11-24T10:00:00Z","homeCare":[{"outcodes":["M14"],"hoursPerWeek":12.5,"packages":2,"earliestStart":"2026-11-25"}]}`,
		`{"beds":[{"occupied":1.5}]}`, `{"beds":[{"colour":1}]}`, `{"ASOF":"x"}`, `{"asOf":"a","asOf":"b"}`,
		`{"asOf":"a"} {}`, `{"homeCare":[{"earliestStart":"2026-02-30"}]}`, `{"a/b~c":1}`, `null`, `[]`, "",
		`{"beds":[{"occupied":99999999999999999999}]}`, "{\"asOf\":\"\xff\"}", `{"asOf":"\ud800"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var in wirePosting
		err := decodeWire(body, &in)
		if err != nil {
			var de *discharge.Error
			if !errors.As(err, &de) || len(de.Issues) != 1 {
				t.Fatalf("refused with %v, want one issue", err)
			}
			is := de.Issues[0]
			if is.Kind != discharge.KindStructure && is.Kind != discharge.KindValue || is.Message == "" {
				t.Fatalf("issue %+v", is)
			}
			if is.Expression != "" && !wirePathShape.MatchString(is.Expression) {
				t.Fatalf("path %q is not well formed", is.Expression)
			}
			return
		}
		for _, h := range in.HomeCare {
			if h.EarliestStart.IsZero() {
				// A missing date, refused by validation (required); the
				// zero date has no text form to go round with.
				return
			}
		}
		again, err := json.Marshal(in)
		if err != nil {
			t.Fatalf("accepted %q, but it does not encode: %v", body, err)
		}
		var back wirePosting
		if err := decodeWire(again, &back); err != nil || !reflect.DeepEqual(normalPosting(back), normalPosting(in)) {
			t.Fatalf("accepted %q as %+v; encoded and decoded again: %+v, %v", body, in, back, err)
		}
	})
}

// normalPosting is p with empty slices as nil: encoding does not keep
// the difference.
func normalPosting(p wirePosting) wirePosting {
	if len(p.Beds) == 0 {
		p.Beds = nil
	}
	if len(p.HomeCare) == 0 {
		p.HomeCare = nil
	}
	for i := range p.HomeCare {
		if len(p.HomeCare[i].Outcodes) == 0 {
			p.HomeCare[i].Outcodes = nil
		}
	}
	return p
}
