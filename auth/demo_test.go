package auth_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/dischargegateway/gateway/auth"
)

func TestRefuseDemoInProduction(t *testing.T) {
	demo := demoRegistry(t)
	example, err := auth.LoadRegistry(filepath.Join("..", "configs", "clients.example.json"))
	if err != nil {
		t.Fatal(err)
	}
	// A registry not marked demo that registers a committed demo key.
	raw, _ := os.ReadFile(filepath.Join(demoDir, "clients.json"))
	var f map[string]any
	_ = json.Unmarshal(raw, &f)
	c := f["clients"].([]any)[0].(map[string]any)
	delete(c, "demo")
	f["clients"] = []any{c}
	out, _ := json.Marshal(f)
	p := filepath.Join(t.TempDir(), "smuggled.json")
	_ = os.WriteFile(p, out, 0o600)
	smuggled, err := auth.LoadRegistry(p)
	if err != nil || smuggled.Demo() {
		t.Fatalf("%v", err)
	}
	if _, err := auth.DemoRegistry(filepath.Dir(p)); err == nil {
		t.Fatal("DemoRegistry accepted a client not marked demo")
	}
	tests := []struct {
		env     string
		reg     *auth.Registry
		refused bool
	}{
		{"production", demo, true},
		{"PRODUCTION", demo, true},
		{"prod", demo, true},
		{"staging", demo, true},
		{" production ", demo, true},
		{"production", smuggled, true},
		{"production", example, false},
		{"", demo, false},
		{"development", demo, false},
		{"test", demo, false},
		{"demo", demo, false},
	}
	for _, tc := range tests {
		t.Run(tc.env, func(t *testing.T) {
			if err := auth.RefuseDemoInProduction(tc.env, tc.reg); (err != nil) != tc.refused {
				t.Fatalf("refused %v: %v", tc.refused, err)
			}
		})
	}
	t.Run("signing keys", func(t *testing.T) {
		ks, err := auth.LoadKeySet(filepath.Join(demoDir, "signing"))
		if err != nil {
			t.Fatal(err)
		}
		if auth.RefuseDemoKeysInProduction("production", ks) == nil {
			t.Fatal("production accepted the demo signing key")
		}
		if err := auth.RefuseDemoKeysInProduction("development", ks); err != nil {
			t.Fatal(err)
		}
		fresh, _ := auth.GenerateKeySet()
		if err := auth.RefuseDemoKeysInProduction("production", fresh); err != nil {
			t.Fatal(err)
		}
	})
}
