package archtest

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/dischargegateway/gateway"

// layers that are not application packages (web/, the dashboard, is an HTTP
// layer like gateway/); every other top-level folder
// holding Go code is one (placement/, records/, directory/, capacity/, …).
var notApplication = map[string]bool{
	"cmd": true, "gateway": true, "adapters": true, "internal": true, "fhir": true, "mappings": true,
	"discharge": true, "auth": true, "deploy": true, "configs": true, "scripts": true, "bench": true,
	"postman": true, "docs": true, "web": true,
}

type pkgFile struct {
	dir     string // relative to the module root, with forward slashes
	path    string
	imports []string
	file    *ast.File
}

// sources parses every non-test Go file of the module (build-ignored files
// included: they are source too).
func sources(t *testing.T) []pkgFile {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("module root not found at %s: %v", root, err)
	}
	var out []pkgFile
	fset := token.NewFileSet()
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if n := d.Name(); p != root && (strings.HasPrefix(n, ".") || n == "node_modules" || n == "testdata") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, p, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, filepath.Dir(p))
		pf := pkgFile{dir: filepath.ToSlash(rel), path: p, file: f}
		for _, im := range f.Imports {
			v, _ := strconv.Unquote(im.Path.Value)
			pf.imports = append(pf.imports, v)
		}
		out = append(out, pf)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(out) < 50 {
		t.Fatalf("only %d source files found: the walk is wrong", len(out))
	}
	return out
}

func top(dir string) string { return strings.SplitN(dir, "/", 2)[0] }

func stdlib(imp string) bool { return !strings.Contains(strings.SplitN(imp, "/", 2)[0], ".") }

func under(imp, prefix string) bool { return imp == prefix || strings.HasPrefix(imp, prefix+"/") }

// storeDrivers are the clients of the stores: only their adapters (and the
// test harnesses that start the servers) may import them.
var storeDrivers = []string{"github.com/redis/go-redis", "github.com/jackc/pgx", "modernc.org/sqlite", "github.com/pressly/goose", "github.com/alicebob/miniredis"}

func TestImportRules(t *testing.T) {
	files := sources(t)
	apps := map[string]bool{}
	var problems []string
	bad := func(f pkgFile, format string, args ...any) {
		rel := f.dir + "/" + filepath.Base(f.path)
		problems = append(problems, rel+": "+sprintf(format, args...))
	}
	for _, f := range files {
		t0 := top(f.dir)
		app := !notApplication[t0] && f.dir != "."
		if app {
			apps[t0] = true
		}
		for _, imp := range f.imports {
			switch {
			case t0 == "discharge" && !stdlib(imp):
				bad(f, "the domain imports %s: discharge/ uses the standard library only", imp)
			case (app || t0 == "mappings" || t0 == "fhir" || t0 == "auth") && under(imp, "github.com/labstack/echo"):
				bad(f, "imports echo: only gateway/ speaks HTTP")
			case (app || t0 == "gateway" || t0 == "web" || t0 == "mappings" || t0 == "fhir" || t0 == "discharge" || t0 == "auth") && under(imp, module+"/adapters"):
				bad(f, "imports %s: only cmd/ (and internal/wiring) wires adapters in", imp)
			}
			for _, d := range storeDrivers {
				if under(imp, d) && t0 != "adapters" && f.dir != "internal/redistest" && f.dir != "internal/pgtest" {
					bad(f, "imports %s: only the store adapters know a store's client", imp)
				}
			}
		}
		// Nothing outside the Redis adapter spells a Redis key.
		if f.dir != "adapters/rediscache" && f.dir != "internal/redistest" {
			ast.Inspect(f.file, func(n ast.Node) bool {
				if lit, ok := n.(*ast.BasicLit); ok && lit.Kind == token.STRING {
					if v, err := strconv.Unquote(lit.Value); err == nil && strings.HasPrefix(v, "dg:") {
						bad(f, "builds a Redis key (%q): keys are built in adapters/rediscache/keys.go", v)
					}
				}
				return true
			})
		}
	}
	sort.Strings(problems)
	for _, p := range problems {
		t.Error(p)
	}
	if len(apps) == 0 {
		t.Error("no application package found: expected placement/ at least")
	}
	t.Logf("application packages: %v", keys(apps))
}

func keys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func sprintf(format string, args ...any) string { return fmt.Sprintf(format, args...) }

