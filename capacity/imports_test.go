package capacity_test

import (
	"go/build"
	"strings"
	"testing"
)

// TestServicesStayOffHTTPAndAdapters checks the layering of the capacity
// and directory services: they speak neither HTTP (echo) nor a store's
// technology (adapters/, go-redis); those come in through interfaces.
func TestServicesStayOffHTTPAndAdapters(t *testing.T) {
	for _, dir := range []string{".", "../directory"} {
		pkg, err := build.ImportDir(dir, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range pkg.Imports {
			if strings.Contains(imp, "labstack/echo") || strings.Contains(imp, "/gateway/adapters/") ||
				strings.Contains(imp, "redis/go-redis") || strings.HasSuffix(imp, "/gateway/gateway") {
				t.Errorf("%s imports %s", dir, imp)
			}
		}
	}
}
