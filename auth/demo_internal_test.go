package auth

import (
	"path/filepath"
	"slices"
	"testing"
)

// TestDemoThumbprints keeps demoThumbprints equal to the committed demo
// keys: every key in configs/demo/keys (through the demo registry, whose
// keys TestDemoClientsSign proves match the files) and configs/demo/signing.
func TestDemoThumbprints(t *testing.T) {
	dir := filepath.Join("..", "configs", "demo")
	reg, err := DemoRegistry(dir)
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, c := range reg.clients {
		for _, k := range c.Keys {
			want = append(want, k.Thumbprint)
		}
	}
	ks, err := LoadKeySet(filepath.Join(dir, "signing"))
	if err != nil {
		t.Fatal(err)
	}
	want = append(want, ks.KIDs()...)
	files, _ := filepath.Glob(filepath.Join(dir, "keys", "*.pem"))
	if len(files) != len(reg.clients) {
		t.Fatalf("%d key files for %d demo clients", len(files), len(reg.clients))
	}
	slices.Sort(want)
	got := slices.Sorted(slices.Values(demoThumbprints))
	if !slices.Equal(got, want) {
		t.Fatalf("demoThumbprints %v\nwant %v", got, want)
	}
}
