package discharge_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dischargegateway/gateway/discharge"
)

// The shared model carries no wire tags (json, validate or any other): its
// encodings are the wire types' of the packages that encode it, and its
// rules are its Validate methods.
func TestNoStructTags(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	n := 0
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		src, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		f, err := parser.ParseFile(fset, name, src, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		n++
		ast.Inspect(f, func(x ast.Node) bool {
			if fld, ok := x.(*ast.Field); ok && fld.Tag != nil {
				t.Errorf("%s: struct tag %s: discharge/ carries no wire tags", fset.Position(fld.Pos()), fld.Tag.Value)
			}
			return true
		})
	}
	if n < 10 {
		t.Fatalf("only %d source files read: the glob is wrong", n)
	}
}

// Validate names each failing field by its model path, one error issue per
// field, in field order.
func TestCaseAndNeedValidate(t *testing.T) {
	pw := func(n int) *discharge.Pathway { p := discharge.Pathway(n); return &p }
	f := func(x float64) *float64 { return &x }
	for _, tc := range []struct {
		name  string
		value interface{ Validate() discharge.Issues }
		want  []string
	}{
		{"empty case", &discharge.Case{}, nil},
		{"good case", &discharge.Case{Trust: "RXX01", Patient: discharge.Patient{NHSNumber: "9476719931", HomeOutcode: "M14"}, Pathway: pw(0)}, nil},
		{"bad case", &discharge.Case{Trust: "RXX-1", Patient: discharge.Patient{NHSNumber: "9476719932", HomeOutcode: "m14"}, Pathway: pw(4)},
			[]string{"trust", "patient.nhsNumber", "patient.homeOutcode", "pathway"}},
		{"need without setting", &discharge.CareNeed{}, []string{"setting"}},
		{"good need", &discharge.CareNeed{Setting: discharge.CareHomeCare, HoursPerWeek: f(168), Requirements: []discharge.Requirement{discharge.ReqHoist},
			Funding: "chc", SearchArea: &discharge.SearchArea{Outcode: "M14", Latitude: f(-90), Longitude: f(180)}, Priority: discharge.PriorityStat}, nil},
		{"bad need", &discharge.CareNeed{Setting: "ct-scan", HoursPerWeek: f(math.NaN()), Requirements: []discharge.Requirement{discharge.ReqHoist, "jetpack"},
			Funding: "lottery", SearchArea: &discharge.SearchArea{Latitude: f(91), Longitude: f(math.Inf(-1))}, Priority: "whenever"},
			[]string{"setting", "hoursPerWeek", "requirements[1]", "funding", "searchArea.outcode", "searchArea.latitude", "searchArea.longitude", "priority"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			is := tc.value.Validate()
			if len(is) != len(tc.want) {
				t.Fatalf("issues = %+v, want at %v", is, tc.want)
			}
			for i, want := range tc.want {
				if is[i].Kind != discharge.KindValue || is[i].Severity != discharge.SeverityError || is[i].Expression != want {
					t.Errorf("issue %d = %+v, want a value error at %s", i, is[i], want)
				}
			}
		})
	}
}
