package mappings_test

import (
	"bytes"
	"encoding/json"
	"math"
	"reflect"
	"testing"

	"github.com/dischargegateway/gateway/discharge"
	"github.com/dischargegateway/gateway/mappings"
)

func decodeNumbers(t *testing.T, s string) map[string]any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader([]byte(s)))
	dec.UseNumber()
	var doc map[string]any
	if err := dec.Decode(&doc); err != nil {
		t.Fatal(err)
	}
	return doc
}

func TestLocationPlace(t *testing.T) {
	for _, tc := range []struct {
		name     string
		doc      map[string]any
		pos      *discharge.Position
		postcode string
	}{
		{"position and postcode", decodeNumbers(t, `{"address":{"postalCode":"M14 4AB"},"position":{"latitude":53.44,"longitude":-2.22}}`),
			&discharge.Position{Lat: 53.44, Lon: -2.22}, "M14 4AB"},
		{"float64 numbers", map[string]any{"position": map[string]any{"latitude": 51.5, "longitude": -0.1}},
			&discharge.Position{Lat: 51.5, Lon: -0.1}, ""},
		{"postcode only", decodeNumbers(t, `{"address":{"postalCode":"M14 4AB"}}`), nil, "M14 4AB"},
		{"half a position", decodeNumbers(t, `{"position":{"latitude":53.44}}`), nil, ""},
		{"position as text", decodeNumbers(t, `{"position":{"latitude":"53.44","longitude":"-2.2"}}`), nil, ""},
		{"NaN position", map[string]any{"position": map[string]any{"latitude": math.NaN(), "longitude": 1.0}}, nil, ""},
		{"address not an object", decodeNumbers(t, `{"address":"M14 4AB"}`), nil, ""},
		{"empty", map[string]any{}, nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pos, pc := mappings.LocationPlace(tc.doc)
			if !reflect.DeepEqual(pos, tc.pos) || pc != tc.postcode {
				t.Fatalf("got %v %q, want %v %q", pos, pc, tc.pos, tc.postcode)
			}
		})
	}
}

func TestDirectoryReferences(t *testing.T) {
	loc := decodeNumbers(t, `{"managingOrganization":{"reference":"Organization/o1"}}`)
	if ref, ok := mappings.LocationManagingOrganization(loc); !ok || ref != "Organization/o1" {
		t.Fatalf("managingOrganization: %q %v", ref, ok)
	}
	if _, ok := mappings.LocationManagingOrganization(decodeNumbers(t, `{"managingOrganization":{"display":"x"}}`)); ok {
		t.Fatal("a Reference without reference read as present")
	}
	svc := decodeNumbers(t, `{"providedBy":{"reference":"Organization/o1"},"location":[{"reference":"Location/l1"},{"display":"x"},"Location/l3"]}`)
	if ref, ok := mappings.HealthcareServiceProvidedBy(svc); !ok || ref != "Organization/o1" {
		t.Fatalf("providedBy: %q %v", ref, ok)
	}
	if got, want := mappings.HealthcareServiceLocations(svc), []string{"Location/l1", "", ""}; !reflect.DeepEqual(got, want) {
		t.Fatalf("locations: %q, want %q", got, want)
	}
	org := decodeNumbers(t, `{"identifier":[{"system":"s","value":"other"},{"system":"s","value":"v"}]}`)
	for _, tc := range []struct {
		system, value string
		want          bool
	}{{"s", "v", true}, {"s", "x", false}, {"t", "v", false}} {
		if got := mappings.HasIdentifier(org, tc.system, tc.value); got != tc.want {
			t.Errorf("HasIdentifier(%s|%s) = %v", tc.system, tc.value, got)
		}
	}
}
