package gateway_test

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"testing"
)

// The write-path benchmarks: a create that maps into the discharge model
// (an Encounter, against its stored subject Patient) and the walk-through
// transaction Bundle (a conditional Patient, an Encounter and a
// ServiceRequest referring to it by urn:uuid). Compare each with
// BenchmarkBaselineEchoDecode of the same run.

func BenchmarkCreateEncounter(b *testing.B) {
	h := benchGateway(b)
	rec := serve(b, h, "POST", "/fhir/Patient", benchBody(b), http.StatusCreated)
	var pat map[string]any
	_ = json.Unmarshal(rec.Body.Bytes(), &pat)
	body, _ := json.Marshal(map[string]any{
		"resourceType": "Encounter",
		"status":       "in-progress",
		"class":        map[string]any{"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "IMP"},
		"subject":      map[string]any{"reference": "Patient/" + pat["id"].(string)},
		"period":       map[string]any{"start": "2026-11-10T09:30:00Z"},
	})
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		serve(b, h, "POST", "/fhir/Encounter", body, http.StatusCreated)
	}
}

func BenchmarkTransactionBundle(b *testing.B) {
	h := benchGateway(b)
	body, err := os.ReadFile(filepath.Join("testdata", "bundle.json"))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		serve(b, h, "POST", "/fhir", body, http.StatusOK)
	}
}
