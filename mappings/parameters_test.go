package mappings

import (
	"errors"
	"strings"
	"testing"

	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/fhir"
)

func TestDecodeParameters(t *testing.T) {
	for _, body := range []string{`{"parameter":[]}`, `{"resourceType":"Patient"}`, `{"resourceType":"Parameters","parameter":[{"name":"radius","valueDecimal":"1"}]}`} {
		if _, err := DecodeParameters([]byte(body), fhir.DefaultLimits); err == nil {
			t.Errorf("%s: the validator's refusal was not returned", body)
		}
	}
	cases := []struct {
		name, body string
		wantAt     string
		wantValue  string
		wantKind   discharge.Kind // 0: no error
	}{
		{"decimal keeps its text", `{"resourceType":"Parameters","parameter":[{"name":"radius","valueDecimal":1.50}]}`, "Parameters.parameter[0].valueDecimal", "1.50", 0},
		{"boolean", `{"resourceType":"Parameters","parameter":[{"name":"explain","valueBoolean":true}]}`, "Parameters.parameter[0].valueBoolean", "true", 0},
		{"resource", `{"resourceType":"Parameters","parameter":[{"name":"patient","resource":{"resourceType":"Patient"}}]}`, "Parameters.parameter[0].resource", "", 0},
		{"no value", `{"resourceType":"Parameters","parameter":[{"name":"radius"}]}`, "Parameters.parameter[0]", "", discharge.KindRequired},
		{"two values", `{"resourceType":"Parameters","parameter":[{"name":"radius","valueDecimal":1,"valueString":"1"}]}`, "Parameters.parameter[0].valueString", "", discharge.KindValue},
		{"complex value", `{"resourceType":"Parameters","parameter":[{"name":"radius","valueQuantity":{"value":1}}]}`, "Parameters.parameter[0].valueQuantity", "", discharge.KindValue},
		{"parts", `{"resourceType":"Parameters","parameter":[{"name":"radius","part":[{"name":"x","valueString":"y"}]}]}`, "Parameters.parameter[0].part", "", discharge.KindNotSupported},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ps, err := DecodeParameters([]byte(c.body), fhir.DefaultLimits)
			if err != nil || len(ps) != 1 {
				t.Fatalf("%v %v", ps, err)
			}
			p := ps[0]
			if c.wantKind != 0 {
				var de *discharge.Error
				if discharge.ErrorKind(p.Err) != c.wantKind || !asError(p.Err, &de) || de.Issues[0].Expression != c.wantAt {
					t.Fatalf("err %v, want %v at %s", p.Err, c.wantKind, c.wantAt)
				}
				return
			}
			isResource := strings.HasSuffix(c.wantAt, "resource")
			if p.Err != nil || p.At != c.wantAt || p.Value != c.wantValue || isResource != (p.Resource != nil) || isResource != (p.ResourceType == "Patient") {
				t.Fatalf("%+v", p)
			}
		})
	}
}

// FuzzDecodeParameters: no body makes the Parameters reader panic.
func FuzzDecodeParameters(f *testing.F) {
	for _, s := range []string{`{"resourceType":"Parameters","parameter":[{"name":"radius","valueDecimal":1}]}`, `{"resourceType":"Parameters","parameter":[{"name":"x","resource":[]}]}`,
		`{"resourceType":"Parameters","parameter":[{"name":"radius","valueDecimal":1,"valueString":"1"}]}`,
		`{"resourceType":"Parameters","parameter":[{"name":"patient","resource":{"resourceType":"Patient"}},{"name":"radius"}]}`,
		`{"resourceType":"Parameters","parameter":[{"name":"radius","valueQuantity":{"value":1}}]}`,
		`{"resourceType":"Parameters","parameter":[{"name":1,"value":null}]}`, `{"resourceType":"Parameters","parameter":null}`, `[]`, ``} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		ps, err := DecodeParameters(b, fhir.DefaultLimits)
		if err != nil {
			return
		}
		for _, p := range ps {
			if p.Err == nil && p.Resource == nil && !strings.HasPrefix(p.At, "Parameters.parameter[") {
				t.Fatalf("%+v", p)
			}
		}
	})
}

func asError(err error, de **discharge.Error) bool { return errors.As(err, de) }
