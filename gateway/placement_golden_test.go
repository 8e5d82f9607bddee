package gateway_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/dischargegateway/gateway/auth"
	"github.com/dischargegateway/gateway/fhir"
)

var updateGolden = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// normalise replaces what differs between runs (the test server's address,
// generated ids, timestamps) with fixed tokens, and indents the JSON so a
// failing diff is readable.
func normalise(t *testing.T, body []byte, base string, ids map[string]string) []byte {
	t.Helper()
	s := strings.ReplaceAll(string(body), base, "https://gateway.example")
	for id, token := range ids {
		s = strings.ReplaceAll(s, id, token)
	}
	s = regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)`).ReplaceAllString(s, "TIMESTAMP")
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("normalised body is not JSON: %v\n%s", err, s)
	}
	out, _ := json.MarshalIndent(v, "", "  ")
	return append(out, '\n')
}

// TestPlacementGolden pins the whole answer for the fixture directory: the
// ranking, every score component, the extensions, the includes and the
// outcome. A change to any of them shows up as a diff to review; rewrite
// with `go test ./gateway -run PlacementGolden -update` once it is intended.
func TestPlacementGolden(t *testing.T) {
	// A frozen clock: scores depend on the age of each posting.
	frozen := time.Now().UTC().Truncate(time.Second)
	e := newEnv(t).replica(t, func() time.Time { return frozen })
	home := e.tokenFor("home-1", auth.RoleCareProvider, "1-000000001", directoryScopes)
	e.do("POST", "/api/v1/directory/import", placementCSV, "Authorization", "Bearer "+home, "Content-Type", "text/csv").mustStatus(t, 200)
	asOf := frozen.Add(-90 * time.Minute)
	for loc, accepting := range map[string]int{"1-100000001": 2, "1-100000002": 1, "1-100000003": 3, "1-100000004": 3, "1-100000005": 3} {
		body := map[string]any{"asOf": asOf.Format(time.RFC3339), "beds": []any{map[string]any{
			"type": "nursing-dementia", "maxCapacity": 30, "occupied": 30 - accepting, "reserved": 0, "acceptingAdmissions": accepting}}}
		e.do("PUT", "/api/v1/capacity/cqc-"+loc, body, "Authorization", "Bearer "+home, "Content-Type", "application/json").mustStatus(t, 200)
	}
	r := e.do("POST", "/fhir", walkthrough(t)).mustStatus(t, http.StatusOK)
	ids := map[string]string{}
	var sr string
	for _, en := range r.json["entry"].([]any) {
		loc := str(en, "response", "location")
		typ, rest, _ := strings.Cut(loc, "/")
		id, _, _ := strings.Cut(rest, "/")
		ids[id] = strings.ToUpper(typ) + "-ID"
		if typ == "ServiceRequest" {
			sr = typ + "/" + id
		}
	}
	cases := []struct{ name, path string }{
		{"placement-explain", "/fhir/" + sr + "/$placement-options?explain=true"},
		{"placement-default", "/fhir/" + sr + "/$placement-options"},
		{"placement-one-wide", "/fhir/" + sr + "/$placement-options?radius=200&includeStale=true&_count=1"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := e.do("GET", c.path, nil).mustStatus(t, http.StatusOK)
			if _, err := fhir.Validate(b.body, "Bundle", fhir.DefaultLimits); err != nil {
				t.Fatalf("not valid R4: %v", err)
			}
			got := normalise(t, b.body, e.srv.URL+"/fhir", ids)
			file := filepath.Join("testdata", "golden", c.name+".json")
			if *updateGolden {
				if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(file, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(file)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("%s differs from the golden file; if intended, rerun with -update.\n--- got\n%s", file, got)
			}
		})
	}
}