// TestNoCapabilityDiscovery: the HTTP layer and the application services
// do not ask a collaborator whether it also offers something by asserting
// it to an interface their package declares (`x.(freshnessCounter)`): an
// optional capability is a dependency of its own, wired explicitly, so the
// wiring shows what each part uses and a missing one is a compile error or
// a visible nil, not a silent difference.
func TestNoCapabilityDiscovery(t *testing.T) {
	files := sources(t)
	// interfaces declared per package directory
	ifaces := map[string]map[string]bool{}
	for _, f := range files {
		for _, d := range f.file.Decls {
			g, ok := d.(*ast.GenDecl)
			if !ok || g.Tok != token.TYPE {
				continue
			}
			for _, sp := range g.Specs {
				if ts, ok := sp.(*ast.TypeSpec); ok {
					if _, ok := ts.Type.(*ast.InterfaceType); ok {
						if ifaces[f.dir] == nil {
							ifaces[f.dir] = map[string]bool{}
						}
						ifaces[f.dir][ts.Name.Name] = true
					}
				}
			}
		}
	}
	var problems []string
	for _, f := range files {
		t0 := top(f.dir)
		if t0 != "gateway" && (notApplication[t0] || f.dir == ".") {
			continue
		}
		check := func(typ ast.Expr) {
			if id, ok := typ.(*ast.Ident); ok && ifaces[f.dir][id.Name] {
				problems = append(problems, sprintf("%s/%s: asserts a collaborator to %s: wire the capability as a dependency of its own",
					f.dir, filepath.Base(f.path), id.Name))
			}
		}
		ast.Inspect(f.file, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.TypeAssertExpr:
				if n.Type != nil {
					check(n.Type)
				}
			case *ast.TypeSwitchStmt:
				for _, c := range n.Body.List {
					for _, typ := range c.(*ast.CaseClause).List {
						check(typ)
					}
				}
			}
			return true
		})
	}
	sort.Strings(problems)
	for _, p := range problems {
		t.Error(p)
	}
}

// maxHandlerLines is how long a handler in gateway/ may be: it decodes the
// request, calls one service method and encodes the answer (issue 14).
const maxHandlerLines = 60

// TestHandlersAreThin: every echo handler in gateway/ (a function taking
// an echo.Context and returning an error) is at most maxHandlerLines long,
// its declaration and closing brace included.
func TestHandlersAreThin(t *testing.T) {
	fset := token.NewFileSet()
	handlers := 0
	for _, f := range sources(t) {
		if f.dir != "gateway" {
			continue
		}
		af, err := parser.ParseFile(fset, f.path, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range af.Decls {
			fd, ok := d.(*ast.FuncDecl)
			if !ok || fd.Body == nil || !isHandler(fd.Type) {
				continue
			}
			handlers++
			if n := fset.Position(fd.End()).Line - fset.Position(fd.Pos()).Line + 1; n > maxHandlerLines {
				t.Errorf("gateway/%s: handler %s is %d lines (at most %d): move the work into its service",
					filepath.Base(f.path), fd.Name.Name, n, maxHandlerLines)
			}
		}
	}
	if handlers < 20 {
		t.Errorf("only %d handlers found in gateway/: the test no longer finds them", handlers)
	}
}

// isHandler reports whether a function type is func(echo.Context) error.
func isHandler(ft *ast.FuncType) bool {
	if ft.Params == nil || len(ft.Params.List) != 1 || len(ft.Params.List[0].Names) > 1 {
		return false
	}
	sel, ok := ft.Params.List[0].Type.(*ast.SelectorExpr)
	if !ok || sel.Sel.Name != "Context" {
		return false
	}
	if x, ok := sel.X.(*ast.Ident); !ok || x.Name != "echo" {
		return false
	}
	if ft.Results == nil || len(ft.Results.List) != 1 {
		return false
	}
	id, ok := ft.Results.List[0].Type.(*ast.Ident)
	return ok && id.Name == "error"
}

// TestPlacementKnowsNoObserver: placement/ imports no other application
// package. What others do with an answered search (the case's shortlisted
// event in cases/, the unmet-demand count in sitrep/) is theirs: they
// implement placement.Observer and cmd/gateway wires them, so a placement
// request never climbs back up into their rules after the domain ranks.
func TestPlacementKnowsNoObserver(t *testing.T) {
	files := 0
	for _, f := range sources(t) {
		if top(f.dir) != "placement" {
			continue
		}
		files++
		for _, imp := range f.imports {
			rest, ok := strings.CutPrefix(imp, module+"/")
			if ok && top(rest) != "placement" && !notApplication[top(rest)] {
				t.Errorf("placement/%s imports %s: tell it as a placement.Observer instead", filepath.Base(f.path), imp)
			}
		}
	}
	if files == 0 {
		t.Fatal("no placement/ source found")
	}
}

// gatewayRendersFHIR are the gateway/ files allowed to build a FHIR
// resource: none. The CapabilityStatement is conformance's
// (RenderCapabilityStatement); gateway/ only says which types it serves.
var gatewayRendersFHIR = map[string]bool{}

// TestGatewayBuildsNoFHIR: gateway/ is the HTTP layer; FHIR resources are
// rendered in mappings/ or conformance/, which know the elements. A string
// literal "resourceType" in gateway/ is a resource built there.
func TestGatewayBuildsNoFHIR(t *testing.T) {
	for _, f := range sources(t) {
		if f.dir != "gateway" || gatewayRendersFHIR[filepath.Base(f.path)] {
			continue
		}
		ast.Inspect(f.file, func(n ast.Node) bool {
			if lit, ok := n.(*ast.BasicLit); ok && lit.Kind == token.STRING && lit.Value == `"resourceType"` {
				t.Errorf("gateway/%s spells \"resourceType\": render the resource in mappings/ or conformance/", filepath.Base(f.path))
			}
			return true
		})
	}
}
