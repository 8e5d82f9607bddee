package auth

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
)

// demoThumbprints are the RFC 7638 thumbprints of every key whose private
// half is committed under configs/demo (keys/ and signing/). Those keys are
// public knowledge, so production refuses them wherever they appear, even
// in a registry not marked demo. TestDemoThumbprints keeps this list equal
// to the files.
var demoThumbprints = []string{
	"gsOKGXOJkmylRBnfiFDSjgsFS3ZO5cVJbzxdFl8cIIA", // DEMO-ONLY-demo-admin.pem
	"rX1daf1o3ZFwLhdoK-qDwlZ_G6i1am4aJ9TCWQOJqzE", // DEMO-ONLY-demo-commissioner.pem
	"TScnoyzJ4eAvpJjKhNLxu5O7miFbHMOdMczQTXiSSok", // DEMO-ONLY-demo-care-home-1.pem
	"hAnwTMUVY0ildoTXf5nH9oVA7ad1w9cokI_Qm0dlJc8", // DEMO-ONLY-demo-care-home-2.pem
	"T-vy1VNTLSBKU2m8ZCDczdzIjVy1-ZmLw201OjuUDwk", // DEMO-ONLY-demo-hub.pem
	"rSYYSwoXcMce8vEUiwl9OG9CGcKL91RTo66bvlnfNjo", // DEMO-ONLY-demo-trust-rxa.pem
	"h-FWOeRKNCStOXRRZGqZ4Y57arDIdZhnDAOe76uNVmQ", // DEMO-ONLY-demo-trust-rxb.pem
	"zIxEbnvoVZeX-HwEqMTEko8q3OBKtfXv5dJfxOoeD1A", // signing/DEMO-ONLY-gateway-signing-2026-11-24.pem
}

// DemoRegistry loads the demo client registry in dir (configs/demo): its
// clients.json, in which every client must be marked demo, so a real client
// pasted into the demo file cannot slip past RefuseDemoInProduction.
func DemoRegistry(dir string) (*Registry, error) {
	reg, err := LoadRegistry(filepath.Join(dir, "clients.json"))
	if err != nil {
		return nil, err
	}
	for _, c := range reg.clients {
		if !c.Demo {
			return nil, fmt.Errorf("demo registry %s: client %q is not marked \"demo\": true", dir, c.ID)
		}
	}
	return reg, nil
}

// demoEnvs are the GATEWAY_ENV values in which demo clients and keys may be
// used. Anything else, including "staging" and a misspelt "prod", counts as
// production: the failure mode of a typo is refusing to start, not serving
// real data to holders of the published demo keys.
var demoEnvs = []string{"", "dev", "development", "local", "test", "demo"}

// IsProduction reports whether env (GATEWAY_ENV) is anything but one of the
// development names "", dev, development, local, test and demo (any case).
func IsProduction(env string) bool {
	return !slices.Contains(demoEnvs, strings.ToLower(strings.TrimSpace(env)))
}

// RefuseDemoInProduction returns an error when env is production
// (IsProduction) and reg has a client marked demo or any client registered
// with one of the committed demo keys. Call it at start-up, before serving.
func RefuseDemoInProduction(env string, reg *Registry) error {
	if !IsProduction(env) || reg == nil {
		return nil
	}
	for _, c := range reg.clients {
		if c.Demo {
			return fmt.Errorf("GATEWAY_ENV=%s refuses demo client %q: load a real client registry", env, c.ID)
		}
		for _, k := range c.Keys {
			if slices.Contains(demoThumbprints, k.Thumbprint) {
				return fmt.Errorf("GATEWAY_ENV=%s refuses client %q: it is registered with a published DEMO-ONLY key", env, c.ID)
			}
		}
	}
	return nil
}

// RefuseDemoKeysInProduction returns an error when env is production
// (IsProduction) and ks holds the committed demo signing key, whose private
// half anyone can read: tokens signed with it could be forged.
func RefuseDemoKeysInProduction(env string, ks *KeySet) error {
	if !IsProduction(env) || ks == nil {
		return nil
	}
	for _, k := range ks.keys {
		if slices.Contains(demoThumbprints, k.kid) {
			return fmt.Errorf("GATEWAY_ENV=%s refuses the DEMO-ONLY signing key %s: set GATEWAY_SIGNING_KEYS_DIR to real keys", env, k.kid)
		}
	}
	return nil
}
