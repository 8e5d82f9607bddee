package placement_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dischargegateway/gateway/auth"
	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/fhir"
	"github.com/dischargegateway/gateway/mappings"
	"github.com/dischargegateway/gateway/placement"
)

// Hand-written fakes: every read answers from memory; nothing is near.
type fakeCapacity struct{ near int }

func (f *fakeCapacity) Near(context.Context, []string, []discharge.BedType, float64, float64, float64, int) ([]placement.Nearby, error) {
	f.near++
	return nil, nil
}
func (*fakeCapacity) NearLocations(context.Context, []string, float64, float64, float64, int) ([]discharge.Nearby, error) {
	return nil, nil
}
func (*fakeCapacity) Covering(context.Context, string) ([]string, error) { return nil, nil }
func (*fakeCapacity) Versions(_ context.Context, ids ...string) ([]int64, error) {
	return make([]int64, len(ids)), nil
}
func (*fakeCapacity) Get(context.Context, ...string) (map[string]discharge.Capacity, error) {
	return map[string]discharge.Capacity{}, nil
}

type fakeDirectory struct{}

func (fakeDirectory) ReadMany(context.Context, string, []fhir.Ref) (map[string]fhir.Resource, error) {
	return map[string]fhir.Resource{}, nil
}
func (fakeDirectory) Search(context.Context, string, fhir.Query) ([]fhir.Resource, int, error) {
	return nil, 0, nil
}
func (fakeDirectory) Generation(context.Context, string) (int64, error) { return 1, nil }

type fakeGeo struct{}

func (fakeGeo) Locate(string) (discharge.Position, bool) {
	return discharge.Position{Lat: 53.45, Lon: -2.22}, true
}
func (fakeGeo) AreasNear(float64, float64, float64) []string { return nil }

// fakeRecords holds one organisation's records by reference.
type fakeRecords map[string][]byte

func (f fakeRecords) ReadServiceRequest(_ context.Context, _ *auth.Principal, id string) ([]byte, string, error) {
	if b, ok := f["ServiceRequest/"+id]; ok {
		return b, "RXA", nil
	}
	return nil, "", discharge.KindOf(discharge.KindNotFound)
}
func (f fakeRecords) ReadReference(_ context.Context, _ string, ref string) ([]byte, error) {
	return f[ref], nil
}

// walkthroughRecords returns the walkthrough's Patient, Encounter and
// ServiceRequest as stored resources referring to each other, the
// Encounter changed by edit.
func walkthroughRecords(t *testing.T, edit func(enc map[string]any)) fakeRecords {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "mappings", "testdata", "walkthrough-bundle.json"))
	if err != nil {
		t.Fatal(err)
	}
	var b struct {
		Entry []struct {
			Resource map[string]any `json:"resource"`
		} `json:"entry"`
	}
	if err := json.Unmarshal(raw, &b); err != nil {
		t.Fatal(err)
	}
	out := fakeRecords{}
	for _, e := range b.Entry {
		r := e.Resource
		typ := r["resourceType"].(string)
		r["id"] = strings.ToLower(typ[:1]) + "1"
		if typ != "Patient" {
			r["subject"] = map[string]any{"reference": "Patient/p1"}
		}
		switch typ {
		case "ServiceRequest":
			r["encounter"] = map[string]any{"reference": "Encounter/e1"}
		case "Encounter":
			edit(r)
		}
		out[typ+"/"+r["id"].(string)], _ = json.Marshal(r)
	}
	return out
}

// TestOptionsEncounter: the stored request's Encounter shapes the answer.
// One that no longer maps (a code no ConceptMap knows any more) is a
// warning at its element in the answer, never silently ignored; one that
// has ended refuses the placement.
func TestOptionsEncounter(t *testing.T) {
	tr, err := mappings.LoadTranslator(os.DirFS(filepath.Join("..", "configs", "conceptmaps")))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 16, 10, 0, 0, 0, time.UTC)
	cases := []struct {
		name     string
		edit     func(enc map[string]any)
		wantCode discharge.Kind // 0: an answer
		wantAt   string         // the expression of the error, or of a warning the answer must hold
	}{
		{"maps", func(map[string]any) {}, 0, ""},
		{"unmappable pathway is a warning", func(enc map[string]any) {
			for _, x := range enc["extension"].([]any) {
				if m := x.(map[string]any); m["url"] == mappings.PathwayExtensionURL {
					m["valueCodeableConcept"] = map[string]any{"coding": []any{map[string]any{"system": "https://trust.example/unknown", "code": "zz"}}}
				}
			}
		}, 0, "Encounter.extension[2].valueCodeableConcept"},
		{"finished encounter is refused", func(enc map[string]any) { enc["status"] = "finished" }, discharge.KindBusinessRule, "Encounter.status"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			capacity := &fakeCapacity{}
			svc := placement.New(placement.Config{Freshness: discharge.DefaultFreshness,
				Weights: discharge.DefaultWeights, Translator: tr, Now: func() time.Time { return now }},
				capacity, fakeDirectory{}, fakeGeo{}, walkthroughRecords(t, c.edit))
			a, err := svc.Options(context.Background(), placement.Request{Principal: &auth.Principal{Org: "RXA", Role: auth.RoleTrust},
				ServiceRequestID: "s1"})
			if c.wantCode != 0 {
				var de *discharge.Error
				if discharge.ErrorKind(err) != c.wantCode || !asError(err, &de) || de.Issues[0].Expression != c.wantAt {
					t.Fatalf("got %v, want %v at %s", err, c.wantCode, c.wantAt)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if capacity.near != 1 {
				t.Fatalf("the geo index was searched %d times", capacity.near)
			}
			var at []string
			for _, w := range a.Warnings {
				if strings.HasPrefix(w.Expression, "Encounter") {
					at = append(at, w.Expression)
				}
			}
			if want := []string{c.wantAt}; c.wantAt == "" && len(at) > 0 || c.wantAt != "" && strings.Join(at, ",") != strings.Join(want, ",") {
				t.Fatalf("Encounter warnings at %v, want %q", at, c.wantAt)
			}
		})
	}
}

func asError(err error, de **discharge.Error) bool {
	var e *discharge.Error
	ok := err != nil && errors.As(err, &e)
	*de = e
	return ok
}
