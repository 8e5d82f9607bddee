package placement

import (
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestImports: placement is an application service. It knows nothing of
// HTTP (echo) and reaches storage only through its own interfaces, never
// an adapter.
func TestImports(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		af, err := parser.ParseFile(token.NewFileSet(), f, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, is := range af.Imports {
			p, _ := strconv.Unquote(is.Path.Value)
			if strings.Contains(p, "labstack/echo") || strings.Contains(p, "/gateway/adapters") ||
				strings.HasSuffix(p, "/gateway/gateway") || strings.Contains(p, "go-redis") {
				t.Errorf("%s imports %s", f, p)
			}
		}
	}
}
