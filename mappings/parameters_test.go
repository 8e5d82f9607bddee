package mappings

import (
	"errors"
	"strings"
	"testing"

	"github.com/dischargegateway/gateway/discharge"
)

func TestDecodeParameters(t *testing.T) {
	cases := []struct {
		name, body string
		wantAt     string
		wantValue  string
		wantKind   discharge.Kind // 0: no error
	}{
		{"decimal keeps its text", `{"parameter":[{"name":"radius","valueDecimal":1.50}]}`, "Parameters.parameter[0].valueDecimal", "1.50", 0},
		{"boolean", `{"parameter":[{"name":"explain","valueBoolean":true}]}`, "Parameters.parameter[0].valueBoolean", "true", 0},
		{"resource", `{"parameter":[{"name":"patient","resource":{"resourceType":"Patient"}}]}`, "Parameters.parameter[0].resource", "", 0},
		{"no value", `{"parameter":[{"name":"radius"}]}`, "Parameters.parameter[0]", "", discharge.KindRequired},
		{"two values", `{"parameter":[{"name":"radius","valueDecimal":1,"valueString":"1"}]}`, "Parameters.parameter[0].valueString", "", discharge.KindValue},
		{"complex value", `{"parameter":[{"name":"radius","valueQuantity":{"value":1}}]}`, "Parameters.parameter[0].valueQuantity", "", discharge.KindValue},
		{"parts", `{"parameter":[{"name":"radius","part":[]}]}`, "Parameters.parameter[0].part", "", discharge.KindNotSupported},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ps, err := DecodeParameters([]byte(c.body))
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
			if p.Err != nil || p.At != c.wantAt || p.Value != c.wantValue || (strings.HasSuffix(c.wantAt, "resource") != (p.Resource != nil)) {
				t.Fatalf("%+v", p)
			}
		})
	}
}

// FuzzDecodeParameters: no body makes the Parameters reader panic.
func FuzzDecodeParameters(f *testing.F) {
	for _, s := range []string{`{"parameter":[{"name":"radius","valueDecimal":1}]}`, `{"parameter":[{"name":"x","resource":[]}]}`,
		`{"parameter":[{"name":1,"value":null}]}`, `{"parameter":null}`, `[]`, ``} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		ps, err := DecodeParameters(b)
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
