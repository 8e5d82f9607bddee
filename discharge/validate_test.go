package discharge_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// The shared model carries no wire tags (json or any other): its encodings
// are the wire types' of the packages that encode it. The one tag it
// carries is validate, the rules mappings.Validate reads.
func TestNoTagButValidate(t *testing.T) {
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
			if fld, ok := x.(*ast.Field); ok && fld.Tag != nil && !onlyValidate(fld.Tag.Value) {
				t.Errorf("%s: struct tag %s: discharge/ carries validate tags only", fset.Position(fld.Pos()), fld.Tag.Value)
			}
			return true
		})
	}
	if n < 10 {
		t.Fatalf("only %d source files read: the glob is wrong", n)
	}
}

// onlyValidate reports whether lit, a struct tag literal as written, is a
// single validate:"..." key and nothing else.
func onlyValidate(lit string) bool {
	tag, err := strconv.Unquote(lit)
	if err != nil {
		return false
	}
	v, ok := reflect.StructTag(tag).Lookup("validate")
	return ok && v != "" && tag == `validate:"`+v+`"`
}

func TestOnlyValidate(t *testing.T) {
	for lit, want := range map[string]bool{
		"`validate:\"omitempty,nhsnumber\"`":          true,
		"`json:\"nhsNumber\"`":                        false,
		"`json:\"nhsNumber\" validate:\"nhsnumber\"`": false,
		"`validate:\"nhsnumber\" json:\"nhsNumber\"`": false,
		"`validate:\"\"`":                             false,
		"\"validate:\\\"required\\\"\"":               true,
		"`validate:\"required\" `":                    false,
	} {
		if got := onlyValidate(lit); got != want {
			t.Errorf("onlyValidate(%s) = %v, want %v", lit, got, want)
		}
	}
}
