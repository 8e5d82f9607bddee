package gateway_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/dischargegateway/gateway/fhir"
	"github.com/dischargegateway/gateway/mappings"
)

// The BaRS benchmarks put $process-message beside its same-run baseline:
// the transaction the message becomes, POSTed to /fhir (the REST intake of
// the same Patient, Encounter and ServiceRequest with the same conditional
// creates). The ratio is what messaging adds: validating the whole message
// (every entry, 19 in the fixture), mapping it, the response message and
// its row in processed_messages. Each iteration is a new message (a new
// MessageHeader id and Encounter identifier); the Patient is matched by
// its NHS number after the first, in both.

// barsBench is the referral fixture with placeholders for the message id
// and the Encounter identifier, and the transaction it maps to.
func barsBench(b *testing.B) (message, transaction []byte) {
	raw, err := os.ReadFile(filepath.Join("testdata", "bars", "discharge-referral.json"))
	if err != nil {
		b.Fatal(err)
	}
	var m map[string]any
	_ = json.Unmarshal(raw, &m)
	entries := m["entry"].([]any)
	entries[0].(map[string]any)["resource"].(map[string]any)["id"] = "msg-ITERATION"
	entries[3].(map[string]any)["resource"].(map[string]any)["identifier"].([]any)[0].(map[string]any)["value"] = "enc-ITERATION"
	message, _ = json.Marshal(m)
	bm, err := mappings.BaRSMessageIn(message, fhir.DefaultLimits)
	if err != nil {
		b.Fatal(err)
	}
	return message, bm.Transaction
}

func iteration(body []byte, i int) []byte {
	return bytes.ReplaceAll(body, []byte("ITERATION"), []byte(strconv.Itoa(i)))
}

// BenchmarkBaRSBaselineTransaction is the baseline: the same resources as
// a transaction Bundle at POST /fhir.
func BenchmarkBaRSBaselineTransaction(b *testing.B) {
	h := benchGateway(b)
	_, tx := barsBench(b)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		serve(b, h, "POST", "/fhir", iteration(tx, i), http.StatusOK)
	}
}

// BenchmarkBaRSProcessMessage is a new referral message each iteration.
func BenchmarkBaRSProcessMessage(b *testing.B) {
	h := benchGateway(b)
	msg, _ := barsBench(b)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		serve(b, h, "POST", "/fhir/$process-message", iteration(msg, i), http.StatusOK)
	}
}

// BenchmarkBaRSProcessMessageResent is the same message again: validated,
// then answered from processed_messages, nothing written.
func BenchmarkBaRSProcessMessageResent(b *testing.B) {
	h := benchGateway(b)
	msg, _ := barsBench(b)
	one := iteration(msg, 0)
	serve(b, h, "POST", "/fhir/$process-message", one, http.StatusOK)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		serve(b, h, "POST", "/fhir/$process-message", one, http.StatusOK)
	}
}
