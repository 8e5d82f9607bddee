package fhir_test

import (
	"bytes"
	"encoding/json"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/dischargegateway/gateway/fhir"
)

// stdString is what encoding/json writes for s: json.Marshal escapes
// HTML, an Encoder with SetEscapeHTML(false) does not.
func stdString(t testing.TB, s string, escapeHTML bool) string {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(escapeHTML)
	if err := enc.Encode(s); err != nil {
		t.Fatal(err)
	}
	return string(bytes.TrimSuffix(buf.Bytes(), []byte("\n")))
}

var trickyStrings = []string{
	"", "plain", `quote " and back\slash`, "<tag> & </tag>", "\b\f\n\r\t", "\x00\x01\x1f\x7f",
	"line\u2028para\u2029", "café ✓ 𝄞", "bad \xff utf8 \xc3", "\xed\xa0\x80 surrogate", "trailing \xe2\x80",
	"https://example.org/fhir/HealthcareService/a?b=1&c=2",
}

func TestAppendStringMatchesEncodingJSON(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	inputs := append([]string(nil), trickyStrings...)
	for range 2000 {
		b := make([]byte, r.IntN(24))
		for i := range b {
			// Bytes from every class: controls, ASCII, HTML, high bytes.
			b[i] = byte(r.IntN(256))
		}
		inputs = append(inputs, string(b))
	}
	for _, s := range inputs {
		for _, html := range []bool{true, false} {
			got := string(fhir.AppendString([]byte("x"), s, html))
			if want := "x" + stdString(t, s, html); got != want {
				t.Fatalf("AppendString(%q, html=%v) = %s, encoding/json writes %s", s, html, got, want)
			}
		}
	}
}

func TestAppendFloatMatchesEncodingJSON(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	inputs := []float64{0, math.Copysign(0, -1), 1, -1, 0.1, 1e-6, 9.99999e-7, 1e-7, 1e20, 1e21, 123456789012345678901234.0,
		math.SmallestNonzeroFloat64, math.MaxFloat64, 1234.5678, 0.0001, 5e-324, 2.5e-8, 12.34, 100}
	for range 5000 {
		f := math.Float64frombits(r.Uint64())
		if math.IsNaN(f) || math.IsInf(f, 0) {
			continue
		}
		inputs = append(inputs, f, float64(r.IntN(1_000_000))/10_000)
	}
	for _, f := range inputs {
		want, err := json.Marshal(f)
		if err != nil {
			t.Fatal(err)
		}
		if got := fhir.AppendFloat(nil, f); string(got) != string(want) {
			t.Fatalf("AppendFloat(%v) = %s, encoding/json writes %s", f, got, want)
		}
	}
	for _, f := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
		if got := string(fhir.AppendFloat(nil, f)); got != "0" {
			t.Fatalf("AppendFloat(%v) = %s, want 0 (still JSON)", f, got)
		}
	}
}

func FuzzAppendString(f *testing.F) {
	for _, s := range trickyStrings {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, html := range []bool{true, false} {
			got := fhir.AppendString(nil, s, html)
			if want := stdString(t, s, html); string(got) != want {
				t.Fatalf("AppendString(%q, html=%v) = %s, encoding/json writes %s", s, html, got, want)
			}
		}
	})
}

// LocationDistance writes what json.Marshal wrote for it as a map.
func TestLocationDistanceMatchesEncodingJSON(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for range 3000 {
		km := r.Float64() * float64(r.IntN(500))
		want, err := json.Marshal(map[string]any{"url": fhir.LocationDistanceURL,
			"valueDistance": map[string]any{"value": float64(int64(km*100+0.5)) / 100, "unit": "km", "system": "http://unitsofmeasure.org", "code": "km"}})
		if err != nil {
			t.Fatal(err)
		}
		if got := fhir.LocationDistance(km); string(got) != string(want) {
			t.Fatalf("LocationDistance(%v) = %s, want %s", km, got, want)
		}
	}
}
