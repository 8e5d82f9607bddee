package fhir_test

import (
	"testing"
	"time"

	"github.com/dischargegateway/gateway/fhir"
)

func TestStampKeepsTheRestOfMeta(t *testing.T) {
	doc := map[string]any{"resourceType": "Patient", "id": "sent", "meta": map[string]any{"versionId": "9", "profile": []any{"p"}}}
	fhir.Stamp(doc, "p1", 3, time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	meta := doc["meta"].(map[string]any)
	if doc["id"] != "p1" || meta["versionId"] != "3" || meta["lastUpdated"] != "2026-01-02T03:04:05Z" || meta["profile"] == nil {
		t.Fatalf("%v", doc)
	}
}

func TestEntryRequestsOfAnyBundle(t *testing.T) {
	for _, tc := range []struct {
		name string
		doc  map[string]any
		want []fhir.EntryRequest
	}{
		{"no entries", map[string]any{"type": "batch"}, []fhir.EntryRequest{}},
		{"entry without request", map[string]any{"entry": []any{map[string]any{}}}, []fhir.EntryRequest{{}}},
		{"entry not an object", map[string]any{"entry": []any{"x"}}, []fhir.EntryRequest{{}}},
		{"method and url", map[string]any{"entry": []any{map[string]any{"request": map[string]any{"method": "PUT", "url": "Patient/1"}}}},
			[]fhir.EntryRequest{{Method: "PUT", URL: "Patient/1"}}},
		{"wrong shapes", map[string]any{"entry": []any{map[string]any{"request": map[string]any{"method": 1, "url": []any{}}}}}, []fhir.EntryRequest{{}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := fhir.EntryRequests(tc.doc)
			if len(got) != len(tc.want) {
				t.Fatalf("%v", got)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Fatalf("%v, want %v", got, tc.want)
				}
			}
			if fhir.BundleEntryCount(tc.doc) != len(tc.want) {
				t.Fatalf("count %d", fhir.BundleEntryCount(tc.doc))
			}
		})
	}
}
